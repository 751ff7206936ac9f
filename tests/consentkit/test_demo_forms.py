"""The demo study's form catalogue: the right form exists for every way a minor takes part.

Read from the shipped authoring folder (no database): what a family at any demo site would be
shown, checked against docs/regulatory-basis.md rather than against the code that picks forms.
"""

from __future__ import annotations

from typing import Any

from consentkit.authoring.reader import FormBundle, read_study_folder
from consentkit.services.importing import DEMO_STUDY_DIR

SITE_LANGUAGES = {"en", "fr", "de", "it", "es", "nl", "pl", "lt"}


def _form(form_id: str) -> FormBundle:
    bundle = read_study_folder(DEMO_STUDY_DIR)
    return next(f for f in bundle.forms if f.meta["id"] == form_id)


def _published(form: FormBundle) -> Any:
    return [v for v in form.versions if v.meta["status"] == "published"][-1]


def test_demo_co_consent_form_is_published_in_every_site_language() -> None:
    form = _form("young-person-co-consent")
    version = _published(form)

    assert form.meta["kind"] == "young-person-co-consent"
    assert form.meta["signer_roles"] == ["participant", "investigator"]
    assert set(version.content) == SITE_LANGUAGES


def test_demo_co_consent_form_asks_what_the_parents_are_asked() -> None:
    """The young person decides on the same items as the parents of consent version 2."""
    co_consent = _published(_form("young-person-co-consent")).content["en"]
    parental = _published(_form("parental-consent")).content["en"]

    assert [(i["code"], i["required"]) for i in co_consent["items"]] == [
        (i["code"], i["required"]) for i in parental["items"]
    ]
    questions = {q["id"] for q in co_consent["questions"]}
    assert {"both-must-agree", "hearing-test"} <= questions


def test_demo_co_consent_form_never_tells_a_minor_they_reached_the_legal_age() -> None:
    content = _published(_form("young-person-co-consent")).content["en"]
    text = " ".join(
        [content["title"], content["summary"]]
        + [s["title"] + " " + s["body"] for s in content["sections"]]
    ).lower()

    assert "we need both your yes and theirs" in text
    assert "hearing" in text
    assert "reached the age" not in text
    assert "legal age" not in text
