"""A live ``fieldbook serve`` for upload tests, and a researcher's phone talking tus to it.

Built on the live-server helpers of ``tests.live``: the server runs in its own process
group from the installed ``fieldbook`` command, on a fresh SQLite database and data folder
made by ``fieldbook init``. Unlike the shared live server, this one can be killed, restarted
on the same data and port, and started with its own settings (expiry, S3).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import psutil
import requests
from tusclient.client import TusClient
from tusclient.uploader import Uploader

from tests.live.api_client import ApiClient
from tests.live.server_process import (
    STOP_GRACE_S,
    ServerProcess,
    fieldbook_env,
    run_fieldbook,
    start_fieldbook,
)
from tests.services import free_port
from tests.uploads.tus_wire import OFFSET_STREAM, TUS, metadata_header

ADMIN_EMAIL = "admin@fieldbook.local"
ADMIN_PASSWORD = "upload admin password 7"
RESEARCHER_PASSWORD = "upload researcher password 7"
WAIT_S = 120.0
# generous: the machine running the suite may be busy with other work
TIMEOUT_S = 120.0
SETTLED = frozenset({"ready", "failed"})
T = TypeVar("T")
# what a recording is read from: a file, or one generated as it is read
Readable = IO[bytes] | io.RawIOBase


def wait_until(check: Callable[[], T | None], what: str, timeout: float = WAIT_S) -> T:
    """Poll ``check`` until it returns something other than None; fail naming ``what`` if not."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout:.0f}s for {what}")
        time.sleep(0.05)


