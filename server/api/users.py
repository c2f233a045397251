"""User administration (global admins only)."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask.views import MethodView

from server.api.auth import UserSchema
from server.api.common import ApiBlueprint, InSchema, SelectPage, text
from server.models import User
from server.services import access, accounts

blp = ApiBlueprint("users", __name__, description="User accounts (admins)")


class UserCreateSchema(InSchema):
    email = ma.fields.Email(required=True)
    password = text(1024, required=True, load_only=True)
    name = text(200, load_default="")
    is_admin = ma.fields.Boolean(load_default=False)


class UserUpdateSchema(InSchema):
    name = text(200)
    is_active = ma.fields.Boolean()


@blp.route("/users")
class Users(MethodView):
    @blp.response(200, UserSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self) -> Any:
        """List users."""
        access.require_admin(access.current_user())
        return sa.select(User).order_by(User.email)

    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a user."""
        access.require_admin(access.current_user())
        return accounts.create_user(
            data["email"], data["password"], name=data["name"], is_admin=data["is_admin"]
        )


@blp.route("/users/<uuid:user_id>")
class UserById(MethodView):
    @blp.response(200, UserSchema)
    def get(self, user_id: uuid.UUID) -> Any:
        """Show a user."""
        access.require_admin(access.current_user())
        return accounts.get_user(user_id)

    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    def patch(self, data: dict[str, Any], user_id: uuid.UUID) -> Any:
        """Rename, disable or re-enable a user; disabling ends sessions and revokes tokens."""
        access.require_admin(access.current_user())
        return accounts.update_user(accounts.get_user(user_id), data)
