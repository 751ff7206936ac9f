"""Staff sign-in: setup link, password + TOTP, recovery codes, re-authentication, password."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from backend.auth import client_ip
from backend.auth.staff import TOTP, current_staff, issue_staff_token
from backend.extensions import Blueprint
from backend.qr import qr_svg
from backend.resources.staff.schemas import (
    PasswordChangeSchema,
    ReauthSchema,
    RecoveryCodesSchema,
    SetupInfoSchema,
    SetupSchema,
    SignInSchema,
    StaffMeSchema,
    StaffTokenSchema,
)
from consentkit.services import staff as staff_service
from consentkit.services.staff import Signed

blp = Blueprint("staff", __name__, url_prefix="/staff", description="Staff accounts and sign-in")

SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def describe(signed: Signed) -> dict[str, Any]:
    """Return what a signed-in member sees about themselves."""
    staff = signed.staff
    return {
        "staff_id": str(staff.id),
        "email": staff.email,
        "name": staff.name,
        "locale": staff.locale,
        "time_zone": staff.time_zone,
        "grants": [g.to_dict() for g in signed.grants],
        "recovery_codes_left": staff_service.recovery_codes_left(staff),
        "session_expires_at": signed.session.expires_at,
    }


@blp.route("/setup/<token>")
class SetupViews(MethodView):
    """First sign-in through the one-time setup link."""

    @blp.response(200, SetupInfoSchema)
    @blp.alt_response(401, description="Unknown, used or expired link")
    def get(self, token: str) -> dict[str, Any]:
        """Show a new authenticator secret and QR code (a new one each time; the latest counts)."""
        start = staff_service.start_setup(token, totp=TOTP, ip=client_ip())
        return {**start.__dict__, "qr_svg": qr_svg(start.provisioning_uri)}

    @blp.arguments(SetupSchema)
    @blp.response(201, RecoveryCodesSchema)
    @blp.alt_response(401, description="Bad link or code")
    def post(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        """Choose the password, confirm the latest secret shown; returns ten recovery codes once."""
        codes = staff_service.complete_setup(
            token, password=args["password"], code=args["code"], totp=TOTP
        )
        return {"recovery_codes": codes}


@blp.route("/sessions")
class SessionsViews(MethodView):
    """Sign in."""

    @blp.arguments(SignInSchema)
    @blp.response(201, StaffTokenSchema)
    @blp.alt_response(401, description="Generic failure")
    @blp.alt_response(429, description="Too many attempts or account locked; see Retry-After")
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Sign in with e-mail, password and an authenticator (or recovery) code."""
        session = staff_service.sign_in(
            args["email"], args["password"], args["code"], totp=TOTP, ip=client_ip()
        )
        signed = staff_service.active_session(session.session_id)
        return {
            "access_token": issue_staff_token(session),
            "token_type": "Bearer",
            "expires_at": session.expires_at,
            "staff": describe(signed),
        }


@blp.route("/sessions/current")
class CurrentSessionViews(MethodView):
    """Sign out."""

    @blp.response(204)
    @blp.doc(security=SECURITY)
    def delete(self) -> Response:
        """End this session."""
        staff_service.sign_out(current_staff().session.session_id)
        return Response(status=204)


@blp.route("/me")
class StaffMeViews(MethodView):
    """The signed-in member."""

    @blp.response(200, StaffMeSchema)
    @blp.doc(security=SECURITY)
    def get(self) -> dict[str, Any]:
        """Who is signed in, with their roles and sites."""
        return describe(current_staff())


@blp.route("/reauth")
class ReauthViews(MethodView):
    """Confirm presence before a sensitive action."""

    @blp.arguments(ReauthSchema)
    @blp.response(204)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any]) -> Response:
        """Enter password and code again (countersigning and withdrawals need it within 5 min)."""
        staff_service.reauthenticate(
            current_staff(), args["password"], args["code"], totp=TOTP, ip=client_ip()
        )
        return Response(status=204)


@blp.route("/password")
class PasswordViews(MethodView):
    """Change the password."""

    @blp.arguments(PasswordChangeSchema)
    @blp.response(204)
    @blp.doc(security=SECURITY)
    def post(self, args: dict[str, Any]) -> Response:
        """Change the password; the member's other sessions end."""
        staff_service.change_password(
            current_staff(), args["current_password"], args["new_password"]
        )
        return Response(status=204)
