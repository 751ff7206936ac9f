"""Where packaged assets live, in a source checkout and in an installed wheel.

The wheel carries ``templates/`` and ``translations/`` inside the package (as
``_templates`` and ``_translations``); a source checkout keeps them at the top
of the repository, where trial staff and translators find them.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _asset_dir(name: str) -> Path:
    packaged = PACKAGE_DIR / f"_{name}"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / name


def templates_dir() -> Path:
    """Return the Jinja templates directory."""
    return _asset_dir("templates")


def translations_dir() -> Path:
    """Return the gettext catalogs directory."""
    return _asset_dir("translations")


def data_dir() -> Path:
    """Return the directory of shipped data (rule packs, the demo study)."""
    return PACKAGE_DIR / "data"
