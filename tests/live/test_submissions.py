"""Submissions against a live server: RELIABILITY 1, 2 and 3 on SQLite and PostgreSQL.

Phones resend what they are not sure arrived; a client UUID makes every resend safe.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import struct
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.live.api_client import visit_body
from tests.live.conftest import LiveStudy
from tests.live.phone_process import submit_when_released

PHONES = 8
COMMIT_WAIT_S = 30.0


def visits_with(
    study: LiveStudy, client_uuid: str, *, new_connection: bool = False
) -> list[dict[str, Any]]:
    """Return the study's visits (as an admin sees them) made with ``client_uuid``."""
    visits = study.server.admin.visits(study.study_id, new_connection=new_connection)
    return [visit for visit in visits if visit["client_uuid"] == client_uuid]


# RELIABILITY 1 -------------------------------------------------------------------------


def test_reliability_1_same_client_uuid_twice_makes_one_visit(live_study: LiveStudy) -> None:
    """The same create sent twice is one visit: 201, then 200 with the same record."""
    body = visit_body()
    first = live_study.researcher.post(live_study.visits_path, json=body)
    assert first.status_code == 201, first.text

    # the resend serialises its JSON differently; the content is what counts
    resent = dict(reversed(list(body.items())))
    again = live_study.researcher.post(live_study.visits_path, json=resent)

    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert [v["id"] for v in visits_with(live_study, body["client_uuid"])] == [first.json()["id"]]
    assert len(live_study.server.admin.visits(live_study.study_id)) == 1


def test_reliability_1_same_client_uuid_other_body_is_409_original_unchanged(
    live_study: LiveStudy,
) -> None:
    """The same client UUID with other content is refused and changes nothing."""
    body = visit_body()
    first = live_study.researcher.post(live_study.visits_path, json=body)
    assert first.status_code == 201, first.text
    changed = {**body, "title": "A different visit", "checklist_answers": {"greeted": False}}

    conflict = live_study.researcher.post(live_study.visits_path, json=changed)

    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["code"] == "idempotency.conflict"
    assert "client_uuid" in conflict.json()["errors"]
    stored = live_study.researcher.get(f"/visits/{first.json()['id']}")
    assert stored.status_code == 200
    assert stored.json() == first.json()
    assert len(live_study.server.admin.visits(live_study.study_id)) == 1


# RELIABILITY 2 -------------------------------------------------------------------------


def test_reliability_2_parallel_identical_submissions_from_processes_make_one_visit(
    live_study: LiveStudy,
) -> None:
    """Eight phones in eight processes send the same create at once: one visit results."""
    body = visit_body()
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PHONES)
    results: Any = context.Queue()
    phones = [
        context.Process(
            target=submit_when_released,
            args=(
                live_study.server.base_url,
                live_study.researcher.token,
                live_study.visits_path,
                body,
                start,
                results,
            ),
        )
        for _ in range(PHONES)
    ]
    for phone in phones:
        phone.start()
    try:
        answers: list[tuple[int, dict[str, Any]]] = [results.get(timeout=120) for _ in phones]
    finally:
        for phone in phones:
            phone.join(timeout=30)
            if phone.is_alive():
                phone.kill()
                phone.join()
        results.close()

    statuses = sorted(status for status, _ in answers)
    assert statuses.count(201) == 1, answers
    assert set(statuses) <= {200, 201, 409}, answers
    created_id = next(payload["id"] for status, payload in answers if status == 201)
    for status, payload in answers:
        if status == 200:
            assert payload["id"] == created_id
        if status == 409:
            assert payload["code"] == "idempotency.conflict"
    assert [v["id"] for v in visits_with(live_study, body["client_uuid"])] == [created_id]
    assert len(live_study.server.admin.visits(live_study.study_id)) == 1


# RELIABILITY 3 -------------------------------------------------------------------------


def send_without_reading(
    base_url: str, path: str, token: str, body: dict[str, Any]
) -> socket.socket:
    """Send a POST over a plain socket and return the socket, leaving the reply unread."""
    address = urlsplit(base_url)
    assert address.hostname is not None and address.port is not None
    payload = json.dumps(body).encode()
    head = (
        f"POST /api/v1{path} HTTP/1.1\r\n"
        f"Host: {address.hostname}:{address.port}\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    sock = socket.create_connection((address.hostname, address.port), timeout=10)
    sock.sendall(head + payload)
    return sock


def reset(sock: socket.socket) -> None:
    """Close a socket abortively (RST), as a phone losing its network does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def wait_until_stored(study: LiveStudy, client_uuid: str) -> dict[str, Any]:
    """Poll the visit list until the visit made with ``client_uuid`` shows up."""
    deadline = time.monotonic() + COMMIT_WAIT_S
    while time.monotonic() < deadline:
        found = visits_with(study, client_uuid, new_connection=True)
        if found:
            return found[0]
        time.sleep(0.05)
    pytest.fail(f"the first request never committed a visit within {COMMIT_WAIT_S}s")


@pytest.mark.parametrize("hang_up", ["closed_unread", "reset_after_commit"])
def test_reliability_3_connection_dropped_after_commit_then_retry_makes_one_visit(
    live_study: LiveStudy, hang_up: str
) -> None:
    """A create whose reply never reaches the phone, then retried, is still one visit."""
    body = visit_body()
    sock = send_without_reading(
        live_study.server.base_url, live_study.visits_path, live_study.researcher.token, body
    )
    if hang_up == "closed_unread":
        # gone before the server answers; the server still commits what it received
        sock.close()
        stored = wait_until_stored(live_study, body["client_uuid"])
    else:
        # the server has committed; the reply is lost with the connection
        stored = wait_until_stored(live_study, body["client_uuid"])
        reset(sock)

    # the phone retries on a new connection, the old one being gone
    retry = requests.post(
        f"{live_study.server.base_url}/api/v1{live_study.visits_path}",
        json=body,
        headers={"Authorization": f"Bearer {live_study.researcher.token}"},
        timeout=30,
    )

    assert retry.status_code == 200, retry.text
    assert retry.json()["id"] == stored["id"]
    assert retry.json() == stored
    visits = live_study.server.admin.visits(live_study.study_id, new_connection=True)
    assert [v["id"] for v in visits] == [stored["id"]]


def test_a_new_client_uuid_is_a_new_visit(live_study: LiveStudy) -> None:
    """Two creates with different client UUIDs are two visits (the dedup is by UUID only)."""
    first = live_study.researcher.post(live_study.visits_path, json=visit_body(uuid.uuid4()))
    second = live_study.researcher.post(live_study.visits_path, json=visit_body(uuid.uuid4()))
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert len(live_study.server.admin.visits(live_study.study_id)) == 2
