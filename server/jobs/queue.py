"""The job queue extension: builds Huey from configuration and submits job rows."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
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
        app.extensions["fieldbook.sweeper"] = None

        def execute(job_id: str) -> None:
            with app.app_context():
                run_job(uuid.UUID(job_id))

        app.extensions["fieldbook.task"] = huey.task(name="fieldbook.run_job")(execute)

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
            due_at=utcnow(),
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
        return self.sweep(redeliver_after=None)

    def sweep(self, redeliver_after: float | None = None) -> int:
        """Send again the ids of jobs the queue lost; return how many were sent.

        The job rows are the truth and the broker only carries their ids, so two kinds
        of job are found from the database: running jobs whose worker stopped renewing
        its lease (it died), and, with ``redeliver_after`` seconds, queued jobs that have
        been due that long without any worker taking them (their message was lost, as
        when Redis restarts empty or was down at commit). Sending an id twice is safe:
        only one worker can claim a job.
        """
        now = utcnow()
        stale = sa.and_(Job.status == JobStatus.running, Job.lease_until < now)
        conditions = [stale]
        if redeliver_after is not None:
            overdue = now - timedelta(seconds=redeliver_after)
            conditions.append(sa.and_(Job.status == JobStatus.queued, Job.due_at < overdue))
        found = list(db.session.scalars(sa.select(Job.id).where(sa.or_(*conditions))))
        resend = []
        for job_id in found:
            result = db.session.execute(
                sa.update(Job)
                .where(Job.id == job_id, sa.or_(*conditions))
                .values(status=JobStatus.queued, worker=None, lease_until=None, due_at=now)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                resend.append(job_id)
        db.session.commit()
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        for job_id in resend:
            log.warning("job %s lost its worker or its queue message; sent again", job_id)
            enqueue(app, job_id)
        return len(resend)

    def start_consumer(self, app: Flask, threads: int) -> Consumer:
        """Run consumer threads inside this process (the embedded default)."""
        consumer = _ThreadConsumer(
            app.extensions["fieldbook.huey"], workers=threads, worker_type="thread"
        )
        consumer.start()
        app.extensions["fieldbook.consumer"] = consumer
        # this process is the web server, so the upload spool it sweeps is its own
        self.start_sweeper(app, reclaim_uploads=True)
        return consumer

    def stop_consumer(self, app: Flask) -> None:
        """Stop in-process consumer threads, letting running jobs finish."""
        self.stop_sweeper(app)
        consumer = app.extensions.get("fieldbook.consumer")
        if consumer is not None:
            consumer.stop(graceful=True)
            app.extensions["fieldbook.consumer"] = None

    def start_sweeper(self, app: Flask, *, reclaim_uploads: bool = False) -> Sweeper:
        """Sweep for lost jobs (and expired uploads) from a side thread until stopped."""
        sweeper = Sweeper(app, reclaim_uploads=reclaim_uploads)
        sweeper.start()
        app.extensions["fieldbook.sweeper"] = sweeper
        return sweeper

    def stop_sweeper(self, app: Flask) -> None:
        """Stop this process's sweeper thread, if it has one."""
        sweeper = app.extensions.get("fieldbook.sweeper")
        if sweeper is not None:
            sweeper.stop()
            app.extensions["fieldbook.sweeper"] = None


class Sweeper:
    """Every ``JOB_SWEEP_SECONDS``, send again the jobs the queue lost (see ``sweep``).

    It talks to the database, not the broker, so it keeps going while Redis is away
    and sends what was lost once Redis is back. Every worker process runs one; they
    cannot send the same job twice because each sweep takes a job with one UPDATE.
    In the web server of the embedded profile, each sweep also removes expired
    unfinished uploads and their bytes, which would otherwise wait for the next upload to
    make room. Separate workers leave that to the web servers, whose spool it is.
    """

    def __init__(self, app: Flask, *, reclaim_uploads: bool = False) -> None:
        self.app = app
        self.reclaim_uploads = reclaim_uploads
        self.interval = float(app.config["JOB_SWEEP_SECONDS"])
        self.redeliver_after = float(app.config["JOB_REDELIVER_SECONDS"])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-sweeper", daemon=True)

    def start(self) -> None:
        """Start sweeping."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the sweep under way, if any."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sweep_once()

    def sweep_once(self) -> None:
        """Send lost jobs again, reclaim expired uploads if asked; a failure waits."""
        # imported here: the upload service imports this package (it enqueues jobs)
        from server.services.uploads import reclaim_expired

        chores: list[tuple[str, Callable[[], object]]] = [
            ("job sweep", lambda: jobs.sweep(self.redeliver_after))
        ]
        if self.reclaim_uploads:
            chores.append(("upload reclaim", reclaim_expired))
        with self.app.app_context():
            for name, work in chores:
                try:
                    work()
                except Exception:  # the database, broker or store is away
                    log.warning("%s failed; trying again later", name, exc_info=True)
                    db.session.rollback()
                finally:
                    db.session.remove()


jobs = JobQueue()
