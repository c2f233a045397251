"""What every viewer page shares: signing in first, reading forms, saying what went wrong."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import flash, g, redirect, request, url_for
from werkzeug.wrappers import Response

from server.errors import AppError
from server.extensions import db
from server.models import User


def require_sign_in() -> Response | None:
    """Send visitors who are not signed in to the sign-in page, then back here."""
    if g.get("user") is None:
        return redirect(url_for("account.login", next=request.full_path.rstrip("?")))
    return None


def signed_in() -> User:
    """Return the signed-in user (pages run ``require_sign_in`` first)."""
    user: User = g.user
    return user


def begin_writing() -> None:
    """Let a GET that writes (an audited read of an original) hold the write lock.

    Safe-method requests start as shared reads on SQLite (``security.mark_read_only``);
    one that then writes an audit line could lose a race with another writer. Ending the
    read snapshot now, before anything is written, makes the next transaction take the
    write lock from its start, as ``security.AUDITED_READS`` arranges for the API.
    """
    if g.get("read_only"):
        g.read_only = False
        db.session.commit()


def form_data(schema: ma.Schema, blanks: tuple[str, ...] = ()) -> dict[str, Any]:
    """Validate the posted form with an API schema; fields in ``blanks`` left empty are None.

    The CSRF token has already been checked by Flask-WTF and is not part of the data.
    """
    raw: dict[str, Any] = {key: value for key, value in request.form.items() if key != "csrf_token"}
    for name in blanks:
        if name in raw and not str(raw[name]).strip():
            raw[name] = None
    try:
        loaded: dict[str, Any] = schema.load(raw)
    except ma.ValidationError as error:
        raise AppError(
            "Some fields are not valid.",
            status=422,
            code="validation.failed",
            errors=error.messages if isinstance(error.messages, dict) else {},
        ) from error
    return loaded


def _describe(messages: Any) -> str:
    if isinstance(messages, dict):
        return "; ".join(f"{name}: {_describe(value)}" for name, value in messages.items())
    if isinstance(messages, list):
        return " ".join(str(m) for m in messages)
    return str(messages)


def refused(error: AppError) -> None:
    """Undo the refused change and say why, on the page the user returns to."""
    # the redirect that follows is a success status, which would commit the transaction
    db.session.rollback()
    flash(error.message, "error")
    for field, problems in (error.errors or {}).items():
        flash(f"{field}: {_describe(problems)}", "error")


def back_to(endpoint: str, anchor: str | None = None, **values: Any) -> Response:
    """Redirect to a page of the viewer, optionally to a place on it."""
    return redirect(url_for(endpoint, _anchor=anchor, **values), code=303)
