"""Running one job: claim it, call its handler, record the outcome.

A job is claimed with one conditional UPDATE, so two workers never run the same job.
A running job holds a lease that its progress reports extend; a worker that dies lets
the lease run out and the job is queued again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, current_app

from server.extensions import database_unavailable, db
from server.jobs.dispatch import dispatch, enqueue
from server.models import Job, JobStatus, utcnow
from server.storage import StorageUnavailable

log = logging.getLogger(__name__)

# kind -> handler(JobContext); filled by ``register`` when handler modules are imported
HANDLERS: dict[str, Callable[[JobContext], None]] = {}
WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"


class PermanentJobError(Exception):
    """A failure that retrying cannot fix (bad input); the job fails at once."""


def register(kind: str) -> Callable[[Callable[[JobContext], None]], Callable[[JobContext], None]]:
    """Declare the handler of one kind of job."""

    def decorate(handler: Callable[[JobContext], None]) -> Callable[[JobContext], None]:
        HANDLERS[kind] = handler
        return handler

    return decorate


def lease_seconds() -> int:
    """Return how long a job may go without a sign of life before it is requeued."""
    return int(current_app.config["JOB_LEASE_SECONDS"])


@dataclass
class JobContext:
    """What a handler gets: the job row and a way to report progress."""

    job: Job

    def progress(self, fraction: float) -> None:
        """Record progress (0..1) and extend the lease; committed at once so readers see it."""
        db.session.execute(
            sa.update(Job)
            .where(Job.id == self.job.id)
            .values(
                progress=max(0.0, min(1.0, fraction)),
                lease_until=utcnow() + timedelta(seconds=lease_seconds()),
            )
        )
        db.session.commit()


def claim(job_id: uuid.UUID) -> bool:
    """Take a queued job for this worker; False if someone else has it or it is done."""
    now = utcnow()
    result = db.session.execute(
        sa.update(Job)
        .where(
            Job.id == job_id,
            sa.or_(
                Job.status == JobStatus.queued,
                sa.and_(Job.status == JobStatus.running, Job.lease_until < now),
            ),
        )
        .values(
            status=JobStatus.running,
            worker=WORKER_NAME,
            attempts=Job.attempts + 1,
            started_at=now,
            lease_until=now + timedelta(seconds=lease_seconds()),
            error=None,
        )
    )
    db.session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


class _Heartbeat:
    """Extend a running job's lease from a side thread while its handler works.

    A handler deep in a long transcription reports no progress for minutes; the lease
    must still say the worker is alive. If the worker process dies, so does this thread,
    and the lease runs out.
    """

    def __init__(self, app: Flask, job_id: uuid.UUID) -> None:
        self.app, self.job_id = app, job_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"lease-{job_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _beat(self) -> None:
        with self.app.app_context():
            seconds = lease_seconds()
            while not self.stop.wait(max(0.5, seconds / 3)):
                try:
                    db.session.execute(
                        sa.update(Job)
                        .where(Job.id == self.job_id, Job.status == JobStatus.running)
                        .values(lease_until=utcnow() + timedelta(seconds=seconds))
                    )
                    db.session.commit()
                except Exception:  # a missed beat is retried at the next one
                    log.exception("could not extend the lease of job %s", self.job_id)
                    db.session.rollback()
            db.session.remove()


def is_outage(error: BaseException) -> bool:
    """Tell whether a job failed because the database or the blob store was away.

    Such a failure says nothing about the job: it is tried again after
    ``JOB_OUTAGE_RETRY_SECONDS`` without using one of its attempts, so an outage longer
    than the retry backoff does not fail good work for good.
    """
    return isinstance(error, StorageUnavailable) or database_unavailable(error)


def run_job(job_id: uuid.UUID) -> None:
    """Run one job to success, retry or failure."""
    if not claim(job_id):
        log.info("job %s is taken or finished; skipping", job_id)
        return
    job = db.session.get_one(Job, job_id)
    handler = HANDLERS.get(job.kind)
    try:
        if handler is None:
            raise PermanentJobError(f"no handler for jobs of kind {job.kind!r}")
        with _Heartbeat(current_app._get_current_object(), job_id):  # type: ignore[attr-defined]
            handler(JobContext(job))
    except Exception as exc:
        try:
            _record_failure(job_id, exc)
        except Exception:
            # the database itself is away: the lease runs out and the sweeper sends the
            # job again once it is back
            log.warning("could not record the failure of job %s", job_id, exc_info=True)
            db.session.rollback()
        return
    job.status = JobStatus.succeeded
    job.progress = 1.0
    job.finished_at = utcnow()
    job.lease_until = None
    kind, attempt = job.kind, job.attempts
    try:
        db.session.commit()
    except Exception:
        # The database went away during the commit, which may or may not have landed. If
        # it did not, the lease runs out and the job runs again (handlers are idempotent).
        log.warning("job %s (%s) finished; recording it failed", job_id, kind, exc_info=True)
        db.session.rollback()
        return
    log.info("job %s (%s) succeeded on attempt %s", job_id, kind, attempt)
    dispatch()


def _record_failure(job_id: uuid.UUID, exc: Exception) -> None:
    """Queue the job again with backoff, or fail it for good and tell its subject."""
    db.session.rollback()
    job = db.session.get_one(Job, job_id)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    outage = is_outage(exc)
    if outage:
        job.attempts -= 1  # the job itself did nothing wrong
        delay = float(app.config["JOB_OUTAGE_RETRY_SECONDS"])
    else:
        delay = backoff(job.attempts, app.config["JOB_RETRY_BASE"])
    retry = outage or (not isinstance(exc, PermanentJobError) and job.attempts < job.max_attempts)
    log.warning("job %s (%s) failed on attempt %s: %s", job_id, job.kind, job.attempts, exc)
    job.error = f"{type(exc).__name__}: {exc}"[:2000]
    job.status = JobStatus.queued if retry else JobStatus.failed
    job.lease_until = None
    job.worker = None
    job.due_at = utcnow() + timedelta(seconds=delay) if retry else None
    job.finished_at = None if retry else utcnow()
    on_failure = FAILURE_HOOKS.get(job.kind)
    if not retry and on_failure is not None:
        on_failure(job, exc)
    db.session.commit()
    if retry:
        enqueue(app, job_id, delay=delay)


def backoff(attempt: int, base: float = 5.0) -> float:
    """Return the delay before the next attempt: base, 4x base, 16x base... at most 10 minutes."""
    return float(min(600.0, base * 4 ** (attempt - 1)))


# kind -> hook(job, exc) called once when a job fails for good, to mark its subject
FAILURE_HOOKS: dict[str, Callable[[Job, BaseException], None]] = {}
