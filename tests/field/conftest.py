"""The phone capture app against a real ``fieldbook serve``, driven in mobile Chromium.

The server is the ``fieldbook`` command in its own process (``init``, then ``serve``),
started once for the package and stopped with SIGTERM, then SIGKILL. Each test gets a
fresh study with its own researcher, target and assignment, made through the API as an
admin would, and a fresh browser context emulating a phone (small viewport, touch,
mobile user agent) with its own IndexedDB, service worker and permissions.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Geolocation,
    Page,
    Playwright,
    sync_playwright,
)

from tests.live.server_process import (
    ServerProcess,
    fieldbook_env,
    run_fieldbook,
    start_fieldbook,
)
from tests.services import free_port

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "field"
ADMIN_EMAIL = "admin@fieldbook.local"
ADMIN_PASSWORD = "field app admin password 1"
RESEARCHER_PASSWORD = "field app researcher password 1"
PHONE = "Pixel 7"
# where the emulated phone says it is: a street in Leeds
PLACE: Geolocation = {"latitude": 53.7997, "longitude": -1.5492, "accuracy": 12.0}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # a fake microphone that plays a tone, and no permission prompt for it
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


def chromium_path() -> str | None:
    """Return the system Chromium (never a downloaded one), or None."""
    debian = Path("/usr/lib/chromium/chromium")
    if debian.exists():
        return str(debian)
    return shutil.which("chromium") or shutil.which("chromium-browser")


def sha256(data: bytes) -> str:
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def jpeg_bytes(width: int = 320, height: int = 240, *, seed: int = 0, noise: bool = False) -> bytes:
    """Return a real JPEG, unique per seed; ``noise`` makes it large (it barely compresses)."""
    if noise:
        rng = random.Random(seed)
        image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), ((seed * 67) % 256, 140, 90))
    out = BytesIO()
    image.save(out, format="JPEG", quality=95)
    return out.getvalue()


# --- the server -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Start Fieldbook on a fresh data folder: ``fieldbook init``, then ``fieldbook serve``."""
    data = tmp_path_factory.mktemp("field-app-server")
    env = fieldbook_env(
        data,
        f"sqlite:///{data / 'fieldbook.db'}",
        FIELDBOOK_ENV="production",
        FIELDBOOK_LOGIN_RATE_LIMIT="1000 per minute",
        # recordings here are test tones: nothing worth transcribing
        FIELDBOOK_AUTO_TRANSCRIBE="false",
    )
    init = run_fieldbook({**env, "FIELDBOOK_PASSWORD": ADMIN_PASSWORD}, "init")
    assert init.returncode == 0, init.stdout + init.stderr
    running = start_fieldbook(env, free_port(), data / "serve.log")
    yield running
    running.stop()


