"""The API client: errors mapped by code, retries only where a retry can help, tus edges.

Retry rules are checked over real HTTP against a scripted local server that answers a
given sequence of statuses; the rest runs against the real Fieldbook server.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from field_kit.client import FieldbookClient
from field_kit.errors import (
    AuthError,
    ConflictError,
    NotFoundError,
    ServerError,
    UnavailableError,
    ValidationError,
)
from field_kit.retry import RetryPolicy
from field_kit.uploads import MemoryUrlStore, UploadSettings, file_sha256, send_resumable
from tests.field_kit.conftest import Team, wav_bytes
from tests.services import free_port


class Scripted:
    """A local HTTP server answering each request with the next (status, body, headers)."""

    def __init__(self, answers: list[tuple[int, bytes, dict[str, str]]]) -> None:
        self.answers = list(answers)
        self.requests: list[str] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                scripted.requests.append(f"{self.command} {self.path}")
                status, body, headers = scripted.answers.pop(0)
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> Scripted:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _error(status: int, code: str) -> tuple[int, bytes, dict[str, str]]:
    body = {"code": code, "status": status, "message": f"{code} happened", "errors": {}}
    return status, json.dumps(body).encode(), {}


ME: tuple[int, bytes, dict[str, str]] = (
    200,
    json.dumps({"id": "u1", "email": "rae@example.test"}).encode(),
    {},
)


@pytest.fixture
def waits() -> list[float]:
    """The waits a retry policy asked for, in order."""
    return []


@pytest.fixture
def policy(waits: list[float]) -> RetryPolicy:
    """A retry policy that records its waits instead of sleeping through them."""
    return RetryPolicy(retries=3, backoff=0.5, sleep=waits.append)


def test_5xx_and_429_are_retried_with_backoff(policy: RetryPolicy, waits: list[float]) -> None:
    answers = [_error(503, "server.unavailable"), (502, b"<html>bad gateway</html>", {})]
    answers += [(429, b"{}", {"Retry-After": "2"}), ME]
    with Scripted(answers) as server:
        client = FieldbookClient(server.url, "fb_t", retry=policy)
        assert client.me().email == "rae@example.test"
    assert server.requests == ["GET /api/v1/me"] * 4
    assert waits == [0.5, 1.0, 2.0]  # backoff, backoff, then the server's Retry-After


def test_client_errors_are_not_retried_and_keep_their_code(
    policy: RetryPolicy, waits: list[float]
) -> None:
    cases = [
        (_error(401, "auth.invalid_token"), AuthError),
        (_error(404, "not_found"), NotFoundError),
        (_error(409, "idempotency.conflict"), ConflictError),
        (_error(422, "validation.failed"), ValidationError),
    ]
    for answer, kind in cases:
        with Scripted([answer]) as server:
            client = FieldbookClient(server.url, "fb_t", retry=policy)
            with pytest.raises(kind) as raised:
                client.me()
        assert server.requests == ["GET /api/v1/me"]
        assert raised.value.code == json.loads(answer[1])["code"]
        assert raised.value.status == answer[0]
    assert waits == []


def test_retries_run_out_into_server_error(policy: RetryPolicy) -> None:
    with Scripted([(500, b"oops", {})] * 4) as server:
        client = FieldbookClient(server.url, "fb_t", retry=policy)
        with pytest.raises(ServerError) as raised:
            client.me()
    assert raised.value.code == "http.500"
    assert raised.value.retryable
    assert len(server.requests) == 4


def test_unreachable_server_is_unavailable_after_retries(
    policy: RetryPolicy, waits: list[float]
) -> None:
    client = FieldbookClient(f"http://127.0.0.1:{free_port()}", "fb_t", retry=policy)
    with pytest.raises(UnavailableError) as raised:
        client.me()
    assert (raised.value.code, raised.value.status) == ("network.unreachable", 0)
    assert waits == [0.5, 1.0, 2.0]


needs_evidence_api = pytest.mark.usefixtures("evidence_api")


@needs_evidence_api
def test_stored_upload_that_vanished_starts_afresh(team: Team, tmp_path: Path) -> None:
    researcher = team.researcher()
    visit = researcher.create_visit(
        team.study_id, {"client_uuid": str(uuid.uuid4()), "channel": "phone"}
    )
    recording = tmp_path / "call.wav"
    recording.write_bytes(wav_bytes(40, seed=11))
    key = str(uuid.uuid4())
    store = MemoryUrlStore()
    store.set_upload_url(key, researcher.url(f"/uploads/{uuid.uuid4().hex}"))  # unknown there
    settings = UploadSettings(resumable_above=64 * 1024, chunk_size=128 * 1024)
    result = researcher.upload_evidence(
        visit.id, recording, "audio", key, settings=settings, resume_store=store
    )
    assert (result.method, result.resumed_from) == ("tus", 0)
    assert result.bytes_sent == recording.stat().st_size
    assert result.evidence.sha256 == file_sha256(recording)
    assert store.get_upload_url(key) is None


@needs_evidence_api
def test_upload_whose_answer_was_lost_is_found_not_resent(team: Team, tmp_path: Path) -> None:
    """Every byte arrived but the answer naming the item did not: nothing is sent again."""
    researcher = team.researcher()
    visit = researcher.create_visit(
        team.study_id, {"client_uuid": str(uuid.uuid4()), "channel": "phone"}
    )
    recording = tmp_path / "call.wav"
    recording.write_bytes(wav_bytes(40, seed=12))
    key, sha256 = str(uuid.uuid4()), file_sha256(recording)
    store = MemoryUrlStore()
    settings = UploadSettings(resumable_above=64 * 1024, chunk_size=256 * 1024)
    metadata = {
        "visit_id": visit.id,
        "kind": "audio",
        "client_uuid": key,
        "filename": recording.name,
        "sha256": sha256,
    }
    first = send_resumable(
        researcher.url("/uploads"),
        researcher.auth_headers(),
        recording,
        metadata,
        key,
        store,
        settings,
    )
    assert first.evidence_id is not None
    assert store.get_upload_url(key) is not None  # as if the process died right here

    result = researcher.upload_evidence(
        visit.id, recording, "audio", key, settings=settings, resume_store=store
    )
    assert result.evidence.id == first.evidence_id
    assert result.bytes_sent == 0
    assert [e.id for e in researcher.visit_evidence(visit.id)] == [first.evidence_id]


@needs_evidence_api
def test_checksum_mismatch_is_refused_by_the_server(team: Team, tmp_path: Path) -> None:
    researcher = team.researcher()
    visit = researcher.create_visit(
        team.study_id, {"client_uuid": str(uuid.uuid4()), "channel": "web"}
    )
    recording = tmp_path / "a.wav"
    recording.write_bytes(wav_bytes(1, seed=13))
    with pytest.raises(ValidationError) as refused:
        researcher.upload_evidence(visit.id, recording, "audio", str(uuid.uuid4()), sha256="0" * 64)
    assert refused.value.code == "evidence.checksum_mismatch"
    assert researcher.visit_evidence(visit.id) == []
