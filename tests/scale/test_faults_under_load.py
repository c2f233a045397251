"""Faults under load on the scale profile: nothing acknowledged lost or doubled, jobs once.

One stack runs for the whole module with a PostgreSQL cluster and a Redis of its own
(so that they can be restarted without touching the machine's), moto's S3 behind a relay
that can cut it off, gunicorn and two job workers. Phones (``field_phones``) keep sending
visits, photos, notes and recordings through each fault, every create sent again until
acknowledged, as the field kit's outbox does. After each fault the phones finish the
visit they are on and the check runs:

* every acknowledged visit and item is listed once, with its id and sha256, and every
  item reached ``ready`` (its processing job ran);
* no client UUID is stored twice, and no work was queued twice (one job per subject);
* every job succeeded, and the workers' logs say so exactly once per job.

The sweeper and lease run on short clocks here (seconds, not minutes) so that recovery
fits in a test; the code paths are those of production.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from tests.services import SHARED, missing, port_open, require_module

pytestmark = pytest.mark.timeout(900)

PHONES = 4
CALL = SHARED / "audio" / "call_phone8k.wav"
MODEL = SHARED / "models" / "faster-whisper-tiny.en"
# how long S3 stays unreachable; the issue asks for a minute
S3_OUTAGE_S = float(os.environ.get("FIELDBOOK_TEST_S3_OUTAGE_S", "60"))
STACK_ENV = {
    "FIELDBOOK_LOGIN_RATE_LIMIT": "10000 per minute",
    "FIELDBOOK_UPLOAD_RATE_LIMIT": "100000 per minute",
    "FIELDBOOK_AUTO_TRANSCRIBE": "false",
    "FIELDBOOK_WHISPER_MODEL": str(MODEL),
    "FIELDBOOK_WHISPER_THREADS": "1",
    "FIELDBOOK_JOB_LEASE_SECONDS": "6",
    "FIELDBOOK_JOB_SWEEP_SECONDS": "2",
    "FIELDBOOK_JOB_REDELIVER_SECONDS": "8",
    "FIELDBOOK_JOB_OUTAGE_RETRY_SECONDS": "3",
}


@dataclass
class Field:
    """The running stack and the study its phones work in."""

    stack: Any
    scenario: Any
    tokens: list[str]
    route: Any
    engine: sa.Engine
    fleets: int = 0

    def fleet(self) -> Any:
        """Return a new fleet of phones on this study (not started)."""
        from tests.scale.field_phones import Fleet

        self.fleets += 1
        return Fleet(self.scenario, self.route, self.tokens, seed=self.fleets)


@pytest.fixture(scope="module")
def field() -> Iterator[Field]:
    """Start the stack with its own services once for the module; stop it afterwards."""
    for module in ("moto", "boto3", "redis", "PIL", "psycopg"):
        require_module(module)
    if not MODEL.is_dir() or not CALL.is_file():
        missing(f"the tiny Whisper model and the call recording under {SHARED}")
    from bench import load_bench, scale_stack
    from tests.scale.field_phones import Route

    try:
        stack = scale_stack.start("scale", private_services=True, extra_env=STACK_ENV)
    except scale_stack.StackError as error:
        if "not installed" in str(error):
            missing(str(error))
        raise
    engine = sa.create_engine(stack.database_url, pool_pre_ping=True)
    try:
        scenario, phones, _ = load_bench.prepare(stack.base_url, stack.password, PHONES, 0)
        tokens = [phone.token for phone in phones]
        for phone in phones:
            phone.session.close()
        yield Field(stack, scenario, tokens, Route(stack.base_url), engine)
    finally:
        engine.dispose()
        stack.stop()


def job_rows(field: Field) -> list[sa.Row[Any]]:
    """Return every job: id, kind, subject, status and attempts."""
    with field.engine.connect() as conn:
        return list(
            conn.execute(sa.text("SELECT id, kind, subject_id, status, attempts, error FROM jobs"))
        )


def log_lines(field: Field, pattern: str) -> list[str]:
    """Return the messages of the workers' JSON logs that contain ``pattern``."""
    messages = []
    for process in field.stack.processes:
        if not process.name.startswith("worker"):
            continue
        for line in process.log_path.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            message = str(json.loads(line).get("message", ""))
            if pattern in message:
                messages.append(message)
    return messages