class Api:
    """A device signed in to the JSON API with a bearer token."""

    def __init__(self, base_url: str, email: str, password: str, device: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        response = self.session.post(
            f"{base_url}/api/v1/tokens",
            json={"email": email, "password": password, "device_name": device},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        self.token = response.json()["token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        """Send a request to an API path or a full URL."""
        url = path if path.startswith("http") else f"{self.base_url}/api/v1{path}"
        return self.session.request(method, url, timeout=30, **kw)

    def json(self, method: str, path: str, expect: int = 200, **kw: Any) -> Any:
        """Send a request, check its status and return its JSON body."""
        response = self.request(method, path, **kw)
        assert response.status_code == expect, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    def close(self) -> None:
        """Close the connection pool."""
        self.session.close()


@pytest.fixture(scope="session")
def admin(server: ServerProcess) -> Iterator[Api]:
    """The first admin, signed in on a device."""
    api = Api(server.base_url, ADMIN_EMAIL, ADMIN_PASSWORD, "test admin")
    yield api
    api.close()


@dataclass
class Team:
    """A study with one researcher, a store to visit and the researcher's assignment."""

    server: ServerProcess
    study: dict[str, Any]
    target: dict[str, Any]
    assignment: dict[str, Any]
    email: str
    researcher: Api
    consent_text: str = field(default="")

    def visits(self) -> list[dict[str, Any]]:
        """Return the study's visits as the server holds them."""
        return self.researcher.json("GET", f"/studies/{self.study['id']}/visits?page_size=100")

    def evidence(self, visit_id: str) -> list[dict[str, Any]]:
        """Return a visit's evidence as the server holds it."""
        return self.researcher.json("GET", f"/visits/{visit_id}/evidence?page_size=100")


CONSENT = "Only record where the person you speak to has agreed, or where the law allows it."


@pytest.fixture
def team(server: ServerProcess, admin: Api) -> Iterator[Team]:
    """Create a study, a researcher, a store and an in-person assignment through the API."""
    suffix = uuid.uuid4().hex[:6]
    study = admin.json(
        "POST",
        "/studies",
        expect=201,
        json={
            "name": f"Kettle returns {suffix}",
            "company": "Acme Appliances",
            "channels": ["in_person", "phone", "web"],
            "journey_stages": ["discover", "buy", "return"],
            "consent_text": CONSENT,
            "checklist": [
                {"key": "greeted", "question": "Were you greeted?", "kind": "yes_no", "weight": 1},
                {"key": "helpful", "question": "How helpful was the staff?", "kind": "scale"},
                {"key": "remarks", "question": "Anything else?", "kind": "text", "weight": 0},
            ],
        },
    )
    email = f"researcher-{suffix}@example.test"
    user = admin.json(
        "POST",
        "/users",
        expect=201,
        json={"email": email, "password": RESEARCHER_PASSWORD, "name": "Rae Field"},
    )
    admin.json(
        "POST",
        f"/studies/{study['id']}/members",
        expect=201,
        json={"user_id": user["id"], "role": "researcher"},
    )
    target = admin.json(
        "POST",
        f"/studies/{study['id']}/targets",
        expect=201,
        json={
            "kind": "store",
            "name": "Acme Kettles, High Street",
            "address": "12 High Street, Leeds LS1 6HQ",
            "latitude": 53.7997,
            "longitude": -1.5492,
            "phone": "+44 113 496 0000",
            "url": "https://acme.example/stores/leeds",
        },
    )
    assignment = admin.json(
        "POST",
        f"/studies/{study['id']}/assignments",
        expect=201,
        json={
            "researcher_id": user["id"],
            "channel": "in_person",
            "target_id": target["id"],
            "scenario": "Bring back the kettle bought last week.\nAsk for a refund, not a swap.",
        },
    )
    researcher = Api(server.base_url, email, RESEARCHER_PASSWORD, "test checks")
    yield Team(server, study, target, assignment, email, researcher, CONSENT)
    researcher.close()


# --- the phone ------------------------------------------------------------------------


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Start Playwright once for these tests; stopped before other packages drive a browser."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Launch the system Chromium, headless, with a fake microphone."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed")
    chromium = playwright.chromium.launch(
        executable_path=executable, headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


@dataclass
class Phone:
    """One phone: a browser context with its page, and what went wrong in its scripts."""

    context: BrowserContext
    page: Page
    base_url: str
    page_errors: list[str]

    def open(self, hash_route: str = "") -> None:
        """Open the app (optionally at a screen) and wait for its first screen."""
        self.page.goto(f"{self.base_url}/field/{hash_route}")
        self.page.locator("#screen-title").wait_for()

    def screenshot(self, name: str) -> Path:
        """Save a screenshot of the screen to artifacts/field/NAME.png."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        # from the top, so that the sticky header sits where a phone shows it
        self.page.evaluate("window.scrollTo(0, 0)")
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def phone(playwright: Playwright, browser: Browser, server: ServerProcess) -> Iterator[Phone]:
    """A fresh phone (Pixel-like, touch, mobile) allowed to use its location and microphone."""
    device = dict(playwright.devices[PHONE])
    device.pop("default_browser_type", None)
    context = browser.new_context(
        **device,
        permissions=["geolocation", "microphone"],
        geolocation=PLACE,
        locale="en-GB",
        timezone_id="Europe/London",
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # a CSP violation means an inline script or style slipped in
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield Phone(context, page, server.base_url, errors)
    context.close()
    assert errors == [], f"script errors on the phone: {errors}"