@dataclass
class Researcher:
    """A researcher's phone: a device token for one study and a keep-alive session."""

    client: ApiClient
    study_id: str

    @property
    def base_url(self) -> str:
        """The server's address, e.g. ``http://127.0.0.1:5000``."""
        return self.client.base_url

    def uploads_url(self, base_url: str | None = None) -> str:
        """Return the tus creation URL, optionally through another address (a proxy)."""
        return f"{base_url or self.base_url}/api/v1/uploads"

    @property
    def auth(self) -> dict[str, str]:
        """The bearer header this phone sends."""
        return {"Authorization": f"Bearer {self.client.token}"}

    def new_visit(self) -> str:
        """Start a phone visit and return its id."""
        body = {"channel": "phone", "client_uuid": str(uuid.uuid4())}
        response = self.api("POST", f"/studies/{self.study_id}/visits", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call an API path such as ``/visits/ID/evidence``."""
        url = f"{self.base_url}/api/v1{path}"
        return self.client.session.request(method, url, timeout=TIMEOUT_S, **kwargs)

    def create_upload(
        self,
        visit_id: str,
        length: int,
        *,
        kind: str = "audio",
        sha256: str | None = None,
        filename: str = "call.wav",
        body: bytes | None = None,
    ) -> requests.Response:
        """Ask for a tus upload; ``body`` sends its first bytes in the same request."""
        metadata = {"visit_id": visit_id, "kind": kind, "filename": filename}
        metadata["client_uuid"] = str(uuid.uuid4())
        if sha256:
            metadata["sha256"] = sha256
        headers = {
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": metadata_header(metadata),
            "Connection": "close",
        }
        if body is not None:
            headers["Content-Type"] = OFFSET_STREAM
        return self.client.session.post(
            self.uploads_url(), headers=headers, data=body, timeout=TIMEOUT_S
        )

    def new_upload(self, visit_id: str, length: int, **options: Any) -> str:
        """Create a tus upload that must be accepted; return its URL."""
        response = self.create_upload(visit_id, length, **options)
        assert response.status_code == 201, response.text
        return str(response.headers["Location"])

    def send_photo(self, visit_id: str, photo: bytes, **fields: str) -> requests.Response:
        """Send a photo in one multipart request, as the phone app does for small files."""
        form = {"kind": "photo", "client_uuid": str(uuid.uuid4()), **fields}
        return self.api(
            "POST",
            f"/visits/{visit_id}/evidence",
            data=form,
            files={"file": ("counter.jpg", photo, "image/jpeg")},
        )

    def head(self, url: str) -> requests.Response:
        """Ask how many bytes of an upload the server holds."""
        return self.client.session.head(url, headers=TUS, timeout=TIMEOUT_S)

    def offset(self, url: str) -> int:
        """Return the offset of an upload the server still knows."""
        response = self.head(url)
        assert response.status_code == 200, f"HEAD {response.status_code} {response.text}"
        return int(response.headers["Upload-Offset"])

    def patch(
        self,
        url: str,
        offset: int,
        data: bytes | Readable,
        *,
        timeout: float = TIMEOUT_S,
        **headers: str,
    ) -> requests.Response:
        """Send bytes at ``offset``; extra headers override the tus ones."""
        # One connection per PATCH, as tuspy does: a refused PATCH leaves its body unread,
        # and gunicorn then drops the connection even though it answered "keep-alive".
        sent = {
            **TUS,
            "Upload-Offset": str(offset),
            "Content-Type": OFFSET_STREAM,
            "Connection": "close",
        }
        sent.update({name.replace("_", "-"): value for name, value in headers.items()})
        return self.client.session.patch(url, headers=sent, data=data, timeout=timeout)

    def uploader(
        self,
        stream: Readable,
        visit_id: str,
        *,
        sha256: str,
        chunk_size: int,
        url: str | None = None,
        base_url: str | None = None,
        **options: Any,
    ) -> Uploader:
        """Return a tuspy uploader for ``stream``, new or resuming ``url``."""
        client = TusClient(self.uploads_url(base_url), headers=self.auth)
        metadata = {
            "visit_id": visit_id,
            "kind": "audio",
            "client_uuid": str(uuid.uuid4()),
            "filename": "call.wav",
            "sha256": sha256,
        }
        return client.uploader(
            file_stream=stream, chunk_size=chunk_size, url=url, metadata=metadata, **options
        )

    def evidence(self, visit_id: str) -> list[dict[str, Any]]:
        """List a visit's evidence items."""
        response = self.api("GET", f"/visits/{visit_id}/evidence", params={"page_size": 100})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()
        return items

    def settled(self, visit_id: str, evidence_id: str) -> dict[str, Any]:
        """Wait until processing of an item has ended; return the item."""

        def finished() -> dict[str, Any] | None:
            for item in self.evidence(visit_id):
                if item["id"] == evidence_id and item["status"] in SETTLED:
                    return item
            return None

        return wait_until(finished, f"evidence {evidence_id} to be processed")


@dataclass
class UploadServer:
    """A running ``fieldbook serve`` on a data folder of its own, and a researcher on it."""

    env: dict[str, str]
    data_dir: Path
    port: int
    process: ServerProcess
    admin: ApiClient
    researcher: Researcher

    @property
    def spool(self) -> Path:
        """The folder where unfinished uploads wait."""
        return self.data_dir / "uploads"

    def spool_files(self) -> list[str]:
        """Return the names of every file in the spool folder."""
        return sorted(path.name for path in self.spool.glob("*")) if self.spool.exists() else []

    def blob_files(self) -> list[Path]:
        """Return every original stored in the local blob store."""
        blobs = self.data_dir / "media" / "blobs"
        return sorted(path for path in blobs.rglob("*") if path.is_file())

    def store_temp_files(self) -> list[str]:
        """Return the names of writes in progress in the local blob store."""
        return sorted(path.name for path in (self.data_dir / "media" / "tmp").glob("*"))

    def worker(self) -> psutil.Process:
        """Return the web worker process (gunicorn's child) that handles requests."""
        children = psutil.Process(self.process.process.pid).children()
        assert len(children) == 1, f"expected one web worker, found {children}"
        return children[0]

    def kill(self) -> None:
        """Kill the server and its worker with SIGKILL, as a power cut or the OOM killer would."""
        os.killpg(self.process.process.pid, signal.SIGKILL)
        self.process.process.wait(timeout=STOP_GRACE_S)

    def restart(self) -> None:
        """Start the server again on the same data folder, port and settings."""
        self.process = start_fieldbook(self.env, self.port, self.data_dir / "server.log")

    def log_tail(self) -> str:
        """Return the last lines the server printed."""
        return self.process.log_tail()


def sign_in_researcher(admin: ApiClient) -> Researcher:
    """Make a study and a researcher in it (as the admin); return the signed-in phone."""
    study_id = admin.create_study(f"Call centre {uuid.uuid4().hex[:6]}")
    email = f"researcher-{uuid.uuid4().hex[:10]}@example.test"
    admin.add_member(study_id, admin.create_user(email, RESEARCHER_PASSWORD), "researcher")
    return Researcher(ApiClient.sign_in(admin.base_url, email, RESEARCHER_PASSWORD), study_id)


@contextmanager
def upload_server(data_dir: Path, **settings: str) -> Iterator[UploadServer]:
    """Run a fresh server with ``FIELDBOOK_*`` ``settings``; remove everything afterwards."""
    extra = {
        "FIELDBOOK_ENV": "production",
        "FIELDBOOK_LOGIN_RATE_LIMIT": "1000 per minute",
        # these tests are about bytes, not words: Whisper on long recordings would only
        # compete with the uploads for the CPU
        "FIELDBOOK_AUTO_TRANSCRIBE": "false",
        **settings,
    }
    env = fieldbook_env(data_dir, f"sqlite:///{data_dir / 'fieldbook.db'}", **extra)
    try:
        init = run_fieldbook({**env, "FIELDBOOK_PASSWORD": ADMIN_PASSWORD}, "init")
        assert init.returncode == 0, f"fieldbook init failed:\n{init.stdout}{init.stderr}"
        port = free_port()
        process = start_fieldbook(env, port, data_dir / "server.log")
        server: UploadServer | None = None
        try:
            admin = ApiClient.sign_in(process.base_url, ADMIN_EMAIL, ADMIN_PASSWORD)
            server = UploadServer(env, data_dir, port, process, admin, sign_in_researcher(admin))
            yield server
        finally:
            if server is not None:
                # shown with the report of a test that failed
                print(f"--- last lines of the server log in {data_dir} ---\n{server.log_tail()}")
                server.admin.session.close()
                server.researcher.client.session.close()
                process = server.process
            process.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
