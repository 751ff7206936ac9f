"""The list of pages the accessibility walks open is complete: no template is forgotten."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.page_list import FAMILY_PAGES, STAFF_PAGES, Excluded, Visit

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "web"


@pytest.mark.parametrize(("side", "pages"), [("family", FAMILY_PAGES), ("staff", STAFF_PAGES)])
def test_page_list_names_every_template_of_the_side(
    side: str, pages: dict[str, Visit | Excluded]
) -> None:
    on_disk = {path.name for path in (TEMPLATES / side).glob("*.html")}

    assert sorted(on_disk - set(pages)) == [], "templates neither visited nor excluded"
    assert sorted(set(pages) - on_disk) == [], "listed templates that no longer exist"


@pytest.mark.parametrize(("side", "pages"), [("family", FAMILY_PAGES), ("staff", STAFF_PAGES)])
def test_page_list_excludes_only_partials_or_with_a_reason(
    side: str, pages: dict[str, Visit | Excluded]
) -> None:
    excluded = {name: how for name, how in pages.items() if isinstance(how, Excluded)}

    assert all(how.reason.strip() for how in excluded.values())
    # A page template a person opens is visited; only partials and the layout are excluded.
    assert all(name.startswith("_") or name == "layout.html" for name in excluded), excluded
