"""An answer names only items the form has: one refusal for the app and for paper (no db)."""

from __future__ import annotations

import pytest

from consentkit.errors import InvalidDataError
from consentkit.policy.items import refuse_unknown_items
from consentkit.services.paper import paper_choices

ITEMS = [{"id": "participation"}, {"id": "sample-storage"}]


def test_refuse_unknown_items_lists_every_unknown_item_in_order() -> None:
    with pytest.raises(InvalidDataError) as raised:
        refuse_unknown_items(["zeta", "participation", "alpha"], ["participation"])

    assert raised.value.code == "items-incomplete"
    assert raised.value.params == {"items": "alpha, zeta"}


def test_refuse_unknown_items_accepts_a_subset_of_the_form_items() -> None:
    refuse_unknown_items(["participation"], ["participation", "sample-storage"])


def test_paper_choices_refuses_an_unknown_box_with_the_app_refusal() -> None:
    with pytest.raises(InvalidDataError) as on_paper:
        paper_choices(ITEMS, ["participation", "re-contact"], ["guardian"])
    with pytest.raises(InvalidDataError) as in_app:
        refuse_unknown_items(["participation", "re-contact"], ["participation", "sample-storage"])

    assert (on_paper.value.code, on_paper.value.message, on_paper.value.params) == (
        in_app.value.code,
        in_app.value.message,
        in_app.value.params,
    )