def settle(field: Field, timeout: float = 180.0) -> list[sa.Row[Any]]:
    """Wait until no job is queued or running; return the job rows."""
    deadline = time.monotonic() + timeout
    while True:
        rows = job_rows(field)
        if not any(row.status in ("queued", "running") for row in rows):
            return rows
        if time.monotonic() > deadline:
            pending = Counter(row.status for row in rows)
            raise AssertionError(f"jobs not settled: {pending}\n{field.stack.logs(60)}")
        time.sleep(0.5)


def assert_nothing_lost_nothing_doubled(field: Field, fleet: Any) -> dict[str, Any]:
    """The checks every fault ends with; return a few figures about the run."""
    from bench import load_bench

    assert fleet.outcomes.refused == [], fleet.outcomes.refused
    rows = settle(field)
    report = load_bench.check_zero_loss(field.scenario, wait_ready_s=120)
    assert report.zero_loss, (report, field.stack.logs(60))
    assert set(report.statuses) == {"ready"}, report.statuses
    statuses = Counter(row.status for row in rows)
    assert statuses == {"succeeded": len(rows)}, [r for r in rows if r.status != "succeeded"]
    per_subject = Counter((row.kind, row.subject_id) for row in rows)
    assert max(per_subject.values()) == 1, [k for k, n in per_subject.items() if n > 1]
    finished = Counter(message.split()[1] for message in log_lines(field, ") succeeded on attempt"))
    # a commit cut by the database going away may have landed without the worker knowing
    unsure = {message.split()[1] for message in log_lines(field, "; recording it failed")}
    assert {str(row.id) for row in rows} <= set(finished) | unsure
    assert max(finished.values()) == 1, [j for j, n in finished.items() if n > 1]
    return {
        "visits": report.visits_acked,
        "items": report.items_acked,
        "answers": dict(fleet.outcomes.answers),
    }


def test_the_web_server_sigkilled_and_restarted_under_load(field: Field) -> None:
    with field.fleet() as fleet:
        fleet.wait_for_visits(4)
        field.stack.restart("web", signal.SIGKILL)
        fleet.wait_for_visits(12)
    figures = assert_nothing_lost_nothing_doubled(field, fleet)
    # the phones really met the dead server, and got past it by sending again
    assert figures["answers"].get(0, 0) > 0, figures


def test_a_worker_killed_mid_transcription(field: Field) -> None:
    from tests.live.api_client import ApiClient, visit_body

    admin = field.scenario.admin
    data = CALL.read_bytes()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {field.tokens[0]}"
    phone = ApiClient(field.stack.base_url, field.tokens[0], session)
    body = visit_body(title="Called the help desk about a bill")
    visit = phone.created(f"/studies/{field.scenario.study_id}/visits", body)["id"]
    field.scenario.visits[body["client_uuid"]] = visit
    form = {"kind": "audio", "client_uuid": str(uuid.uuid4()), "device": "Pixel 8"}
    stored = phone.post(
        f"/visits/{visit}/evidence", data=form, files={"file": ("call.wav", data, "audio/wav")}
    )
    assert stored.status_code == 201, stored.text
    call = stored.json()
    phone.session.close()
    with field.fleet() as fleet:
        queued = admin.post(f"/evidence/{call['id']}/transcripts", json={})
        assert queued.status_code == 202, queued.text
        job_id = queued.json()["id"]
        # wait until a worker is inside the transcription, then kill that worker
        deadline = time.monotonic() + 120
        while True:
            job = admin.get(f"/jobs/{job_id}").json()
            if job["status"] == "running":
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
        with field.engine.connect() as conn:
            worker = conn.execute(
                sa.text("SELECT worker FROM jobs WHERE id = :id"), {"id": uuid.UUID(job_id)}
            ).scalar_one()
        pid = int(worker.rsplit(":", 1)[1])
        victim = next(p for p in field.stack.processes if p.popen.pid == pid)
        victim.kill(signal.SIGKILL)
        victim.respawn()
        fleet.wait_for_visits(4)
    figures = assert_nothing_lost_nothing_doubled(field, fleet)
    with field.engine.connect() as conn:
        job = conn.execute(
            sa.text("SELECT status, attempts FROM jobs WHERE id = :id"),
            {"id": uuid.UUID(job_id)},
        ).one()
        transcripts = conn.execute(
            sa.text("SELECT count(*) FROM transcripts WHERE blob_sha256 = :sha"),
            {"sha": call["sha256"]},
        ).scalar_one()
    # the killed attempt left nothing behind; the second one finished, once
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert transcripts == 1
    listed = admin.get(f"/evidence/{call['id']}/transcripts").json()
    assert len(listed) == 1 and "goodbye" in json.dumps(listed).lower(), figures


