"""Human labels of the library's vocabularies, marked for translation.

Look them up with :func:`label`, which returns the label in the reader's
language; the keys are the stable values clients switch on.
"""

from __future__ import annotations

from consentkit.enums import (
    Channel,
    FormKind,
    GuardianExceptionCode,
    GuardianRule,
    InterviewMode,
    MinorRole,
    OtherParentAgreement,
    RecordState,
    SignatureMethod,
    SignerRole,
    VersionStatus,
    WithdrawalScope,
)
from consentkit.i18n import N_, gettext

LABELS: dict[str, dict[str, str]] = {
    "form_kind": {
        FormKind.PARENTAL_CONSENT: N_("Consent of parents or guardians"),
        FormKind.ADULT_CONSENT: N_("Consent of an adult participant"),
        FormKind.CHILD_ASSENT: N_("Assent of the child"),
        FormKind.YOUNG_PERSON_CONSENT: N_("Young person's own consent"),
        FormKind.YOUNG_PERSON_CO_CONSENT: N_("Young person's consent, signed with the parents"),
        FormKind.WITNESS_ATTESTATION: N_("Attestation of an impartial witness"),
        FormKind.INVESTIGATOR_DECLARATION: N_("Declaration of the investigator"),
    },
    "signer_role": {
        SignerRole.GUARDIAN: N_("Parent or guardian"),
        SignerRole.PARTICIPANT: N_("Participant"),
        SignerRole.WITNESS: N_("Impartial witness"),
        SignerRole.INVESTIGATOR: N_("Investigator"),
    },
    "signature_method": {
        SignatureMethod.DRAWN: N_("Drawn on the screen"),
        SignatureMethod.TYPED: N_('Typed full name, with "I sign"'),
        SignatureMethod.ATTESTED: N_("Given in front of the study team, who attested it"),
    },
    "minor_role": {
        MinorRole.INFORMED: N_("The child is informed"),
        MinorRole.ASSENT: N_("The child gives assent"),
        MinorRole.CO_SIGN: N_("The child co-signs with the parents"),
        MinorRole.OWN_CONSENT_WITH_GUARDIAN: N_(
            "The young person consents, together with the parents"
        ),
        MinorRole.OWN_CONSENT: N_("The participant consents alone"),
    },
    "guardian_rule": {
        GuardianRule.ONE: N_("One parent or guardian must consent"),
        GuardianRule.BOTH: N_("Both parents or guardians must consent"),
        GuardianRule.ONE_WITH_AGREEMENT: N_(
            "One parent consents, with the documented agreement of the other"
        ),
    },
    "guardian_exception": {
        GuardianExceptionCode.SOLE_PARENTAL_AUTHORITY: N_("Sole parental authority"),
        GuardianExceptionCode.OTHER_PARENT_DECEASED: N_("The other parent has died"),
        GuardianExceptionCode.OTHER_PARENT_UNREACHABLE: N_("The other parent is unreachable"),
        GuardianExceptionCode.OTHER_PARENT_NOT_REGISTERED: N_(
            "The other parent is not on the birth certificate"
        ),
        GuardianExceptionCode.OTHER_PARENT_MINOR: N_("The other parent is under 18"),
        GuardianExceptionCode.FR_L1122_2_II: N_("One parent alone under CSP L1122-2 II"),
        GuardianExceptionCode.ES_OTHER_PARENT_AGREEMENT: N_(
            "Documented agreement of the other parent"
        ),
    },
    "other_parent_agreement": {
        OtherParentAgreement.EXPRESS: N_("Express agreement"),
        OtherParentAgreement.TACIT: N_("Tacit agreement"),
    },
    "interview_mode": {
        InterviewMode.IN_PERSON: N_("In person"),
        InterviewMode.VIDEO: N_("By video"),
        InterviewMode.PHONE: N_("By phone"),
    },
    "version_status": {
        VersionStatus.DRAFT: N_("Draft"),
        VersionStatus.APPROVED: N_("Approved"),
        "scheduled": N_("Approved, not yet in force"),
        VersionStatus.PUBLISHED: N_("In force"),
        VersionStatus.SUPERSEDED: N_("Superseded"),
        VersionStatus.RETIRED: N_("Retired"),
    },
    "transition": {
        "age-band": N_("New age group"),
        "minor-role": N_("New role in the consent"),
        "competence-age": N_("Reaches the age to consent alone"),
    },
    # Why a family is asked to read (and sign) something again: the family's task list.
    # The ages are filled in from the task's transition (%(age)s), the version from the task.
    "task_why": {
        "reconsent": N_("A new version of the information"),
        "age-band": N_("You are now %(age)s"),
        "minor-role": N_("You are now %(age)s"),
        "competence-age": N_("You are now an adult in this study"),
        "updated-information": N_("Updated information"),
    },
    # What a record was opened for (staff pages, the record's PDF).
    "task_purpose": {
        "reconsent": N_("Re-consent to version %(version)s"),
        "age-band": N_("Assent at %(age)s"),
        # A co-signer's new band is a new co-consent (DE: 7-11, then 12-17), not an assent.
        "age-band:young-person-co-consent": N_("Consent at %(age)s"),
        "minor-role": N_("Consent at %(age)s"),
        "competence-age": N_("Own consent at the age of legal competence (%(age)s)"),
    },
    "task_status": {
        "open": N_("To open"),
        "in-progress": N_("Opened, waiting for signatures"),
        "done": N_("Done"),
    },
    "item": {
        "required": N_("Required"),
        "optional": N_("Optional"),
    },
    "record_state": {
        RecordState.AWAITING_INFORMATION: N_("Waiting for the information to be read"),
        RecordState.AWAITING_SIGNATURES: N_("Waiting for signatures"),
        RecordState.CONSENTED: N_("Consent given"),
        RecordState.DECLINED: N_("Declined"),
        RecordState.DISSENT: N_("The child said no"),
        RecordState.WITHDRAWN: N_("Withdrawn"),
        RecordState.SUPERSEDED: N_("Replaced by a newer version"),
        RecordState.EXPIRED: N_("Expired before it was completed"),
        RecordState.SUSPENDED_AWAITING_OWN_CONSENT: N_(
            "Paused until the young person gives their own consent"
        ),
    },
    # What the participation profile permits now, as the family's wallet says it.
    "agreement": {
        "treatment": N_("Taking part in the study treatment"),
        "randomisation": N_("Being put in a treatment group by chance"),
        "study_procedures": N_("Study visits, tests and questionnaires"),
        "data_collection": N_("Collecting study data"),
        "sample_collection": N_("Taking samples for research and storing them"),
        "sample_future_use": N_("Using stored samples and data in future research"),
        "genetic_analysis": N_("Research genetic tests"),
        "use_outside_protocol": N_("Using coded data outside the study plan"),
        "contact": N_("The study team may contact you"),
        "re_contact": N_("Being contacted again about new studies or findings"),
    },
    # A record's state as the family member reading it says it (ceremony.family_status).
    "family_status": {
        "your-turn": N_("Your turn"),
        "waiting": N_("You have signed. Waiting for %(people)s."),
        RecordState.CONSENTED: N_("Everyone has signed"),
        RecordState.DECLINED: N_("Not taking part: a signer said no"),
        RecordState.DISSENT: N_("The child said no"),
        RecordState.WITHDRAWN: N_("Stopped"),
        RecordState.SUPERSEDED: N_("Replaced by a newer version"),
        RecordState.EXPIRED: N_("Not finished in time"),
        RecordState.SUSPENDED_AWAITING_OWN_CONSENT: N_(
            "Paused until the young person gives their own consent"
        ),
    },
    "family_waiting_for": {
        "other-parent": N_("the other parent"),
        "child": N_("your child"),
        "parents": N_("your parents"),
        "study-doctor": N_("the study doctor"),
        "witness": N_("the witness"),
        "study-team": N_("the study team"),
    },
    "withdrawal_scope": {
        WithdrawalScope.STOP_IMP: N_("Stop the study medicine"),
        WithdrawalScope.STOP_STUDY_PROCEDURES: N_(
            "Stop the study visits, tests and questionnaires"
        ),
        WithdrawalScope.ROUTINE_DATA_ONLY: N_(
            "No more study contact; data from routine care may still be collected"
        ),
        WithdrawalScope.NO_NEW_DATA: N_("No new data of any kind"),
        WithdrawalScope.SAMPLES_STOP_COLLECTION: N_("No more samples"),
        WithdrawalScope.SAMPLES_DESTROY: N_("Destroy the stored samples"),
        WithdrawalScope.SAMPLES_ANONYMISE: N_("Make the stored samples anonymous"),
        WithdrawalScope.SAMPLES_NO_FUTURE_USE: N_("No future research with the samples"),
        WithdrawalScope.NO_USE_OUTSIDE_PROTOCOL: N_("No use of the data outside this study"),
        WithdrawalScope.NO_FURTHER_CONTACT: N_("No further contact"),
        WithdrawalScope.RANDOMISATION_REFUSAL: N_("No randomisation"),
        WithdrawalScope.FULL: N_("Stop taking part completely"),
    },
    "question_status": {
        "open": N_("Waiting for an answer"),
        "answered": N_("Answered"),
        "closed": N_("Closed"),
    },
    "invitation_status": {
        "active": N_("Active"),
        "expired": N_("Expired"),
        "revoked": N_("Revoked"),
    },
    # What each audit event did, for the timeline: the staff page, the API and the CLI.
    "event_type": {
        "participant.enrolled": N_("Enrolled"),
        "signer.added": N_("Family member registered"),
        "record.opened": N_("Consent form opened"),
        "guardian.exception-recorded": N_("Exception recorded: fewer parents sign"),
        "invitation.created": N_("Invitation created"),
        "invitation.revoked": N_("Invitation revoked"),
        "access.signed-in": N_("Signed in"),
        "access.sessions-ended": N_("Signed out of every device"),
        "signer.contact-corrected": N_("Contact corrected"),
        "signer.name-corrected": N_("Registered name corrected"),
        "signer.authenticator-enrolled": N_("Authenticator app set up"),
        "signer.authenticator-replaced": N_("Authenticator app replaced"),
        "access.locked-out": N_("Locked out after wrong codes"),
        "information.viewed": N_("Information read"),
        "comprehension.answered": N_("Questions answered"),
        "items.chosen": N_("Choices made"),
        "items.changed": N_("Optional choice changed after signing"),
        "signature.added": N_("Signed"),
        "paper.recorded": N_("Paper consent recorded"),
        "consent.declined": N_("Declined"),
        "withdrawal.recorded": N_("Withdrawal recorded"),
        "assent.dissent": N_("The child said no"),
        "dissent.reviewed": N_("The child's refusal reviewed"),
        "participant.birth-date-changed": N_("Birth date corrected"),
        "question.asked": N_("Question asked"),
        "question.answered": N_("Question answered"),
        "question.closed": N_("Question closed"),
        "task.created": N_("Task created"),
        "task.opened": N_("Form opened for a task"),
        "version.informed": N_("Told about updated information"),
        "contact.sent": N_("Message sent"),
        "contact.skipped": N_("Message not sent (rules of contact)"),
        "contact.failed": N_("Message could not be delivered"),
        "participant.competence-reached": N_(
            "Reached the age of legal competence: consent suspended until their own"
        ),
    },
    # How a signer's identity was checked just before signing (the signature's auth method).
    "auth_method": {
        "otp-sms": N_("a one-time code sent to your phone"),
        "otp-email": N_("a one-time code sent to your e-mail address"),
        "otp-console": N_("a one-time code (test installation)"),
        "otp": N_("a one-time code"),
        "totp-app": N_("a code from your authenticator app"),
        "totp": N_("the staff member's password and authenticator code"),
        "staff-attended": N_("in front of study staff, who confirmed with their password and code"),
        "in-presence": N_("on a parent's signed-in phone, with the parent present"),
        "child-with-staff": N_(
            "in front of the study team, on their device; the staff member confirmed with "
            "their password and code"
        ),
    },
    # Who did what an audit event records, in the PDF's audit page.
    "actor_kind": {
        "staff": N_("Study team"),
        "system": N_("consentkit (automatic)"),
    },
    "message_status": {
        "queued": N_("Waiting to be sent"),
        "leased": N_("Being sent"),
        "sent": N_("Sent"),
        "skipped": N_("Not sent"),
        "failed": N_("Could not be delivered"),
    },
    "contact_reason": {
        "no-contact": N_("The family asked not to be contacted"),
        "unsubscribed": N_("The family switched these messages off"),
        "no-channel": N_("No way to reach this person"),
        "quiet-hours": N_("Held back: quiet hours at the site"),
        "frequency-cap": N_("Held back: enough messages today"),
    },
    # Where a participant stands (policy.records.standing), on the staff pages.
    "standing": {
        "yes": N_("Yes"),
        "not-yet": N_("Not yet"),
        "paused": N_("Paused"),
        "no": N_("No"),
    },
    # Why a participant does not take part (the profile's blocked_by); "missing:<kind>"
    # is worded by blocked_label with the form kind's label.
    "blocked_by": {
        "no-consent": N_("waiting for consent"),
        "awaiting-own-consent": N_("waiting for the participant's own consent"),
        "dissent": N_("the child said no"),
        "withdrawn": N_("withdrawn from the study"),
        "missing": N_("waiting for: %(form)s"),
    },
    "channel": {
        Channel.APP: N_("In the app"),
        Channel.IN_PERSON: N_("In person"),
        Channel.VIDEO: N_("By video"),
        Channel.PHONE: N_("By phone"),
        Channel.LETTER: N_("By letter"),
    },
}


