"""How a signature may be made, and whose name it carries.

The same signature can be made three ways, each recorded as what it is
(eIDAS Art 3(10) simple electronic signature; 21 CFR 11.200(a)): drawn on the
screen, typed as the full name with an explicit "I sign" act, or given in
front of staff (or an impartial witness) who attest it on their device after
re-authenticating. A form, or else the study, says which are allowed; the
default is drawn and typed (``allowed_methods``). The printed name must be the
signer's registered name, ignoring case and accents (``names_match``), so a
signature cannot carry somebody else's name by mistake; staff correct a
registered name that is wrong, as an audited event.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from consentkit.enums import FormKind, SignatureMethod
from consentkit.errors import InvalidDataError

#: What a form allows when neither it nor its study says (docs/records.md#signature-methods).
DEFAULT_METHODS: tuple[SignatureMethod, ...] = (SignatureMethod.DRAWN, SignatureMethod.TYPED)


def allowed_methods(
    form_methods: Iterable[str] | None, study_methods: Iterable[str] | None
) -> tuple[SignatureMethod, ...]:
    """Return the methods a form allows: its own list, else the study's, else the default.

    The order is the vocabulary's (drawn, typed, attested), so pages list them alike.
    """
    for chosen in (form_methods, study_methods):
        wanted = {SignatureMethod(m) for m in chosen or ()}
        if wanted:
            return tuple(m for m in SignatureMethod if m in wanted)
    return DEFAULT_METHODS


def check_method(method: str, allowed: Sequence[str]) -> None:
    """Refuse a method the form does not allow.

    Raises:
        InvalidDataError: ``signature-method-not-allowed``, naming the allowed ones.
    """
    if method not in allowed:
        raise InvalidDataError(
            "This form cannot be signed this way; it can be signed: %(allowed)s.",
            code="signature-method-not-allowed",
            params={"allowed": ", ".join(allowed)},
        )


def check_act(method: str, *, has_strokes: bool, i_sign: bool) -> None:
    """Refuse a signature whose act does not fit its method.

    A drawn signature has strokes; a typed one has none and an explicit "I sign".

    Raises:
        InvalidDataError: ``invalid-strokes`` (drawn without strokes, typed or attested
            with strokes), ``typed-signature-not-confirmed`` (typed without "I sign").
    """
    if method == SignatureMethod.DRAWN:
        return  # the strokes themselves are checked by services.signatures.validate_strokes
    if has_strokes:
        raise InvalidDataError(
            "The drawn signature is not valid: %(why)s.",
            code="invalid-strokes",
            params={"why": f"a {method} signature has no strokes"},
        )
    if method == SignatureMethod.TYPED and not i_sign:
        raise InvalidDataError(
            'Tick "I sign" to sign with your typed name.', code="typed-signature-not-confirmed"
        )


def normalise_name(name: str) -> str:
    """Return a name as compared: no accents, case folded, single spaces.

    ``"  ÉLÈNE  d'Arc"`` and ``"elene d'arc"`` compare equal; letters in other scripts
    (Greek, Cyrillic) keep their identity, only their accents and case are dropped.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def names_match(printed: str, registered: str, *, first_name: bool = False) -> bool:
    """Return True when the printed name is the registered name (case/accent-insensitive).

    With ``first_name`` (a young child writing their name in front of a parent or staff,
    policy.children) the first name alone also matches: the leading word or words of
    the registered name, never a part of a word or a later word.
    """
    typed, known = normalise_name(printed), normalise_name(registered)
    if not typed:
        return False
    return typed == known or (first_name and known.startswith(typed + " "))


def check_printed_name(printed: str, registered: str, *, first_name: bool = False) -> None:
    """Refuse a printed name that is not the signer's registered name.

    ``first_name``: the young child's turn, where the page asks for their first name.

    Raises:
        InvalidDataError: ``printed-name-mismatch``.
    """
    if not names_match(printed, registered, first_name=first_name):
        raise InvalidDataError(
            "The name you typed is not the name the study team has for you. Please type "
            "your full name as you gave it to them; if they have it wrong, ask them to "
            "correct it.",
            code="printed-name-mismatch",
        )


def reflection_applies(form_kind: str) -> bool:
    """Return whether signing this kind of form early needs a reason.

    The time to think belongs to the guardians (CTR Art 29(1)); a child's assent
    (Art 32(1)(b)) is not asked to justify signing early, nor told to wait.
    """
    return form_kind != FormKind.CHILD_ASSENT


def reflection_until(first_viewed_at: datetime | None, hours: int) -> datetime | None:
    """Return when a signer may sign without giving a reason: ``hours`` after they first read.

    The time to think (CTR Art 29(1), the study's ``minimum_reflection_hours``) runs
    from the signer's own first reading; ``None`` before they have read anything
    (the page then says how long it will be). The ceremony refuses an earlier
    signature without a reason (``reflection-time``); the sign page shows this
    time before anything is typed.
    """
    if first_viewed_at is None:
        return None
    return first_viewed_at + timedelta(hours=hours)
