"""The demo study's form catalogue: the right form exists for every way a minor takes part.

Read from the shipped authoring folder (no database): what a family at any demo site would be
shown, checked against docs/regulatory-basis.md rather than against the code that picks forms.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from consentkit.authoring.reader import FormBundle, read_study_folder
from consentkit.services.importing import DEMO_STUDY_DIR
from consentkit.services.requirements import forms_for

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


def test_demo_parents_are_asked_the_news_item_the_study_names_in_every_language() -> None:
    """settings.news_item names an optional item the parents' consent in force asks."""
    news_item = read_study_folder(DEMO_STUDY_DIR).study["settings"]["news_item"]
    parental = _published(_form("parental-consent"))

    asked = {
        locale: [i["required"] for i in content["items"] if i["code"] == news_item]
        for locale, content in parental.content.items()
    }
    assert asked == {locale: [False] for locale in SITE_LANGUAGES}


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


# --- every age at every demo site --------------------------------------------------------------

#: A day after every demo version in force today took effect (2025-12-01).
ON = date(2026, 6, 1)

#: The ages each demo form is written for, from its own text (title, band), not from the code
#: that picks forms: a form chosen for a participant outside its ages is the wrong text for them.
#: None: any age (the parents' information, the investigator's declaration).
WRITTEN_FOR: dict[str, tuple[int, int] | None] = {
    "parental-consent": None,
    "investigator-declaration": None,
    "assent-6-9": (6, 9),
    "assent-10-13": (10, 13),
    "assent-14-17": (14, 17),
    "young-person-co-consent-7-11": (7, 11),
    "young-person-co-consent": (12, 17),
    "young-person-consent": (16, 17),  # own consent below 18: NL and England decide alone at 16
    "adult-consent": (18, 99),
}


def _birth_date(age: int) -> date:
    """A birth date that makes the participant ``age`` on ON, away from any birthday."""
    return date(ON.year - age - 1, ON.month + 2, 15)


def _demo_sites() -> list[str]:
    return [site["code"] for site in read_study_folder(DEMO_STUDY_DIR).study["sites"]]


def test_every_form_kind_the_rules_ask_at_a_demo_site_has_a_demo_form_written_for_that_age(
    demo_study: Any,
) -> None:
    """Sites x ages 5..19: no required kind is missing, and each form chosen fits the age.

    Before: a 7- to 11-year-old in Germany was given the co-consent written for 12-17, and
    anyone of 18 or 19 lacked the adult-consent form altogether.
    """
    wrong: list[str] = []
    for site_code in _demo_sites():
        for age in range(5, 20):
            decision = forms_for(
                "DEMO-NBL-1", site_code=site_code, birth_date=_birth_date(age), on=ON
            )
            assert decision.requirements.age == age
            if decision.missing_kinds:
                wrong.append(f"{site_code} {age}: no form for {list(decision.missing_kinds)}")
            for choice in decision.chosen:
                ages = WRITTEN_FOR[choice.form_id]
                if ages is not None and not ages[0] <= age <= ages[1]:
                    wrong.append(f"{site_code} {age}: {choice.form_id} is written for {ages}")
    assert wrong == []


@pytest.mark.parametrize(
    ("site_code", "age", "form_id"),
    [
        ("DE-01", 7, "young-person-co-consent-7-11"),
        ("DE-01", 11, "young-person-co-consent-7-11"),
        ("DE-01", 12, "young-person-co-consent"),
        ("DE-01", 17, "young-person-co-consent"),
        ("NL-01", 12, "young-person-co-consent"),
        ("PL-01", 13, "young-person-co-consent"),
    ],
)
def test_a_co_signing_minor_reads_the_co_consent_written_for_their_age(
    demo_study: Any, site_code: str, age: int, form_id: str
) -> None:
    decision = forms_for("DEMO-NBL-1", site_code=site_code, birth_date=_birth_date(age), on=ON)

    co_consent = [c for c in decision.chosen if c.kind == "young-person-co-consent"]
    assert [c.form_id for c in co_consent] == [form_id]


@pytest.mark.parametrize(("site_code", "age"), [("FR-01", 18), ("NL-01", 19), ("DE-01", 18)])
def test_a_participant_of_18_or_more_is_given_the_adult_consent(
    demo_study: Any, site_code: str, age: int
) -> None:
    decision = forms_for("DEMO-NBL-1", site_code=site_code, birth_date=_birth_date(age), on=ON)

    assert decision.missing_kinds == ()
    assert "adult-consent" in decision.form_ids
    assert decision.signers_needed == {"guardian": 0, "participant": 1}


# --- what the texts say -------------------------------------------------------------------------

