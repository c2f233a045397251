"""Administration from the shell: schema migrations, first set-up and user accounts."""

from __future__ import annotations

import os
import secrets
import uuid

import click
from flask.cli import with_appcontext

from server import migrate
from server.errors import AppError
from server.extensions import db
from server.models import User
from server.services import accounts

PASSWORD_ENV = "FIELDBOOK_PASSWORD"  # noqa: S105 - the name of a variable, not a secret


@click.group("db")
def db_group() -> None:
    """Database schema migrations."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Bring the schema up to REVISION (default: the newest)."""
    migrate.upgrade(revision)
    click.echo(f"Database at {migrate.current_revision()}.")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Take the schema down to REVISION."""
    migrate.downgrade(revision)
    click.echo(f"Database at {migrate.current_revision() or 'an empty schema'}.")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Show the schema revision of the database and of the code."""
    click.echo(f"database: {migrate.current_revision()}  code: {migrate.head_revision()}")


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Write a new migration from the models (for developers)."""
    migrate.revision(message)


@click.group("users")
def users_group() -> None:
    """User accounts."""


def _password(prompt: bool) -> str:
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if prompt:
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    raise click.ClickException(f"Set {PASSWORD_ENV} or run in a terminal to be asked.")


def _existing_user(email: str) -> User:
    user = accounts.find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user {email}.")
    return user


def _fail(error: AppError) -> click.ClickException:
    return click.ClickException(f"{error.message} ({error.code})")


@users_group.command("create")
@click.argument("email")
@click.option("--name", default="")
@click.option("--admin", is_flag=True, help="Make a global admin.")
@with_appcontext
def users_create(email: str, name: str, admin: bool) -> None:
    """Create a user; the password comes from FIELDBOOK_PASSWORD or a prompt."""
    try:
        user = accounts.create_user(email, _password(prompt=True), name=name, is_admin=admin)
    except AppError as error:
        raise _fail(error) from error
    db.session.commit()
    click.echo(f"Created {user.email}{' (admin)' if admin else ''}.")


@users_group.command("disable")
@click.argument("email")
@with_appcontext
def users_disable(email: str) -> None:
    """Disable a user: sessions end and device tokens are revoked."""
    user = _existing_user(email)
    accounts.set_active(user, False)
    db.session.commit()
    click.echo(f"Disabled {user.email}; sessions ended, tokens revoked.")


@users_group.command("enable")
@click.argument("email")
@with_appcontext
def users_enable(email: str) -> None:
    """Enable a disabled user again."""
    user = _existing_user(email)
    accounts.set_active(user, True)
    db.session.commit()
    click.echo(f"Enabled {user.email}.")


@users_group.command("tokens")
@click.argument("email")
@with_appcontext
def users_tokens(email: str) -> None:
    """List a user's device tokens with their last use."""
    user = _existing_user(email)
    for token in accounts.list_tokens(user):
        state = "revoked" if token.revoked_at else "active"
        used = token.last_used_at.isoformat() if token.last_used_at else "never"
        click.echo(f"{token.id}  {token.prefix}…  {token.device_name}  {state}  last used {used}")


@users_group.command("revoke-token")
@click.argument("email")
@click.argument("token_id")
@with_appcontext
def users_revoke_token(email: str, token_id: str) -> None:
    """Revoke one device token of a user."""
    user = _existing_user(email)
    try:
        accounts.revoke_token(user, uuid.UUID(token_id))
    except (AppError, ValueError) as error:
        raise click.ClickException(f"No token {token_id} for {email}.") from error
    db.session.commit()
    click.echo(f"Revoked {token_id}.")


@click.command("init")
@click.option("--admin-email", default="admin@fieldbook.local", show_default=True)
@with_appcontext
def init(admin_email: str) -> None:
    """Set up an empty install: migrate the schema and create the first admin.

    The admin's password is FIELDBOOK_PASSWORD if set, otherwise generated and
    printed this once.
    """
    migrate.upgrade()
    if accounts.find_user_by_email(admin_email) is not None:
        click.echo(f"Database ready; admin {admin_email} exists.")
        return
    password = os.environ.get(PASSWORD_ENV) or secrets.token_urlsafe(12)
    accounts.create_user(admin_email, password, name="Admin", is_admin=True)
    db.session.commit()
    click.echo(f"Database ready. First admin: {admin_email}")
    if not os.environ.get(PASSWORD_ENV):
        click.echo(f"Password (shown once): {password}")
