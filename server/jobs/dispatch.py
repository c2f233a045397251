"""Handing committed job ids to Huey, only after the transaction that made them commits."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from server.extensions import db

log = logging.getLogger(__name__)

PENDING = "fieldbook.jobs.pending"  # created in the open transaction
READY = "fieldbook.jobs.ready"  # committed, not yet handed to Huey


def enqueue(app: Flask, job_id: uuid.UUID, delay: float | None = None) -> None:
    """Hand one committed job's id to Huey, now or after ``delay`` seconds.

    A broker that does not answer is logged, not raised: the job row is committed and
    due, so the sweeper sends its id again later (``JobQueue.sweep``). The request or
    job that made it has done its work and must not fail for it.
    """
    task = app.extensions["fieldbook.task"]
    try:
        if delay:
            task.schedule(args=(str(job_id),), delay=delay)
        else:
            task(str(job_id))
    except Exception:
        log.warning("could not hand job %s to the queue; the sweeper will", job_id, exc_info=True)


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
