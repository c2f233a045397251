"""Handing committed job ids to Huey, only after the transaction that made them commits."""

from __future__ import annotations

import uuid

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from server.extensions import db

PENDING = "fieldbook.jobs.pending"  # created in the open transaction
READY = "fieldbook.jobs.ready"  # committed, not yet handed to Huey


def enqueue(app: Flask, job_id: uuid.UUID, delay: float | None = None) -> None:
    """Hand one committed job's id to Huey, now or after ``delay`` seconds."""
    task = app.extensions["fieldbook.task"]
    if delay:
        task.schedule(args=(str(job_id),), delay=delay)
    else:
        task(str(job_id))


def dispatch() -> None:
    """Hand the ids of committed jobs to Huey; call after a commit."""
    ready = db.session.info.pop(READY, None)
    if not ready:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for job_id in ready:
        enqueue(app, job_id)


@event.listens_for(Session, "after_commit")
def _mark_committed(session: Session) -> None:
    """Move the jobs of a committed transaction to the ready list (no SQL allowed here)."""
    pending = session.info.pop(PENDING, None)
    if pending:
        session.info.setdefault(READY, []).extend(pending)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    """Drop the jobs of a transaction that did not commit."""
    session.info.pop(PENDING, None)
