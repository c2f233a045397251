"""The scale profile run for real: PostgreSQL, S3 (moto), Redis, gunicorn, two workers."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest

from tests.services import missing, port_open, require_module


@pytest.fixture(scope="module")
def stack() -> Iterator[object]:
    """Start the scale stack once for this module; stop it whatever happens."""
    for module in ("moto", "boto3", "redis", "PIL"):
        require_module(module)
    if not port_open("127.0.0.1", 5432):
        missing("PostgreSQL on 127.0.0.1:5432")
    if not port_open("127.0.0.1", 6379):
        missing("Redis on 127.0.0.1:6379")
    from bench import load_bench, scale_stack

    running = scale_stack.start("scale", redis_db=14, extra_env=load_bench.BENCH_ENV)
    try:
        yield running
    finally:
        running.stop()


def test_twenty_phone_submissions_are_all_kept_once_and_processed(stack: object) -> None:
    from bench import load_bench
    from bench.scale_stack import Stack

    assert isinstance(stack, Stack)
    scenario, phones, _ = load_bench.prepare(stack.base_url, stack.password, 2, 0)
    rng = random.Random(7)
    # 4 visits, each with 2 photos, a note and a recording: 20 creates
    for number in range(4):
        load_bench.submit_one_visit(scenario, phones[number % 2], rng)
    assert scenario.tally.errors == {}, (scenario.tally.statuses, stack.logs())
    assert len(scenario.visits) == 4 and len(scenario.items) == 16
    report = load_bench.check_zero_loss(scenario, wait_ready_s=90)
    assert report.zero_loss, report
    assert scenario.retries_other == 0
    # the job workers processed every item
    assert report.statuses == {"ready": 16}, (report.statuses, stack.logs())
    for client in (scenario.admin, *phones):
        client.session.close()


def test_the_stack_is_ready_and_logs_json(stack: object) -> None:
    import requests

    from bench.scale_stack import Stack

    assert isinstance(stack, Stack)
    response = requests.get(f"{stack.base_url}/readyz", timeout=10)
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "storage": "ok", "jobs": "ok"}
    requests.get(f"{stack.base_url}/healthz", headers={"X-Request-Id": "stack-7"}, timeout=10)
    lines = stack.process("web").log_path.read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(e.get("request_id") == "stack-7" and e.get("status") == 200 for e in entries)
