"""Job rows and Huey: run once, retry with backoff, survive a lost worker."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from server import create_app, migrate
from server.extensions import db
from server.jobs import JobContext, PermanentJobError, jobs, register
from server.jobs.runner import claim, run_job
from server.models import Job, JobStatus, utcnow
from server.storage import StorageUnavailable
from tests.conftest import app_config
from tests.services import create_postgres_database, drop_postgres_database, free_port

RUNS: dict[str, list[str]] = {}
GATE = threading.Event()


@register("test.record")
def record_run(ctx: JobContext) -> None:
    """Record that the job ran, reporting progress on the way."""
    ctx.progress(0.5)
    RUNS.setdefault(ctx.job.params["tag"], []).append(ctx.job.worker or "")


@register("test.flaky")
def flaky(ctx: JobContext) -> None:
    """Fail on the first attempt, succeed on the second."""
    RUNS.setdefault(ctx.job.params["tag"], []).append(f"attempt {ctx.job.attempts}")
    if ctx.job.attempts < 2:
        raise ConnectionError("storage did not answer")


@register("test.broken_input")
def broken_input(ctx: JobContext) -> None:
    """Fail in a way retrying cannot fix."""
    raise PermanentJobError("the audio is not audio")


def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture(params=["sqlite", "postgres"])
def job_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app with Huey on SQLite and real commits (no rolled-back test transaction)."""
    url = (
        f"sqlite:///{tmp_path / 'fb.db'}"
        if request.param == "sqlite"
        else create_postgres_database()
    )
    app = create_app(app_config(tmp_path, url, JOBS="sqlite", JOB_RETRY_BASE=0.2))
    with app.app_context():
        migrate.upgrade()
    yield app
    with app.app_context():
        jobs.stop_consumer(app)
        db.session.remove()
        db.engine.dispose()
    if request.param == "postgres":
        drop_postgres_database(url)


def submit(app: Flask, kind: str, tag: str, **kw) -> uuid.UUID:  # type: ignore[no-untyped-def]
    with app.app_context():
        job = jobs.submit(kind, params={"tag": tag}, **kw)
        db.session.commit()
        jobs.dispatch()
        return job.id


def job_row(app: Flask, job_id: uuid.UUID) -> Job:
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert job is not None
        db.session.expunge(job)
        return job


def test_job_runs_once_in_consumer_threads(job_app: Flask) -> None:
    tag = uuid.uuid4().hex
    job_id = submit(job_app, "test.record", tag)
    assert job_row(job_app, job_id).status == JobStatus.queued
    jobs.start_consumer(job_app, threads=2)
    wait_for(lambda: job_row(job_app, job_id).status == JobStatus.succeeded)
    done = job_row(job_app, job_id)
    assert done.progress == 1.0 and done.attempts == 1 and done.finished_at is not None
    assert len(RUNS[tag]) == 1


def test_same_work_is_not_queued_twice(job_app: Flask) -> None:
    tag = uuid.uuid4().hex
    first = submit(job_app, "test.record", tag, dedup_key=f"audio:{tag}:tiny.en")
    second = submit(job_app, "test.record", tag, dedup_key=f"audio:{tag}:tiny.en")
    assert first == second
    jobs.start_consumer(job_app, threads=2)
    wait_for(lambda: job_row(job_app, first).status == JobStatus.succeeded)
    time.sleep(0.3)
    assert len(RUNS[tag]) == 1


def test_failed_job_is_retried_with_backoff(job_app: Flask) -> None:
    tag = uuid.uuid4().hex
    job_id = submit(job_app, "test.flaky", tag)
    jobs.start_consumer(job_app, threads=1)
    wait_for(lambda: job_row(job_app, job_id).status == JobStatus.succeeded)
    assert RUNS[tag] == ["attempt 1", "attempt 2"]
    assert job_row(job_app, job_id).error is None


def test_permanent_failure_fails_at_once_with_reason(job_app: Flask) -> None:
    job_id = submit(job_app, "test.broken_input", "x")
    jobs.start_consumer(job_app, threads=1)
    wait_for(lambda: job_row(job_app, job_id).status == JobStatus.failed)
    failed = job_row(job_app, job_id)
    assert failed.attempts == 1
    assert failed.error == "PermanentJobError: the audio is not audio"


def test_two_workers_never_take_the_same_job(job_app: Flask) -> None:
    job_id = submit(job_app, "test.record", uuid.uuid4().hex)
    with job_app.app_context():
        assert claim(job_id) is True
        assert claim(job_id) is False


