"""``consentkit doctor``: check the system libraries and fonts PDFs need."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings

import click

#: Debian/Ubuntu packages: Pango for WeasyPrint (its install docs), fonts covering
#: Latin, Greek and Cyrillic for consent texts in every supported language.
APT_PACKAGES = ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fontconfig")
FONT_PACKAGES = ("fonts-dejavu-core",)
#: fontconfig language tags a PDF must be able to render (Latin, Greek, Cyrillic, Arabic, Hebrew).
REQUIRED_FONT_LANGS = ("en", "el", "ru", "bg", "lt", "pl", "ar", "he")


def _weasyprint_problem() -> str | None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            import weasyprint  # noqa: F401
        except OSError as exc:  # missing Pango shows up as a failed dlopen
            return str(exc).splitlines()[0]
    # WeasyPrint warns (rather than fails) when HarfBuzz-Subset is missing; PDFs
    # then embed whole fonts, and future versions will refuse to start.
    for warning in caught:
        if "HarfBuzz" in str(warning.message):
            return str(warning.message)
    return None


def _missing_font_langs() -> list[str] | None:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    missing = []
    for lang in REQUIRED_FONT_LANGS:
        found = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [fc_list, f":lang={lang}", "family"], capture_output=True, text=True, check=False
        )
        if not found.stdout.strip():
            missing.append(lang)
    return missing


def problems() -> tuple[list[str], list[str]]:
    """Return (problems, apt packages that fix them)."""
    found: list[str] = []
    packages: list[str] = []
    pango = _weasyprint_problem()
    if pango:
        found.append(f"WeasyPrint is missing system libraries: {pango}")
        packages.extend(APT_PACKAGES)
    fonts = _missing_font_langs()
    if fonts is None:
        found.append("fontconfig (fc-list) is not installed")
        packages.extend(("fontconfig", *FONT_PACKAGES))
    elif fonts:
        found.append(f"no installed font covers: {', '.join(fonts)}")
        packages.extend(FONT_PACKAGES)
    return found, sorted(set(packages))


@click.command("doctor")
def doctor() -> None:
    """Check that this machine can render PDFs (Pango, fonts).

    When something is missing it prints the apt-get line that fixes it and
    exits with status 1.
    """
    found, packages = problems()
    if not found:
        click.echo(
            "System check: Pango and fonts for Latin, Greek, Cyrillic, Arabic and Hebrew "
            "are installed."
        )
        return
    for problem in found:
        click.echo(f"System check failed: {problem}", err=True)
    click.echo(
        f"Install them with:\n\n    sudo apt-get install -y {' '.join(packages)}\n", err=True
    )
    sys.exit(1)