def test_redis_restarted_empty_under_load(field: Field) -> None:
    swept_before = len(log_lines(field, "lost its worker or its queue message"))
    with field.fleet() as fleet:
        fleet.wait_for_visits(3)
        # down for a few seconds: creates made meanwhile cannot reach the queue, and
        # whatever was queued is gone when it comes back empty
        field.stack.restart("redis", signal.SIGKILL, down_s=4)
        fleet.wait_for_visits(10)
    assert_nothing_lost_nothing_doubled(field, fleet)
    # the sweeper, not luck, delivered the work Redis lost
    assert len(log_lines(field, "lost its worker or its queue message")) > swept_before


def test_postgresql_restarted_under_load(field: Field) -> None:
    with field.fleet() as fleet:
        fleet.wait_for_visits(3)
        # immediate shutdown: every connection dropped mid-transaction, crash recovery
        field.stack.restart("postgres", signal.SIGQUIT, down_s=3)
        fleet.wait_for_visits(10)
    figures = assert_nothing_lost_nothing_doubled(field, fleet)
    # requests during the outage were answered 503 (or cut), never acknowledged
    assert figures["answers"].get(503, 0) + figures["answers"].get(0, 0) > 0, figures


def test_s3_unreachable_for_a_while_under_load(field: Field) -> None:
    relay = field.stack.s3_relay
    with field.fleet() as fleet:
        fleet.wait_for_visits(3)
        relay.go_down()
        try:
            time.sleep(S3_OUTAGE_S)
        finally:
            relay.come_back()
        fleet.wait_for_visits(8, timeout=120)
    figures = assert_nothing_lost_nothing_doubled(field, fleet)
    # uploads were refused with 503 while S3 was away, then sent again and kept
    assert figures["answers"].get(503, 0) > 0, figures


def test_a_slow_lossy_network_between_phones_and_server(field: Field) -> None:
    from tests.uploads.fault_proxy import FaultProxy

    port = int(field.stack.base_url.rsplit(":", 1)[1])
    # about 0.8 Mbit/s towards the server, every 40 kB the connection cut mid-request
    proxy = FaultProxy(port, rate=100_000, cut_every=40_000)
    field.route.base_url = proxy.base_url
    try:
        with field.fleet() as fleet:
            fleet.wait_for_visits(12, timeout=180)
    finally:
        field.route.base_url = field.stack.base_url
        proxy.close()
    figures = assert_nothing_lost_nothing_doubled(field, fleet)
    assert proxy.cuts > 0 and figures["answers"].get(0, 0) > 0, (proxy.cuts, figures)


def test_the_whole_run_kept_everything(field: Field) -> None:
    """After every fault: counts straight from the database match what was acknowledged."""
    scenario = field.scenario
    with field.engine.connect() as conn:
        visits = conn.execute(sa.text("SELECT count(*) FROM visits")).scalar_one()
        items = conn.execute(sa.text("SELECT count(*) FROM evidence")).scalar_one()
        doubled = conn.execute(
            sa.text(
                "SELECT count(*) FROM (SELECT client_uuid FROM evidence "
                "GROUP BY client_uuid HAVING count(*) > 1) AS d"
            )
        ).scalar_one()
    assert visits == len(scenario.visits)
    # the phones' items, plus the call recording of the worker test
    assert items == len(scenario.items) + 1
    assert doubled == 0
    assert port_open("127.0.0.1", field.stack.service_ports["postgres"])
    assert Path(field.stack.data_dir).is_dir()