def test_rel14_job_of_a_lost_worker_is_requeued_and_finishes_once(job_app: Flask) -> None:
    tag = uuid.uuid4().hex
    job_id = submit(job_app, "test.record", tag)
    with job_app.app_context():
        # a worker claimed the job, then died without a word: its lease runs out
        assert claim(job_id)
        db.session.execute(
            sa.update(Job)
            .where(Job.id == job_id)
            .values(lease_until=utcnow() - timedelta(seconds=1), worker="dead-host:1")
        )
        db.session.commit()
        # the dead worker's own late run must not happen twice: a live lease blocks it
        assert jobs.requeue_stale() == 1
    jobs.start_consumer(job_app, threads=1)
    wait_for(lambda: job_row(job_app, job_id).status == JobStatus.succeeded)
    assert len(RUNS[tag]) == 1
    with job_app.app_context():
        run_job(job_id)  # a duplicate delivery after success does nothing
    assert len(RUNS[tag]) == 1
    assert job_row(job_app, job_id).attempts == 2


OUTAGES: dict[str, int] = {}


@register("test.store_away")
def store_away(ctx: JobContext) -> None:
    """Meet an unreachable blob store on the first three tries, then succeed."""
    tag = ctx.job.params["tag"]
    OUTAGES[tag] = OUTAGES.get(tag, 0) + 1
    RUNS.setdefault(tag, []).append(f"attempt {ctx.job.attempts}")
    if OUTAGES[tag] <= 3:
        raise StorageUnavailable("S3 is unreachable while trying to read")


def test_a_job_whose_queue_message_was_lost_is_sent_again(job_app: Flask) -> None:
    tag = uuid.uuid4().hex
    with job_app.app_context():
        # the row commits, but its id never reaches the broker (Redis restarted empty)
        job = jobs.submit("test.record", params={"tag": tag})
        db.session.commit()
        db.session.info.pop("fieldbook.jobs.ready")
        job_id = job.id
        assert jobs.sweep(redeliver_after=60) == 0  # not overdue yet: nothing sent
        db.session.execute(
            sa.update(Job).where(Job.id == job_id).values(due_at=utcnow() - timedelta(minutes=2))
        )
        db.session.commit()
        assert jobs.sweep(redeliver_after=60) == 1
        assert jobs.sweep(redeliver_after=60) == 0  # sent once per overdue period
    jobs.start_consumer(job_app, threads=1)
    wait_for(lambda: job_row(job_app, job_id).status == JobStatus.succeeded)
    assert len(RUNS[tag]) == 1


def test_a_broker_that_is_away_at_commit_loses_nothing(job_app: Flask) -> None:
    tag = uuid.uuid4().hex
    with job_app.app_context():
        task = job_app.extensions["fieldbook.task"]

        def broker_away(*args: object, **kwargs: object) -> None:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        job_app.extensions["fieldbook.task"] = broker_away
        try:
            job = jobs.submit("test.record", params={"tag": tag})
            db.session.commit()
            jobs.dispatch()  # logged, not raised: the request that committed succeeds
        finally:
            job_app.extensions["fieldbook.task"] = task
        job_id = job.id
        assert job_row(job_app, job_id).status == JobStatus.queued
        assert jobs.sweep(redeliver_after=0) == 1
    jobs.start_consumer(job_app, threads=1)
    wait_for(lambda: job_row(job_app, job_id).status == JobStatus.succeeded)
    assert len(RUNS[tag]) == 1


def test_an_outage_longer_than_the_backoff_does_not_fail_the_job(job_app: Flask) -> None:
    job_app.config["JOB_OUTAGE_RETRY_SECONDS"] = 0.1
    tag = uuid.uuid4().hex
    job_id = submit(job_app, "test.store_away", tag, max_attempts=2)
    jobs.start_consumer(job_app, threads=1)
    wait_for(lambda: job_row(job_app, job_id).status == JobStatus.succeeded)
    # four runs with two attempts allowed: the three outages used none of them
    assert RUNS[tag] == ["attempt 1"] * 4
    done = job_row(job_app, job_id)
    assert done.attempts == 1 and done.error is None


def test_the_api_answers_503_while_the_database_is_away(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://fieldbook@127.0.0.1:{free_port()}/nowhere"
    app = create_app(app_config(tmp_path, url, JOBS="immediate"))
    response = app.test_client().get(
        "/api/v1/studies",
        headers={"Authorization": "Bearer fb_x", "Accept": "application/json"},
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    body = response.get_json()
    assert body["code"] == "server.database_unavailable"
    assert "psycopg" not in response.get_data(as_text=True)