def label(vocabulary: str, key: str, locale: str | None) -> str:
    """Return the label of ``key`` in ``vocabulary``, in ``locale`` (the key if unknown)."""
    source = LABELS.get(vocabulary, {}).get(key)
    return gettext(locale, source) if source else key


def label_with(vocabulary: str, key: str, locale: str | None, **params: object) -> str:
    """Return a label whose text has placeholders (``%(age)s``), filled in, in ``locale``.

    Every placeholder of the English text must be given: a missing one would
    otherwise raise in one language and not another.
    """
    source = LABELS.get(vocabulary, {}).get(key)
    if not source:
        return key
    return gettext(locale, source, **params) if "%(" in source else gettext(locale, source)


def blocked_label(reason: str, locale: str | None) -> str:
    """Return why a participant does not take part (a ``blocked_by`` code), in ``locale``.

    ``missing:parental-consent`` reads "waiting for: Consent of parents or guardians".
    """
    if reason.startswith("missing:"):
        kind = reason.split(":", 1)[1]
        return label_with("blocked_by", "missing", locale, form=label("form_kind", kind, locale))
    return label("blocked_by", reason, locale)


def event_label(event_type: str, locale: str | None) -> str:
    """Return what an audit event did, in ``locale`` (the event type itself if unknown).

    The one wording of the timeline, so the staff page, the API's ``label`` and
    ``consentkit history`` say the same thing.
    """
    return label("event_type", event_type, locale)
