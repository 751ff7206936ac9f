"""Staff web pages: sign-in, the study dashboard, worklists, enrolment and a participant's file.

Server-rendered forms on the same consentkit services as the staff JSON API
(``backend/resources/staff`` and ``backend/resources/sites``): a clinic without
an app of its own does everything here, on a desktop or a tablet, with or
without JavaScript (only the countersignature canvas needs it).

Security, page by page:

* the staff token lives in an HttpOnly, SameSite=Lax cookie limited to ``/staff``
  (Secure in production, see ``STAFF_COOKIE_SECURE``);
* every form post carries a CSRF token: the session's (:func:`backend.auth.staff.csrf_token`)
  once signed in, before that one bound to a random cookie (double submit);
* every page and post names its action and asks :func:`backend.auth.staff.require`
  at the participant's site; another site's participant answers 404 like an unknown code;
* ``next`` is followed only to a path of these pages (no open redirect);
* countersigning, recording a withdrawal and changing the password ask for the
  password and code again when the last sign-in is older than five minutes.

The pages, one module per area: ``account`` (sign-in, set-up, password), ``dashboard``
(studies, dashboard, worklist, export), ``enrolment``, ``participants``, ``signers`` (a family
member's sessions and contact), ``tasks`` (consent tasks: the list, open and invite),
``witness`` (the impartial witness of a family member who cannot read: register, sign on
the staff device), ``webhooks`` (subscriptions, their delivery log), ``service_accounts``
(machine clients: create, rotate, revoke), ``publications`` (study news and results; the
comprehension insight), ``attested`` (a family
signature given in front of the member; a registered name corrected) and ``forms``
(import, preview, approve and publish forms; the re-consent worklist); ``common``
holds the helpers they share and ``handlers`` the error pages, template context and
form cookie of the whole blueprint.
"""

from flask import Blueprint

bp = Blueprint("staff_web", __name__, url_prefix="/staff")

# The modules register their routes and handlers on ``bp`` when imported, so after it.
from backend.web.staff import (  # noqa: E402, F401
    account,
    attested,
    child_assent,
    dashboard,
    enrolment,
    forms,
    handlers,
    participants,
    publications,
    questions,
    service_accounts,
    signers,
    tasks,
    webhooks,
    witness,
)

__all__ = ["bp"]
