"""Accounts: passwords, device tokens and web sessions."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy.exc import OperationalError

from server.errors import Conflict, NotFound, Unauthorized, field_error
from server.extensions import db
from server.models import ApiToken, User, WebSession, utcnow
from server.services import audit

TOKEN_PREFIX = "fb_"  # noqa: S105 - a visible marker, not a secret
MIN_PASSWORD_LENGTH = 10


def password_hasher(config: Mapping[str, Any]) -> PasswordHasher:
    """Build the app's Argon2id hasher; the costs are configurable (tests lower them)."""
    return PasswordHasher(
        time_cost=int(config.get("PASSWORD_HASH_TIME_COST", 3)),
        memory_cost=int(config.get("PASSWORD_HASH_MEMORY_KIB", 65536)),
    )


def _hasher() -> PasswordHasher:
    hasher: PasswordHasher = current_app.extensions["fieldbook.passwords"]
    return hasher


def _dummy_hash() -> str:
    # verifying against this keeps the timing of unknown e-mails close to wrong passwords
    dummy: str | None = current_app.extensions.get("fieldbook.dummy_hash")
    if dummy is None:
        dummy = current_app.extensions["fieldbook.dummy_hash"] = hash_password(
            secrets.token_urlsafe(16)
        )
    return dummy


def hash_password(password: str) -> str:
    """Hash a password with Argon2id."""
    return _hasher().hash(password)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_email(email: str) -> str:
    """Compare e-mail addresses without case or surrounding space."""
    return email.strip().lower()


def create_user(email: str, password: str, *, name: str = "", is_admin: bool = False) -> User:
    """Create a user; the e-mail must be new and the password long enough."""
    email = normalise_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise field_error(
            "password",
            f"Use at least {MIN_PASSWORD_LENGTH} characters.",
            code="user.password_too_short",
        )
    if db.session.scalar(sa.select(User.id).where(User.email == email)):
        raise Conflict("A user with this e-mail exists.", code="user.email_taken")
    user = User(email=email, name=name, password_hash=hash_password(password), is_admin=is_admin)
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", object_type="user", object_id=user.id, detail={"email": email})
    return user


def check_credentials(email: str, password: str) -> User:
    """Return the active user with these credentials, or raise 401 (and audit the failure)."""
    email = normalise_email(email)
    user = db.session.scalar(sa.select(User).where(User.email == email))
    try:
        _hasher().verify(user.password_hash if user else _dummy_hash(), password)
        valid = user is not None and user.is_active
    except (VerificationError, InvalidHashError):
        valid = False
    if not valid or user is None:
        audit.record_now("auth.login", outcome="denied", detail={"email": email})
        raise Unauthorized("E-mail or password is wrong.", code="auth.invalid_credentials")
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def issue_token(
    user: User, device_name: str, *, ttl_days: int | None = None
) -> tuple[ApiToken, str]:
    """Create a device token; the secret is returned once and only its hash is kept."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        device_name=device_name,
        token_hash=_digest(secret),
        prefix=secret[:10],
        expires_at=utcnow() + timedelta(days=ttl_days) if ttl_days else None,
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "token.create",
        actor=user,
        object_type="api_token",
        object_id=token.id,
        detail={"device_name": device_name},
    )
    return token, secret


# built once: this runs before every token-authenticated request
_TOKEN_USER = (
    sa.select(User, ApiToken.id, ApiToken.revoked_at, ApiToken.expires_at, ApiToken.last_used_at)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == sa.bindparam("digest"))
)
_NOTE_TOKEN_USE = (
    sa.update(ApiToken)
    .where(ApiToken.id == sa.bindparam("token_id"))
    .values(last_used_at=sa.bindparam("now"), last_used_ip=sa.bindparam("ip"))
)


def user_for_token(secret: str, ip: str | None) -> User | None:
    """Return the user of a live token and note its use, or None."""
    row = db.session.execute(_TOKEN_USER, {"digest": _digest(secret)}).first()
    if row is None:
        return None
    user, token_id, revoked_at, expires_at, last_used_at = row
    now = utcnow()
    if revoked_at is not None:
        return None
    if expires_at is not None and expires_at <= now:
        return None
    if not user.is_active:
        return None
    # write last use at most once a minute so reads do not turn into writes
    if last_used_at is None or now - last_used_at > timedelta(minutes=1):
        try:
            db.session.execute(_NOTE_TOKEN_USE, {"token_id": token_id, "now": now, "ip": ip})
            db.session.commit()
        except OperationalError:
            # a read-only request lost the race for SQLite's write lock: the note of last
            # use waits for the next request; the request itself goes on
            db.session.rollback()
    return user


def list_tokens(user: User) -> list[ApiToken]:
    """List a user's tokens, newest first."""
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.created_at.desc())
        )
    )


def revoke_token(user: User, token_id: uuid.UUID) -> ApiToken:
    """Revoke one of the user's tokens (admins may revoke anyone's)."""
    token = db.session.get(ApiToken, token_id)
    if token is None or (token.user_id != user.id and not user.is_admin):
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record("token.revoke", object_type="api_token", object_id=token.id)
    return token


def set_active(user: User, active: bool) -> User:
    """Disable or re-enable a user; disabling ends sessions and revokes tokens."""
    now = utcnow()
    user.is_active = active
    user.disabled_at = None if active else now
    if not active:
        db.session.execute(
            sa.update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        db.session.execute(
            sa.update(WebSession)
            .where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
            .values(ended_at=now)
        )
    audit.record("user.enable" if active else "user.disable", object_type="user", object_id=user.id)
    return user


def update_user(user: User, data: dict[str, Any]) -> User:
    """Rename a user, or disable or re-enable them."""
    if "name" in data and data["name"] != user.name:
        user.name = data["name"]
        audit.record(
            "user.update", object_type="user", object_id=user.id, detail={"fields": ["name"]}
        )
    if "is_active" in data and data["is_active"] != user.is_active:
        set_active(user, data["is_active"])
    return user


def start_web_session(user: User, ip: str | None, hours: int) -> str:
    """Open a browser session and return its secret key for the cookie."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        WebSession(
            user_id=user.id,
            key_hash=_digest(key),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=hours),
            ip=ip,
        )
    )
    return key


def user_for_web_session(key: str) -> User | None:
    """Return the user of a live browser session, or None."""
    row = db.session.scalar(sa.select(WebSession).where(WebSession.key_hash == _digest(key)))
    if row is None or row.ended_at is not None or row.expires_at <= utcnow():
        return None
    user = db.session.get(User, row.user_id)
    return user if user is not None and user.is_active else None


def end_web_session(key: str) -> None:
    """End a browser session so its cookie no longer works anywhere."""
    db.session.execute(
        sa.update(WebSession)
        .where(WebSession.key_hash == _digest(key), WebSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def get_user(user_id: uuid.UUID) -> User:
    """Return a user by id or raise 404."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def find_user_by_email(email: str) -> User | None:
    """Return the user with this e-mail, if any."""
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
