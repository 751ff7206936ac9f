"""``make run`` on a database an older consentkit filled: the server starts, and says why.

Published texts never change (the import refuses), so a demo study whose texts
changed between versions cannot be imported over the old one; the development
server must still start and tell the developer how to load the new demo.
"""

from __future__ import annotations

from backend import devserver
from consentkit.models.study import FormVersion


def test_an_older_demo_in_the_database_is_kept_and_the_way_out_is_named(
    demo_study: object,
) -> None:
    published = FormVersion.objects(form_id="parental-consent", status="published").first()
    published.update(set__content_sha256={**published.content_sha256, "fr": "0" * 64})

    said = devserver._load_demo()

    assert "kept the demo study already in the database" in said
    assert "parental-consent" in said
    assert "delete" in said


def test_a_current_demo_is_imported_again_without_change(demo_study: object) -> None:
    said = devserver._load_demo()

    assert "kept" not in said
