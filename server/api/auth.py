"""Signing in from devices: API tokens, and who am I."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import marshmallow as ma
from flask import current_app
from flask.views import MethodView

from server.api.common import ApiBlueprint, InSchema, OutSchema, text
from server.extensions import limiter
from server.services import access, accounts, audit

blp = ApiBlueprint("auth", __name__, description="Device tokens and the signed-in user")


class TokenRequestSchema(InSchema):
    email = ma.fields.Email(required=True)
    password = text(1024, required=True, load_only=True)
    device_name = text(200, min_length=1, required=True)


class TokenSchema(OutSchema):
    id = ma.fields.UUID()
    device_name = ma.fields.String()
    prefix = ma.fields.String(metadata={"description": "First characters, to recognise it"})
    created_at = ma.fields.DateTime()
    last_used_at = ma.fields.DateTime(allow_none=True)
    last_used_ip = ma.fields.String(allow_none=True)
    expires_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)


class NewTokenSchema(TokenSchema):
    token = ma.fields.String(metadata={"description": "The secret; shown this once only"})


class UserSchema(OutSchema):
    id = ma.fields.UUID()
    email = ma.fields.String()
    name = ma.fields.String()
    is_admin = ma.fields.Boolean()
    is_active = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    last_login_at = ma.fields.DateTime(allow_none=True)


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.doc(security=[])
    @blp.arguments(TokenRequestSchema)
    @blp.response(201, NewTokenSchema)
    @limiter.limit(_login_limit)
    def post(self, data: dict[str, Any]) -> Any:
        """Sign in a device and get its API token (shown once)."""
        user = accounts.check_credentials(data["email"], data["password"])
        ttl = current_app.config["TOKEN_TTL_DAYS"]
        token, secret = accounts.issue_token(user, data["device_name"], ttl_days=ttl)
        audit.record("auth.login", actor=user, detail={"via": "token", "device": token.device_name})
        shown = {name: getattr(token, name) for name in TokenSchema().fields}
        return SimpleNamespace(**shown, token=secret)

    @blp.response(200, TokenSchema(many=True))
    def get(self) -> Any:
        """List your device tokens with their last use."""
        return accounts.list_tokens(access.current_user())


@blp.route("/tokens/<uuid:token_id>")
class TokenById(MethodView):
    @blp.response(204)
    def delete(self, token_id: uuid.UUID) -> None:
        """Revoke a device token; it stops working at once."""
        accounts.revoke_token(access.current_user(), token_id)


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, UserSchema)
    def get(self) -> Any:
        """Show the signed-in user."""
        return access.current_user()
