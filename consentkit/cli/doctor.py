"""``consentkit doctor``: check the system libraries and fonts PDFs need.

Each shared library WeasyPrint opens is loaded here by name, the way WeasyPrint
does (``weasyprint/text/ffi.py``), rather than inferred from importing WeasyPrint:
the import warns about a missing HarfBuzz-Subset only the first time, so once any
module has imported it (the test suite, a worker, an earlier command) the warning
is never seen again, while ``pytest -W error`` still fails on every fresh start.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class Library:
    """A shared library WeasyPrint needs: the names it tries, and the package that ships it."""

    name: str
    sonames: tuple[str, ...]
    #: The Debian/Ubuntu package to install (one that exists under the same name on
    #: bookworm, trixie and Ubuntu LTS; GObject comes with Pango's dependencies).
    package: str


#: What WeasyPrint opens with dlopen (weasyprint/text/ffi.py), in its order. HarfBuzz-Subset
#: is optional to WeasyPrint today (it warns, then embeds whole fonts) but required by the
#: test suite, where its DeprecationWarning is an error, and by future WeasyPrint versions.
LIBRARIES = (
    Library("GObject", ("libgobject-2.0.so.0", "libgobject-2.0.0.dylib"), "libpango-1.0-0"),
    Library("Pango", ("libpango-1.0.so.0", "libpango-1.0.dylib"), "libpango-1.0-0"),
    Library("HarfBuzz", ("libharfbuzz.so.0", "libharfbuzz.0.dylib"), "libharfbuzz0b"),
    Library(
        "HarfBuzz-Subset",
        ("libharfbuzz-subset.so.0", "libharfbuzz-subset.0.dylib"),
        "libharfbuzz-subset0",
    ),
    Library("Fontconfig", ("libfontconfig.so.1", "libfontconfig.1.dylib"), "libfontconfig1"),
    Library("PangoFT2", ("libpangoft2-1.0.so.0", "libpangoft2-1.0.dylib"), "libpangoft2-1.0-0"),
)
FONT_PACKAGES = ("fonts-dejavu-core",)
#: fontconfig language tags a PDF must be able to render (Latin, Greek, Cyrillic, Arabic, Hebrew).
REQUIRED_FONT_LANGS = ("en", "el", "ru", "bg", "lt", "pl", "ar", "he")

#: Answers whether one of these names can be loaded (a parameter, so tests can say "missing").
Probe = Callable[[Sequence[str]], bool]


def library_loads(sonames: Sequence[str]) -> bool:
    """Whether the dynamic loader opens any of ``sonames`` (as WeasyPrint's dlopen would)."""
    for soname in sonames:
        try:
            ctypes.CDLL(soname)
        except OSError:
            continue
        return True
    return False


def missing_libraries(probe: Probe | None = None) -> list[Library]:
    """Return the libraries of :data:`LIBRARIES` that cannot be loaded."""
    probe = probe or library_loads
    return [library for library in LIBRARIES if not probe(library.sonames)]


def _weasyprint_import_problem() -> str | None:
    try:
        import weasyprint  # noqa: F401
    except (OSError, ImportError) as exc:  # e.g. a Pango too old for this WeasyPrint
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
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


def problems(probe: Probe | None = None) -> tuple[list[str], list[str]]:
    """Return (problems, apt packages that fix them).

    Args:
        probe: tells whether a library loads (default :func:`library_loads`).
    """
    found: list[str] = []
    packages: list[str] = []
    missing = missing_libraries(probe)
    if missing:
        names = ", ".join(f"{lib.name} ({lib.sonames[0]})" for lib in missing)
        found.append(f"WeasyPrint is missing system libraries: {names}")
        packages.extend(lib.package for lib in missing)
    else:
        broken = _weasyprint_import_problem()
        if broken:
            found.append(f"WeasyPrint cannot start: {broken}")
            packages.extend(lib.package for lib in LIBRARIES)
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
    """Check that this machine can render PDFs (Pango, HarfBuzz-Subset, fonts).

    When something is missing it prints the apt-get line that fixes it and
    exits with status 1.
    """
    found, packages = problems()
    if not found:
        click.echo(
            "System check: Pango, HarfBuzz (with HarfBuzz-Subset) and fonts for Latin, Greek, "
            "Cyrillic, Arabic and Hebrew are installed."
        )
        return
    for problem in found:
        click.echo(f"System check failed: {problem}", err=True)
    click.echo(
        f"Install them with:\n\n    sudo apt-get install -y {' '.join(packages)}\n", err=True
    )
    sys.exit(1)
