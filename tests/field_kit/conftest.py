"""A real Fieldbook server for the field kit to talk to, and a researcher to talk as.

The server is the ``fieldbook`` command in its own process (``init``, then ``serve``),
started once for the module that needs it and stopped with SIGTERM, then SIGKILL. The
admin creates a study and a researcher through the API, as an admin would.
"""

from __future__ import annotations

import struct
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result
from PIL import Image

from field_kit.cli import main as fieldkit_main
from field_kit.client import FieldbookClient
from field_kit.outbox import Outbox
from tests.live.server_process import (
    ServerProcess,
    fieldbook_env,
    run_fieldbook,
    start_fieldbook,
)
from tests.services import free_port

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
TINY_WHISPER = REPO.parent / "shared" / "models" / "faster-whisper-tiny.en"
ADMIN_EMAIL = "admin@fieldbook.local"
ADMIN_PASSWORD = "field kit admin password 1"
RESEARCHER_PASSWORD = "field kit researcher password 1"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Start Fieldbook on a fresh data folder: ``fieldbook init``, then ``fieldbook serve``."""
    data = tmp_path_factory.mktemp("fieldbook-server")
    env = fieldbook_env(
        data,
        f"sqlite:///{data / 'fieldbook.db'}",
        FIELDBOOK_LOGIN_RATE_LIMIT="1000 per minute",
        # cheap password hashes keep sign-ins fast; production uses Argon2id's defaults
        FIELDBOOK_PASSWORD_HASH_TIME_COST="1",
        FIELDBOOK_PASSWORD_HASH_MEMORY_KIB="64",
    )
    if TINY_WHISPER.is_dir():
        # uploaded recordings get transcribed; a local model keeps that off the network
        env["FIELDBOOK_WHISPER_MODEL"] = str(TINY_WHISPER)
    init = run_fieldbook({**env, "FIELDBOOK_PASSWORD": ADMIN_PASSWORD}, "init")
    assert init.returncode == 0, init.stdout + init.stderr
    running = start_fieldbook(env, free_port(), data / "serve.log")
    yield running
    running.stop()


@dataclass
class Team:
    """A study with one researcher in it, and the admin who made them."""

    server: ServerProcess
    admin: FieldbookClient
    study_id: str
    researcher_email: str
    researcher_id: str

    def researcher(self) -> FieldbookClient:
        """Return a client signed in as the researcher."""
        client = FieldbookClient(self.server.base_url)
        client.login(self.researcher_email, RESEARCHER_PASSWORD, "test checks")
        return client


@pytest.fixture(scope="session")
def team(server: ServerProcess) -> Iterator[Team]:
    """Create a study and a researcher through the API, as the admin."""
    admin = FieldbookClient(server.base_url)
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD, "test admin")
    study = admin.request(
        "POST",
        "/studies",
        json_body={
            "name": "Kettle returns",
            "company": "Acme",
            "channels": ["in_person", "phone", "web"],
        },
    ).json()
    email = f"researcher-{uuid.uuid4().hex[:8]}@example.test"
    user = admin.request(
        "POST", "/users", json_body={"email": email, "password": RESEARCHER_PASSWORD, "name": "Rae"}
    ).json()
    admin.request(
        "POST",
        f"/studies/{study['id']}/members",
        json_body={"user_id": user["id"], "role": "researcher"},
    )
    yield Team(server, admin, str(study["id"]), email, str(user["id"]))
    admin.close()


@pytest.fixture(scope="session")
def evidence_api(server: ServerProcess) -> None:
    """Skip unless the server has the evidence endpoints (multipart, notes, tus)."""
    paths = requests.get(server.base_url + "/api/v1/openapi.json", timeout=10).json()["paths"]
    tus = requests.options(server.base_url + "/api/v1/uploads", timeout=10)
    if "/api/v1/visits/{visit_id}/notes" not in paths or "Tus-Version" not in tus.headers:
        pytest.skip("this server has no evidence endpoints yet")


@dataclass
class Kit:
    """The ``fieldkit`` command with its own home folder."""

    home: Path
    runner: CliRunner

    def __call__(self, *args: str, input: str | None = None) -> Result:
        """Run ``fieldkit --home HOME ARGS`` in this process and return the result."""
        return self.runner.invoke(
            fieldkit_main, ["--home", str(self.home), *args], input=input, catch_exceptions=False
        )

    def ok(self, *args: str) -> Result:
        """Run a command that must succeed."""
        result = self(*args)
        assert result.exit_code == 0, f"fieldkit {' '.join(args)}:\n{result.output}"
        return result

    def outbox(self) -> Outbox:
        """Open this home's outbox."""
        return Outbox(self.home / "outbox.db")

    def subprocess_args(self, *args: str) -> list[str]:
        """Return the command line of ``fieldkit`` as its own process."""
        return [str(BIN / "fieldkit"), "--home", str(self.home), *args]


@pytest.fixture
def kit(tmp_path: Path) -> Kit:
    """A ``fieldkit`` with an empty home folder (not signed in)."""
    return Kit(tmp_path / "fieldkit-home", CliRunner())


@pytest.fixture
def signed_in(kit: Kit, team: Team) -> Kit:
    """A ``fieldkit`` signed in as the team's researcher."""
    kit.ok(
        "login",
        "--server",
        team.server.base_url,
        "--email",
        team.researcher_email,
        "--password",
        RESEARCHER_PASSWORD,
        "--device-name",
        "test phone",
    )
    return kit


def wav_bytes(seconds: float, *, rate: int = 8000, seed: int = 0) -> bytes:
    """Return a mono 16-bit WAV of near-silence (cheap to transcribe), unique per seed."""
    frames = int(seconds * rate)
    samples = bytearray(frames * 2)
    # a faint, seeded tick so that every test's file has its own sha256
    for i in range(0, frames, 997):
        struct.pack_into("<h", samples, i * 2, (seed * 31 + i) % 7 - 3)
    header = b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    header += b"data" + struct.pack("<I", len(samples))
    return header + bytes(samples)


def png_bytes(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    """Return a small real PNG, unique per seed."""
    image = Image.new("RGB", (width, height), ((seed * 53) % 256, 120, 200))
    out = BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


SITE = {
    "index.html": """<!doctype html><html><head><title>Acme kettles</title></head><body>
<h1>Acme kettles</h1>
<a id="returns" href="returns.html">Returns</a>
<img src="missing-logo.png" alt="logo">
<script>console.error("tracking script failed to load");</script>
</body></html>""",
    "returns.html": """<!doctype html><html><head><title>Start a return</title></head><body>
<form action="thanks.html" method="get">
<label>Order <input id="order" name="order"></label>
<label>Email <input id="email" name="email" type="email"></label>
<button id="send" type="submit">Send</button>
</form></body></html>""",
    "thanks.html": """<!doctype html><html><head><title>Return booked</title></head><body>
<p id="confirmation">Return booked. We will email you a label.</p></body></html>""",
}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def website(tmp_path: Path) -> Iterator[str]:
    """Serve a small shop website (a form, a button, a missing image) on a local port."""
    root = tmp_path / "site"
    root.mkdir()
    for name, html in SITE.items():
        (root / name).write_text(html, encoding="utf-8")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)
