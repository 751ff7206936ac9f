"""The participation gate: who must have agreed before a child takes part, on the day asked.

No database: events are the plain dicts of the audit trail, the requirements the real rule
pack's decision (:func:`consentkit.policy.jurisdiction.decide_requirements`). Expectations
are written from the law (docs/regulatory-basis.md, each test citing its anchor, e.g.
#ctr-art-32), not from the code.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from consentkit.enums import TrialType
from consentkit.policy.jurisdiction import Requirements, decide_requirements
from consentkit.policy.records import participant_records, participation_profile

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=10)
ASKED = LATER.date()
MUM, DAD, CHILD, DOC = "guardian-a", "guardian-b", "child", "investigator-1"
PARENTS = ((MUM, "guardian"), (DAD, "guardian"), (DOC, "investigator"))
MINOR = ((CHILD, "participant"), (DOC, "investigator"))
ITEM = [{"id": "participation", "code": "participation", "required": True}]


def born_aged(age: int, *, on: date = ASKED) -> date:
    """A birth date giving ``age`` on ``on`` (a few months past the birthday)."""
    return date(on.year - age, 1, 15) if on.month > 1 else date(on.year - age - 1, 11, 15)


def rules(country: str, age: int) -> Requirements:
    return decide_requirements(
        birth_date=born_aged(age),
        country=country,
        on=ASKED,
        trial_type=TrialType.MEDICINAL_PRODUCT,
    )


class Chain:
    """A participant's events, with consecutive seqs."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(self, type: str, payload: dict[str, Any], record_id: str | None = None) -> None:
        seq = len(self.events) + 1
        at = T0 + timedelta(minutes=seq)
        self.events.append(
            {"seq": seq, "type": type, "at": at, "record_id": record_id, "payload": payload}
        )

    def open(self, record_id: str, kind: str, signers: Sequence[tuple[str, str]]) -> None:
        payload = {
            "record_id": record_id,
            "form_id": kind,
            "form_kind": kind,
            "version": 1,
            "locale": "en",
            "content_sha256": {"en": "0" * 64},
            "section_ids": ["why"],
            # The declaration is the interviewer's signature only: no consent items.
            "items": [] if kind == "investigator-declaration" else ITEM,
            "question_ids": [],
            "comprehension": None,
            "required_signers": [{"signer_id": s, "role": r} for s, r in signers],
            "reflection_hours": 0,
            "window_days": 30,
            "requirements": {},
        }
        self.add("record.opened", payload, record_id)

    def consent(
        self,
        kind: str,
        signers: Sequence[tuple[str, str]] = PARENTS,
        record_id: str | None = None,
    ) -> str:
        """Open a record of ``kind``; everyone reads, says yes and signs."""
        record_id = record_id or f"r{len(self.events) + 1}"
        self.open(record_id, kind, signers)
        for signer, role in signers:
            if role != "investigator":
                view = {"signer_id": signer, "locale": "en", "sections": [{"id": "why"}]}
                self.add("information.viewed", view, record_id)
                choices = {"signer_id": signer, "choices": {"participation": True}}
                self.add("items.chosen", choices, record_id)
            self.add("signature.added", {"signer_id": signer, "role": role}, record_id)
        return record_id

    def dissent(self, record_id: str | None = None) -> int:
        payload = {"signer_id": CHILD, "expressed_by": CHILD, "channel": "app", "note": None}
        self.add("assent.dissent", payload, record_id)
        return int(self.events[-1]["seq"])

    def review(self, decision: str, *dissents: int) -> None:
        payload = {"dissent_seqs": list(dissents), "decision": decision, "reason": "heard"}
        self.add("dissent.reviewed", payload)

    def gate(self, requirements: Requirements) -> tuple[bool, list[str]]:
        profile = participation_profile(self.events, at=LATER, requirements=requirements)
        return profile.participating, list(profile.blocked_by)


# ---------------------------------------------------------------- required consents


def test_gate_nl_13_parents_alone_keep_the_young_person_out() -> None:
    # docs/regulatory-basis.md#country-nl NL: "12-15: minor co-signs with both parents" (V);
    # CTR-32a asks for every
    # signature the jurisdiction requires. The old gate let the parents' consent suffice.
    chain = Chain()
    chain.consent("parental-consent")

    assert chain.gate(rules("NL", 13)) == (False, ["missing:young-person-co-consent"])


def test_gate_nl_13_parents_and_the_young_persons_co_consent_let_them_take_part() -> None:
    chain = Chain()
    chain.consent("parental-consent")
    chain.consent("young-person-co-consent", MINOR)

    assert chain.gate(rules("NL", 13)) == (True, [])


def test_gate_pl_14_and_dk_16_need_the_minors_own_written_consent_too() -> None:
    # docs/regulatory-basis.md#country-pl PL ">=13: minor's own written consent in addition" (S);
    # DK "15-17: minor AND
    # parental-authority holder must both consent" (V).
    for country, age in (("PL", 14), ("DK", 16)):
        chain = Chain()
        chain.consent("parental-consent")
        assert chain.gate(rules(country, age)) == (False, ["missing:young-person-co-consent"])


def test_gate_a_co_consent_alone_is_not_the_parents_consent() -> None:
    # docs/regulatory-basis.md#ctr-art-32 CTR-32a: a trial on a minor requires the legally
    # designated representative.
    chain = Chain()
    chain.consent("young-person-co-consent", MINOR)

    assert chain.gate(rules("NL", 13)) == (False, ["missing:parental-consent"])


