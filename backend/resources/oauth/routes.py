"""OAuth2 token endpoint for service accounts (client credentials, Authlib)."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from backend.auth.clients import server
from backend.extensions import Blueprint

blp = Blueprint(
    "oauth", __name__, url_prefix="/oauth", description="Tokens for machine clients (OAuth2)"
)


@blp.route("/token")
class TokenViews(MethodView):
    """RFC 6749 section 4.4: client id and secret for a 15-minute bearer token."""

    @blp.doc(
        requestBody={
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "scope": {"type": "string"},
                            "client_id": {"type": "string"},
                            "client_secret": {"type": "string"},
                        },
                    }
                }
            }
        }
    )
    @blp.alt_response(200, description="access_token, token_type, expires_in, scope")
    @blp.alt_response(400, description="OAuth2 error body (RFC 6749 5.2), e.g. invalid_grant")
    @blp.alt_response(401, description="invalid_client: unknown, revoked or wrong secret")
    def post(self) -> Response:
        """Exchange client credentials for a bearer token (OAuth2 error bodies, RFC 6749 5.2)."""
        response: Response = server.create_token_response()
        return response
