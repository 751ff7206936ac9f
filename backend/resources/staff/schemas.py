"""Staff account schemas."""

from __future__ import annotations

import marshmallow as ma

CODE = ma.fields.String(
    required=True,
    validate=ma.validate.Length(min=6, max=20),
    metadata={"description": "6-digit authenticator code, or a recovery code", "example": "123456"},
)
PASSWORD = ma.fields.String(
    required=True, validate=ma.validate.Length(min=1, max=256), load_only=True
)


class SetupInfoSchema(ma.Schema):
    email = ma.fields.String()
    name = ma.fields.String()
    secret = ma.fields.String(metadata={"description": "For typing into an authenticator app"})
    provisioning_uri = ma.fields.String(metadata={"description": "otpauth:// URI"})
    qr_svg = ma.fields.String(metadata={"description": "The URI as an SVG QR code"})


class SetupSchema(ma.Schema):
    password = PASSWORD
    code = CODE


class RecoveryCodesSchema(ma.Schema):
    recovery_codes = ma.fields.List(
        ma.fields.String(), metadata={"description": "Shown once; each works once"}
    )


class SignInSchema(ma.Schema):
    email = ma.fields.String(required=True, validate=ma.validate.Length(min=3, max=320))
    password = PASSWORD
    code = CODE


class GrantSchema(ma.Schema):
    trial_id = ma.fields.String()
    role = ma.fields.String()
    sites = ma.fields.List(ma.fields.String())


class StaffMeSchema(ma.Schema):
    staff_id = ma.fields.String()
    email = ma.fields.String()
    name = ma.fields.String()
    locale = ma.fields.String()
    time_zone = ma.fields.String()
    grants = ma.fields.List(ma.fields.Nested(GrantSchema))
    recovery_codes_left = ma.fields.Integer()
    session_expires_at = ma.fields.DateTime()


class StaffTokenSchema(ma.Schema):
    access_token = ma.fields.String()
    token_type = ma.fields.String()
    expires_at = ma.fields.DateTime()
    staff = ma.fields.Nested(StaffMeSchema)


class ReauthSchema(ma.Schema):
    password = PASSWORD
    code = CODE


class PasswordChangeSchema(ma.Schema):
    current_password = PASSWORD
    new_password = PASSWORD
