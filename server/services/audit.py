"""The audit trail: every change, login and refusal, with who, when (UTC) and from where."""

from __future__ import annotations

import uuid
from typing import Any, cast

import sqlalchemy as sa
from flask import g, has_request_context, request

from server.extensions import db
from server.models import AuditEvent, User


def _origin() -> tuple[str, str]:
    if not has_request_context():
        return "cli", ""
    return request.remote_addr or "", (request.user_agent.string or "")[:300]


_AUDIT_EVENTS = cast(sa.Table, AuditEvent.__table__)


def _event(
    action: str,
    *,
    actor: User | None,
    outcome: str,
    study_id: uuid.UUID | None,
    object_type: str,
    object_id: Any,
    detail: dict[str, Any] | None,
) -> dict[str, Any]:
    if actor is None and has_request_context():
        actor = g.get("user")
    ip, agent = _origin()
    return {
        "action": action,
        "outcome": outcome,
        "actor_id": actor.id if actor else None,
        "actor_email": actor.email if actor else "",
        "study_id": study_id,
        "object_type": object_type,
        "object_id": str(object_id or ""),
        "ip": ip,
        "user_agent": agent,
        "detail": detail or {},
    }


def record(
    action: str,
    *,
    actor: User | None = None,
    outcome: str = "ok",
    study_id: uuid.UUID | None = None,
    object_type: str = "",
    object_id: Any = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an event to the current transaction, so it is kept exactly when the change is."""
    db.insert_row(
        _AUDIT_EVENTS,
        _event(
            action,
            actor=actor,
            outcome=outcome,
            study_id=study_id,
            object_type=object_type,
            object_id=object_id,
            detail=detail,
        ),
    )


def record_now(
    action: str,
    *,
    actor: User | None = None,
    outcome: str = "denied",
    study_id: uuid.UUID | None = None,
    object_type: str = "",
    object_id: Any = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Keep an event even though the request is about to fail.

    Whatever the request changed so far is rolled back first: a refused request writes
    nothing but its audit line.
    """
    db.session.rollback()
    record(
        action,
        actor=actor,
        outcome=outcome,
        study_id=study_id,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )
    db.session.commit()


def events(*, study_id: uuid.UUID | None = None, action: str | None = None) -> sa.Select[Any]:
    """Select audit events, newest first, optionally for one study or action."""
    query = sa.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id)
    if study_id is not None:
        query = query.where(AuditEvent.study_id == study_id)
    if action:
        query = query.where(AuditEvent.action == action)
    return query