#: Words that tell a reader they are (or are becoming) an adult, or have reached the legal age,
#: in each site language. A minor before competence must not read them about themselves ("a
#: grown-up reads this with you", "un adulto lo leerà con te", is about someone else).
ADULTHOOD_WORDS = {
    "en": ["adult", "legal age", "legal competence"],
    "fr": ["adulte", "majeur", "majorité", "âge légal", "capacité juridique"],
    "de": ["volljährig", "erwachsen wirst", "erwachsen bist", "einwilligungsfähigkeit"],
    "it": ["maggiorenne", "maggiore età", "diventerai adult", "sei adult", "capacità legale"],
    "es": ["mayor de edad", "mayoría de edad", "seas adult", "eres adult", "capacidad legal"],
    "nl": ["volwassen wordt", "volwassen bent", "meerderjarig", "wettelijke leeftijd"],
    "pl": ["pełnolet", "staniesz się dorosł", "jesteś dorosł"],
    "lt": ["pilnamet", "suaugsi", "veiksnum"],
}

#: The kinds a minor reads before the age of competence.
MINOR_KINDS = {"child-assent", "young-person-co-consent"}


def _text(content: dict[str, Any]) -> str:
    parts = [content["title"], content.get("summary") or ""]
    for section in content["sections"]:
        parts += [section["title"], section.get("summary") or "", section["body"]]
    parts += [item["text"] for item in content["items"]]
    for question in content["questions"]:
        parts += [question["text"], question["explanation"]]
        parts += [option["text"] for option in question["options"]]
    parts.append(content["signature_meanings"].get("participant", ""))
    return " ".join(parts).lower()


def _in_force(form: FormBundle) -> Any:
    return max(
        (v for v in form.versions if v.meta["status"] == "published"),
        key=lambda v: v.meta["effective_from"],
    )


def test_no_text_in_force_for_a_minor_before_competence_calls_them_adult_or_of_legal_age() -> None:
    """Before: assent-14-17 v1 had 'When you become an adult' ('Quand tu deviendras adulte')."""
    found: list[str] = []
    for form in read_study_folder(DEMO_STUDY_DIR).forms:
        if form.meta["kind"] not in MINOR_KINDS:
            continue
        version = _in_force(form)
        for locale, content in version.content.items():
            text = _text(content)
            found += [
                f"{form.meta['id']} v{version.meta['version']} {locale}: {word!r}"
                for word in ADULTHOOD_WORDS[locale]
                if word in text
            ]
    assert found == []


NEW_VERSIONS = [
    ("young-person-co-consent-7-11", 1),
    ("adult-consent", 1),
    ("young-person-consent", 2),
    ("assent-6-9", 2),
    ("assent-10-13", 2),
    ("assent-14-17", 2),
]


@pytest.mark.parametrize(("form_id", "number"), NEW_VERSIONS)
def test_every_new_demo_version_is_published_in_every_site_language(
    form_id: str, number: int
) -> None:
    version = next(v for v in _form(form_id).versions if v.meta["version"] == number)

    assert version.meta["status"] == "published"
    assert set(version.content) == SITE_LANGUAGES


@pytest.mark.parametrize("form_id", ["assent-6-9", "assent-10-13", "assent-14-17"])
def test_assent_in_force_tells_the_child_about_the_hearing_tests(form_id: str) -> None:
    """Before: no assent text said that NBX-101 may worsen hearing loss (parental-consent v2)."""
    form = _form(form_id)
    version = _in_force(form)
    first = form.versions[0].meta

    assert version.meta["change"] == "major"
    assert version.meta["effective_from"] > first["effective_from"]
    for locale, content in version.content.items():
        assert {"ear-checks", "hearing-test"} & {q["id"] for q in content["questions"]}, locale
    english = _text(version.content["en"])
    assert "hear" in english
    assert "as part of your normal care" not in english


def test_the_young_persons_own_consent_speaks_to_someone_joining_alone_too() -> None:
    """Before: v1 began 'You joined DEMO-NBL-1 when your parents agreed': wrong at NL 16."""
    form = _form("young-person-consent")
    version = _in_force(form)
    english = version.content["en"]

    assert version.meta["version"] == 2
    assert version.meta["change"] == "minor"
    assert not english["summary"].startswith("You joined")
    assert "if you are joining the study now" in _text(english)
    assert "if you are already in the study" in _text(english)
    first = form.versions[0]
    assert [i["code"] for i in english["items"]] == [
        i["code"] for i in first.content["en"]["items"]
    ]


def test_the_adult_consent_asks_a_participant_who_joined_as_a_child_to_continue() -> None:
    form = _form("adult-consent")
    version = _published(form)
    english = _text(version.content["en"])

    assert form.meta["kind"] == "adult-consent"
    assert form.meta["signer_roles"] == ["participant", "investigator"]
    assert "you joined **demo-nbl-1** as a child" in english
    assert "you are now **18**: an adult" in english
    assert "hearing test is done before every treatment cycle" in english
