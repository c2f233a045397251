"""Jobs at scale: Huey on real Redis, separate `fieldbook worker` processes (RELIABILITY 14)."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from tests.live.server_process import (
    FIELDBOOK,
    ServerProcess,
    fieldbook_env,
    run_fieldbook,
    start_fieldbook,
)
from tests.services import REDIS_URL, SHARED, free_port, missing, port_open

CALL = SHARED / "audio" / "call_phone8k.wav"
MODEL = SHARED / "models" / "faster-whisper-tiny.en"
PASSWORD = "worker-test-password"


class Stack:
    """A server and its workers on one data folder, talking through Redis."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/api/v1"
        self.env = fieldbook_env(
            tmp,
            f"sqlite:///{tmp / 'fieldbook.db'}",
            FIELDBOOK_JOBS="redis",
            FIELDBOOK_REDIS_URL=REDIS_URL,
            FIELDBOOK_WHISPER_MODEL=str(MODEL),
            FIELDBOOK_WHISPER_THREADS="1",
            FIELDBOOK_JOB_LEASE_SECONDS="4",
        )
        self.server: ServerProcess | None = None
        self.processes: list[subprocess.Popen[bytes]] = []

    def fieldbook(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        out = open(self.tmp / log, "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen([str(FIELDBOOK), *args], env=self.env, stdout=out, stderr=out)
        self.processes.append(process)
        return process

    def start(self) -> None:
        init = run_fieldbook({**self.env, "FIELDBOOK_PASSWORD": PASSWORD}, "init")
        assert init.returncode == 0, init.stdout + init.stderr
        self.server = start_fieldbook(self.env, self.port, self.tmp / "server.log")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    if not port_open("127.0.0.1", 6379):
        missing("Redis on 127.0.0.1:6379")
    redis.Redis.from_url(REDIS_URL).flushdb()
    running = Stack(tmp_path)
    running.start()
    yield running
    running.stop()
    redis.Redis.from_url(REDIS_URL).flushdb()


def session(stack: Stack, email: str, password: str) -> requests.Session:
    token = requests.post(
        f"{stack.base}/tokens",
        json={"email": email, "password": password, "device_name": "t"},
        timeout=10,
    ).json()["token"]
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    return http


def upload_call(stack: Stack) -> tuple[requests.Session, dict[str, Any]]:
    admin = session(stack, "admin@fieldbook.local", PASSWORD)
    study = admin.post(f"{stack.base}/studies", json={"name": "Help desk"}).json()
    user = admin.post(
        f"{stack.base}/users", json={"email": "r@example.test", "password": "researcher-pass"}
    ).json()
    admin.post(
        f"{stack.base}/studies/{study['id']}/members",
        json={"user_id": user["id"], "role": "researcher"},
    )
    researcher = session(stack, "r@example.test", "researcher-pass")
    visit = researcher.post(
        f"{stack.base}/studies/{study['id']}/visits",
        json={"channel": "phone", "client_uuid": str(uuid.uuid4())},
    ).json()
    with open(CALL, "rb") as audio:
        item = researcher.post(
            f"{stack.base}/visits/{visit['id']}/evidence",
            data={"kind": "audio", "client_uuid": str(uuid.uuid4())},
            files={"file": ("call.wav", audio)},
        ).json()
    return researcher, item


def wait_for_job(
    http: requests.Session, stack: Stack, item_id: str, test: Any, timeout: float = 240
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = http.get(f"{stack.base}/evidence/{item_id}/jobs").json()
        found = [j for j in jobs if j["kind"] == "transcription.transcribe"]
        if found and test(found[0]):
            return dict(found[0])
        time.sleep(0.3)
    raise AssertionError(f"job never reached the state; jobs: {jobs}")


def test_rel14_worker_killed_mid_transcription_job_finishes_once(stack: Stack) -> None:
    researcher, item = upload_call(stack)
    first = stack.fieldbook("worker", log="worker1.log")
    running = wait_for_job(researcher, stack, item["id"], lambda j: j["status"] == "running")
    time.sleep(1.5)  # well inside the transcription of an 85 s call
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    stalled = researcher.get(f"{stack.base}/jobs/{running['id']}").json()
    assert stalled["status"] == "running" and stalled["attempts"] == 1

    stack.fieldbook("worker", log="worker2.log")
    done = wait_for_job(
        researcher, stack, item["id"], lambda j: j["status"] in ("succeeded", "failed")
    )
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    transcripts = researcher.get(f"{stack.base}/evidence/{item['id']}/transcripts").json()
    assert len(transcripts) == 1
    assert "refund" in transcripts[0]["text"].lower() or len(transcripts[0]["segments"]) > 5


def test_two_workers_share_the_queue_and_never_double_run(stack: Stack) -> None:
    researcher, item = upload_call(stack)
    stack.fieldbook("worker", log="worker1.log")
    stack.fieldbook("worker", log="worker2.log")
    done = wait_for_job(
        researcher, stack, item["id"], lambda j: j["status"] in ("succeeded", "failed")
    )
    assert done["status"] == "succeeded" and done["attempts"] == 1
    assert len(researcher.get(f"{stack.base}/evidence/{item['id']}/transcripts").json()) == 1
