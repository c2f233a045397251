"""The job queue extension: builds Huey from configuration and submits job rows."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.jobs.dispatch import PENDING, dispatch, enqueue
from server.jobs.runner import run_job
from server.models import Job, JobStatus, utcnow

log = logging.getLogger(__name__)


def build_huey(config: dict[str, Any]) -> Huey:
    """Build the Huey instance the configuration asks for."""
    mode = config["JOBS"]
    if mode == "redis":
        return RedisHuey("fieldbook", url=config["REDIS_URL"])
    if mode == "immediate":
        return MemoryHuey("fieldbook", immediate=True)
    if mode == "sqlite":
        return SqliteHuey("fieldbook", filename=config["JOBS_PATH"])
    raise ValueError(f"FIELDBOOK_JOBS must be sqlite, redis or immediate, not {mode!r}")


class _ThreadConsumer(Consumer):
    """A consumer that runs as threads inside another process and leaves signals alone."""

    def _set_signal_handlers(self) -> None:
        return None


class JobQueue:
    """Creates job rows and hands their ids to Huey once the row is committed."""

    def init_app(self, app: Flask) -> None:
        """Build Huey for the app and register the task that runs any job."""
        huey = build_huey(app.config)
        app.extensions["fieldbook.huey"] = huey
        app.extensions["fieldbook.consumer"] = None

        def execute(job_id: str) -> None:
            with app.app_context():
                run_job(uuid.UUID(job_id))

        def requeue() -> None:
            with app.app_context():
                self.requeue_stale()

        app.extensions["fieldbook.task"] = huey.task(name="fieldbook.run_job")(execute)
        huey.periodic_task(crontab(minute="*"), name="fieldbook.requeue_stale")(requeue)

    def submit(
        self,
        kind: str,
        *,
        study_id: uuid.UUID | None = None,
        subject_type: str = "",
        subject_id: Any = "",
        params: dict[str, Any] | None = None,
        dedup_key: str | None = None,
        max_attempts: int = 3,
    ) -> Job:
        """Create a job row; its id goes to the queue after the transaction commits.

        With a ``dedup_key`` the same work is never queued twice: the existing job is
        returned instead.
        """
        if dedup_key is not None:
            existing = db.session.scalar(sa.select(Job).where(Job.dedup_key == dedup_key))
            if existing is not None:
                return existing
        job = Job(
            kind=kind,
            study_id=study_id,
            subject_type=subject_type,
            subject_id=str(subject_id),
            params=params or {},
            dedup_key=dedup_key,
            max_attempts=max_attempts,
        )
        savepoint = db.session.begin_nested()
        try:
            db.session.add(job)
            db.session.flush()
        except IntegrityError:
            savepoint.rollback()
            found = db.session.scalar(sa.select(Job).where(Job.dedup_key == dedup_key))
            if found is None:
                raise
            return found
        savepoint.commit()
        db.session.info.setdefault(PENDING, []).append(job.id)
        return job

    def dispatch(self) -> None:
        """Hand the ids of committed jobs to Huey; call after a commit."""
        dispatch()

    def requeue_stale(self) -> int:
        """Queue again the jobs whose worker stopped reporting; return how many."""
        now = utcnow()
        stale = list(
            db.session.scalars(
                sa.select(Job.id).where(Job.status == JobStatus.running, Job.lease_until < now)
            )
        )
        requeued = []
        for job_id in stale:
            result = db.session.execute(
                sa.update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.running, Job.lease_until < now)
                .values(status=JobStatus.queued, worker=None, lease_until=None)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                requeued.append(job_id)
        db.session.commit()
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        for job_id in requeued:
            log.warning("job %s lost its worker; queued again", job_id)
            enqueue(app, job_id)
        return len(requeued)

    def start_consumer(self, app: Flask, threads: int) -> Consumer:
        """Run consumer threads inside this process (the embedded default)."""
        consumer = _ThreadConsumer(
            app.extensions["fieldbook.huey"], workers=threads, worker_type="thread"
        )
        consumer.start()
        app.extensions["fieldbook.consumer"] = consumer
        return consumer

    def stop_consumer(self, app: Flask) -> None:
        """Stop in-process consumer threads, letting running jobs finish."""
        consumer = app.extensions.get("fieldbook.consumer")
        if consumer is not None:
            consumer.stop(graceful=True)
            app.extensions["fieldbook.consumer"] = None


jobs = JobQueue()
