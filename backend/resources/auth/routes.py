"""Signer sign-in: invitation, one-time code, device session, step-up codes."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView

from backend.auth import (
    ACCESS_TOKEN_TTL_S,
    OTP,
    client_ip,
    current_session,
    issue_access_token,
)
from backend.auth.staff import TOTP
from backend.extensions import Blueprint
from backend.qr import qr_svg
from backend.resources.auth.schemas import (
    AuthenticatorSchema,
    AuthenticatorStartSchema,
    ChallengeSchema,
    MeQueryArgsSchema,
    MeSchema,
    RedeemSchema,
    RefreshSchema,
    StepUpSchema,
    StepUpVerifySchema,
    TokensSchema,
    VerifySchema,
)
from consentkit.notify import configured_sender
from consentkit.services import access
from consentkit.services.evidence import FRESH_AUTH, AuthEvidence

blp = Blueprint("auth", __name__, url_prefix="/auth", description="Signer sign-in")


def _tokens(sign_in: access.SignIn) -> dict[str, Any]:
    return {
        "access_token": issue_access_token(sign_in.session),
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_TTL_S,
        "refresh_token": sign_in.refresh_token,
    }


def _stepped_up(evidence: AuthEvidence) -> dict[str, Any]:
    """Answer a step-up, by a code sent or from the app: when, and for how long it counts."""
    return {"verified_at": evidence.verified_at, "valid_for_s": int(FRESH_AUTH.total_seconds())}


@blp.route("/invitations/redeem")
class RedeemViews(MethodView):
    """Exchange an invitation for a one-time code."""

    @blp.arguments(RedeemSchema)
    @blp.response(202, ChallengeSchema)
    @blp.alt_response(401, description="Unknown, expired or revoked code (generic message)")
    @blp.alt_response(429, description="Too many attempts; see Retry-After")
    def post(self, args: dict[str, Any]) -> Any:
        """Redeem an invitation code; a one-time code goes to the contact on file."""
        sent = access.redeem_invitation(
            args["code"], otp=OTP, sender=configured_sender(), ip=client_ip()
        )
        return sent.__dict__


@blp.route("/challenges/<challenge_id>/verify")
class VerifyViews(MethodView):
    """Prove the one-time code."""

    @blp.arguments(VerifySchema)
    @blp.response(200, TokensSchema)
    @blp.alt_response(401, description="Wrong, expired or used code (generic message)")
    @blp.alt_response(429, description="Too many attempts; see Retry-After")
    def post(self, args: dict[str, Any], challenge_id: str) -> dict[str, Any]:
        """Verify the one-time code; returns an access token and a device-bound refresh token."""
        return _tokens(
            access.verify_sign_in(
                challenge_id,
                args["code"].strip(),
                device_id=args["device_id"],
                otp=OTP,
                ip=client_ip(),
            )
        )


@blp.route("/tokens/refresh")
class RefreshViews(MethodView):
    """Rotate tokens."""

    @blp.arguments(RefreshSchema)
    @blp.response(200, TokensSchema)
    @blp.alt_response(401, description="Sign in again")
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Exchange a refresh token (used once) for new tokens."""
        return _tokens(access.refresh_session(args["refresh_token"], device_id=args["device_id"]))


@blp.route("/logout")
class LogoutViews(MethodView):
    """End the session."""

    @blp.response(204)
    @blp.alt_response(401, description="Not signed in")
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self) -> None:
        """Sign this device out (its refresh token stops working)."""
        access.revoke_session(current_session().session_id)


@blp.route("/step-up")
class StepUpViews(MethodView):
    """Ask for a fresh code before signing or withdrawing."""

    @blp.response(202, ChallengeSchema)
    @blp.alt_response(401, description="Not signed in")
    @blp.alt_response(429, description="Too many codes asked; see Retry-After")
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self) -> Any:
        """Send a fresh one-time code (needed for every signature and withdrawal)."""
        return access.start_step_up(current_session(), otp=OTP, sender=configured_sender()).__dict__


@blp.route("/step-up/<challenge_id>/verify")
class StepUpVerifyViews(MethodView):
    """Prove the fresh code."""

    @blp.arguments(StepUpVerifySchema)
    @blp.response(200, StepUpSchema)
    @blp.alt_response(401, description="Wrong, expired or used code")
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self, args: dict[str, Any], challenge_id: str) -> dict[str, Any]:
        """Verify the fresh one-time code."""
        evidence = access.verify_step_up(
            current_session(), challenge_id, args["code"].strip(), otp=OTP
        )
        return _stepped_up(evidence)


@blp.route("/authenticator/challenge")
class AuthenticatorChallengeViews(MethodView):
    """Prove the contact before setting up or replacing an authenticator app."""

    @blp.response(202, ChallengeSchema)
    @blp.alt_response(401, description="Not signed in")
    @blp.alt_response(429, description="Too many codes asked; see Retry-After")
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self) -> Any:
        """Send a one-time code by e-mail or SMS, needed to set up or replace an app."""
        return access.send_authenticator_code(
            current_session(), otp=OTP, sender=configured_sender()
        ).__dict__


@blp.route("/authenticator")
class AuthenticatorViews(MethodView):
    """An authenticator app for step-up codes, instead of codes by e-mail or SMS."""

    @blp.arguments(AuthenticatorStartSchema)
    @blp.response(201, AuthenticatorSchema)
    @blp.alt_response(401, description="Not signed in, or the code by e-mail or SMS is wrong")
    @blp.alt_response(429, description="Too many wrong codes; see Retry-After")
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Start setting up an app with the code from /authenticator/challenge; scan, confirm."""
        start = access.start_authenticator(
            current_session(), args["challenge_id"], args["code"].strip(), otp=OTP, totp=TOTP
        )
        return {**start.__dict__, "qr_svg": qr_svg(start.provisioning_uri)}


@blp.route("/authenticator/confirm")
class AuthenticatorConfirmViews(MethodView):
    """Finish enrolling the authenticator app."""

    @blp.arguments(StepUpVerifySchema)
    @blp.response(204)
    @blp.alt_response(401, description="No enrolment started, or the code does not match")
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self, args: dict[str, Any]) -> Response:
        """Confirm with a first code from the app; the signer's contact is told of the change."""
        access.confirm_authenticator(
            current_session(), args["code"], totp=TOTP, sender=configured_sender()
        )
        return Response(status=204)


@blp.route("/step-up/authenticator")
class StepUpAuthenticatorViews(MethodView):
    """Step up with the authenticator app."""

    @blp.arguments(StepUpVerifySchema)
    @blp.response(200, StepUpSchema)
    @blp.alt_response(401, description="No authenticator, wrong or already used code")
    @blp.alt_response(429, description="Too many tries; see Retry-After")
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Prove presence with a code from the authenticator app (each code works once)."""
        evidence = access.verify_step_up_authenticator(current_session(), args["code"], totp=TOTP)
        return _stepped_up(evidence)


@blp.route("/me")
class MeViews(MethodView):
    """Who is signed in."""

    @blp.arguments(MeQueryArgsSchema, location="query")
    @blp.response(200, MeSchema)
    @blp.alt_response(401, description="Not signed in")
    @blp.doc(security=[{"bearerAuth": []}])
    def get(self, args: dict[str, Any]) -> access.SignedInSigner:
        """Return the signed-in signer's study, participant code, role and page language."""
        return access.whoami(
            current_session(),
            chosen=args["chosen"],
            accept_language=request.headers.get("Accept-Language"),
        )