def test_gate_the_childs_assent_signature_is_not_a_gate() -> None:
    # docs/regulatory-basis.md#ctr-art-29 CTR-29i / 1.5 CTR-32b: the minor's assent is sought, but
    # it is agreement, not
    # consent; the parents' consent is what lets an 8-year-old in FR take part.
    chain = Chain()
    chain.consent("parental-consent")

    assert chain.gate(rules("FR", 8)) == (True, [])


def test_gate_a_consent_without_the_interviewers_signature_is_incomplete() -> None:
    # docs/regulatory-basis.md#ctr-art-29 CTR-29a: "a consent record is incomplete without the
    # interviewer's signature".
    chain = Chain()
    chain.consent("parental-consent", ((MUM, "guardian"), (DAD, "guardian")))

    assert chain.gate(rules("FR", 8)) == (False, ["missing:investigator-declaration"])


def test_gate_the_investigators_declaration_carries_the_interviewers_signature() -> None:
    chain = Chain()
    chain.consent("parental-consent", ((MUM, "guardian"), (DAD, "guardian")))
    chain.consent("investigator-declaration", ((DOC, "investigator"),))

    assert chain.gate(rules("FR", 8)) == (True, [])


def test_gate_without_any_record_says_no_consent_and_what_is_missing() -> None:
    assert Chain().gate(rules("NL", 13)) == (
        False,
        ["no-consent", "missing:parental-consent", "missing:young-person-co-consent"],
    )


# ---------------------------------------------------------------- reaching competence


def test_gate_nl_16_the_co_consent_counts_as_the_own_consent() -> None:
    # docs/regulatory-basis.md#country-nl NL: "turning 16: no action needed"
    # (reconsent_at_competence: false).
    chain = Chain()
    chain.consent("parental-consent")
    chain.consent("young-person-co-consent", MINOR)

    participating, blocked = chain.gate(rules("NL", 16))
    states = {r.form_kind: r.state.value for r in participant_records(chain.events, at=LATER)}

    assert (participating, blocked) == (True, [])
    assert states["parental-consent"] == "consented"  # nothing suspended


def test_gate_pl_18_a_co_consent_as_a_minor_is_not_the_own_consent() -> None:
    # docs/regulatory-basis.md#ctr-art-32 CTR-32f: at competence "express IC must be obtained
    # before he/she can
    # continue" (reconsent_at_competence: true for PL).
    chain = Chain()
    chain.consent("parental-consent")
    chain.consent("young-person-co-consent", MINOR)

    assert chain.gate(rules("PL", 18)) == (False, ["awaiting-own-consent"])


def test_gate_pl_18_the_own_consent_lifts_the_suspension() -> None:
    chain = Chain()
    chain.consent("parental-consent")
    chain.consent("adult-consent", MINOR)

    assert chain.gate(rules("PL", 18)) == (True, [])


def test_gate_an_own_consent_given_at_16_still_stands_at_18() -> None:
    # docs/regulatory-basis.md#country-gb-eng GB-ENG: competence 16 for CTIMPs; nothing in the law
    # asks again at 18.
    chain = Chain()
    chain.consent("young-person-consent", MINOR)

    assert chain.gate(rules("GB-ENG", 18)) == (True, [])


# ---------------------------------------------------------------- dissent


def test_gate_dissent_blocks_whatever_was_signed() -> None:
    # docs/regulatory-basis.md#ctr-art-32 CTR-32c: the minor's refusal overrides the parents'
    # consent.
    chain = Chain()
    chain.consent("parental-consent")
    chain.dissent()

    assert chain.gate(rules("FR", 8)) == (False, ["dissent"])


def test_gate_a_review_deciding_continue_lifts_the_dissent() -> None:
    # docs/regulatory-basis.md#ctr-art-32 CTR-32c: not overruled "without an audit-trailed
    # investigator note".
    chain = Chain()
    chain.consent("parental-consent")
    seq = chain.dissent()
    chain.review("continue", seq)

    assert chain.gate(rules("GB-ENG", 8)) == (True, [])


def test_gate_a_review_upholding_the_refusal_keeps_the_block() -> None:
    chain = Chain()
    chain.consent("parental-consent")
    seq = chain.dissent()
    chain.review("uphold", seq)

    assert chain.gate(rules("GB-ENG", 8)) == (False, ["dissent"])


def test_gate_a_review_does_not_lift_a_later_dissent() -> None:
    chain = Chain()
    chain.consent("parental-consent")
    first = chain.dissent()
    chain.review("continue", first)
    chain.dissent()

    assert chain.gate(rules("GB-ENG", 8)) == (False, ["dissent"])


def test_gate_the_childs_own_later_agreement_lifts_their_dissent() -> None:
    # docs/regulatory-basis.md#country-fr FR L1122-2: refusal "cannot be overridden"; only the
    # child changing their mind,
    # a new assent the child signs themselves, ends it. The parents need not sign again.
    chain = Chain()
    chain.consent("parental-consent")
    chain.dissent()
    chain.consent("child-assent", MINOR)

    assert chain.gate(rules("FR", 8)) == (True, [])


def test_gate_a_parents_later_signature_does_not_lift_the_childs_dissent() -> None:
    chain = Chain()
    chain.consent("parental-consent")
    chain.dissent()
    chain.consent("parental-consent", record_id="again")

    assert chain.gate(rules("FR", 8)) == (False, ["dissent"])
