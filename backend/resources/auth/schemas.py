"""Signer sign-in schemas."""

from __future__ import annotations

import marshmallow as ma

DEVICE_ID = ma.fields.String(
    required=True,
    validate=ma.validate.Length(min=8, max=128),
    metadata={"description": "A stable random id the app keeps per installation"},
)


class RedeemSchema(ma.Schema):
    code = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=6, max=40),
        metadata={
            "example": "K7Q2-M9XD-AB",
            "description": "Invitation code (any case, dashes ok)",
        },
    )


class ChallengeSchema(ma.Schema):
    challenge_id = ma.fields.String()
    destination = ma.fields.String(metadata={"description": "Masked, e.g. j***@example.org"})
    expires_at = ma.fields.DateTime()


class VerifySchema(ma.Schema):
    code = ma.fields.String(
        required=True, validate=ma.validate.Regexp(r"^\s*\d{6}\s*$"), metadata={"example": "123456"}
    )
    device_id = DEVICE_ID


class RefreshSchema(ma.Schema):
    refresh_token = ma.fields.String(required=True, validate=ma.validate.Length(min=20, max=200))
    device_id = DEVICE_ID


class TokensSchema(ma.Schema):
    access_token = ma.fields.String()
    token_type = ma.fields.String(metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(metadata={"description": "Seconds"})
    refresh_token = ma.fields.String(metadata={"description": "Rotates on every refresh"})


class StepUpVerifySchema(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^\s*\d{6}\s*$"))


class AuthenticatorStartSchema(ma.Schema):
    challenge_id = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=64),
        metadata={"description": "From POST /auth/authenticator/challenge"},
    )
    code = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^\s*\d{6}\s*$"),
        metadata={"description": "The one-time code sent by e-mail or SMS"},
    )


class StepUpSchema(ma.Schema):
    verified_at = ma.fields.DateTime()
    valid_for_s = ma.fields.Integer()


class MeSchema(ma.Schema):
    trial_id = ma.fields.String()
    participant_code = ma.fields.String()
    role = ma.fields.String()
    device_id = ma.fields.String()
    authenticator = ma.fields.Boolean(
        metadata={"description": "Step-up codes may come from an authenticator app"}
    )
    language = ma.fields.String(
        metadata={
            "description": "The signer's page language: the one chosen on the device, else the "
            "one recorded for them, else the phone's (Accept-Language), among the site's"
        }
    )
    languages = ma.fields.List(
        ma.fields.String(), metadata={"description": "The languages the signer's site offers"}
    )


class MeQueryArgsSchema(ma.Schema):
    chosen = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(max=35),
        metadata={"description": "The language picked on this device, if any"},
    )


class AuthenticatorSchema(ma.Schema):
    secret = ma.fields.String(metadata={"description": "For typing into an authenticator app"})
    provisioning_uri = ma.fields.String(metadata={"description": "otpauth:// URI"})
    qr_svg = ma.fields.String(metadata={"description": "The URI as an SVG QR code"})
