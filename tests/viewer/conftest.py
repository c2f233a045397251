"""The reviewer viewer in a real browser against a real ``fieldbook serve``.

One server for the package, on a fresh SQLite database in a temporary folder, with the
tiny Whisper model from ``../shared``. Everything the pages show is made through the API
as the phone app and the admin would: two studies, a researcher, a reviewer and a
manager, a journey with an in-person visit (photo, note), a phone visit (a real call,
transcribed) and a web visit. Names, notes and titles carry hostile text on purpose.
The browser is the system Chromium, never a downloaded one.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image, ImageDraw
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    sync_playwright,
)

from tests.live.api_client import ApiClient
from tests.live.server_process import (
    ServerProcess,
    fieldbook_env,
    run_fieldbook,
    start_fieldbook,
)
from tests.services import free_port

REPO = Path(__file__).resolve().parents[2]
SHARED = (REPO / ".." / "shared").resolve()
WHISPER_MODEL = SHARED / "models" / "faster-whisper-tiny.en"
CALL_AUDIO = SHARED / "audio" / "jfk.flac"
LONG_CALL_AUDIO = SHARED / "audio" / "call_phone8k.wav"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
ARTIFACTS = REPO / "artifacts" / "viewer"
CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_EMAIL = "admin@fieldbook.local"
ADMIN_PASSWORD = "viewer admin password 3"
PASSWORD = "viewer member password 3"
PROCESSING_DEADLINE_S = 180.0

# Text that would run, or turn into something else, if any page treated it as markup.
HOSTILE = (
    '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 1"> '
    "{{ 7*7 }} \u202eexe.txt\u202c"
)
HOSTILE_NOTE = """# Queue at the returns desk
Waited 12 minutes; the clerk asked for the receipt twice.
[Open the receipt](javascript:window.__pwned=1)
<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 1">
Template: {{ 7*7 }} {% if true %}yes{% endif %}
Bidi: \u202eexe.txt\u202c
"""
CALL_NOTE = """Called the help line about the refund.
The agent read a script.
Line three mentions the warranty card.
"""
CHECKLIST = [
    {"key": "greeted", "question": "Were you greeted within a minute?", "kind": "yes_no"},
    {"key": "helpful", "question": "How helpful was the staff?", "kind": "scale"},
    {"key": "remarks", "question": "Anything else?", "kind": "text"},
]
STAGES = ["Research", "Purchase", "Return", "Resolution"]


@dataclass
class Member:
    """A study member: e-mail, user id and a device token for API checks."""

    email: str
    id: str
    api: ApiClient


@dataclass
class Viewer:
    """The running server and what was made on it."""

    base_url: str
    process: ServerProcess
    admin: ApiClient
    study_id: str
    other_study_id: str
    researcher: Member
    reviewer: Member
    manager: Member
    outsider: Member
    journey_id: str
    store_visit: str
    call_visit: str
    web_visit: str
    other_visit: str
    photo_id: str
    store_note_id: str
    call_id: str
    call_note_id: str
    other_note_id: str
    hostile_finding_id: str
    segments: list[dict[str, Any]] = field(default_factory=list)

    def url(self, path: str) -> str:
        """Return the absolute URL of a path on the server."""
        return self.base_url + path


def _email(role: str) -> str:
    return f"{role}-{uuid.uuid4().hex[:8]}@example.test"


def _member(admin: ApiClient, base_url: str, role: str, name: str = "") -> Member:
    email = _email(role)
    body = {"email": email, "password": PASSWORD, "name": name or role.capitalize()}
    user_id = str(admin.created("/users", body)["id"])
    return Member(email, user_id, ApiClient.sign_in(base_url, email, PASSWORD))


def _photo_bytes() -> bytes:
    """A small JPEG of a shop counter, drawn here."""
    image = Image.new("RGB", (800, 600), (231, 236, 242))
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 320, 740, 560), fill=(120, 86, 60))
    draw.rectangle((300, 120, 500, 320), fill=(40, 90, 160))
    draw.ellipse((340, 160, 460, 280), fill=(250, 250, 250))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _upload(api: ApiClient, visit_id: str, kind: str, name: str, data: bytes, mime: str) -> str:
    response = api.post(
        f"/visits/{visit_id}/evidence",
        data={"kind": kind, "captured_at": "2026-03-02T10:20:00+00:00"},
        files={"file": (name, data, mime)},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _note(api: ApiClient, visit_id: str, text: str) -> str:
    return str(api.created(f"/visits/{visit_id}/notes", {"text": text})["id"])


def _visit(api: ApiClient, study_id: str, **fields: Any) -> str:
    body = {
        "client_uuid": str(uuid.uuid4()),
        "started_at": "2026-03-02T10:15:00+00:00",
        "ended_at": "2026-03-02T10:42:00+00:00",
        **fields,
    }
    return str(api.created(f"/studies/{study_id}/visits", body)["id"])


def _submit(api: ApiClient, visit_id: str) -> None:
    response = api.post(f"/visits/{visit_id}/transitions", json={"to": "submitted"})
    assert response.status_code == 200, response.text


def wait_until_processed(api: ApiClient, evidence_id: str) -> None:
    """Wait until every job on an item has finished, failing after a generous deadline."""
    deadline = time.monotonic() + PROCESSING_DEADLINE_S
    while time.monotonic() < deadline:
        jobs = api.get(f"/evidence/{evidence_id}/jobs").json()
        item = api.get(f"/evidence/{evidence_id}").json()
        finished = jobs and all(j["status"] in ("succeeded", "failed") for j in jobs)
        if finished and item["status"] in ("ready", "failed"):
            failed = [j for j in jobs if j["status"] == "failed"]
            assert not failed, f"processing failed: {failed}"
            return
        time.sleep(0.25)
    pytest.fail(f"evidence {evidence_id} was still being processed after the deadline")


def _seed(server: ServerProcess, admin: ApiClient) -> Viewer:
    base = server.base_url
    study_id = str(
        admin.created(
            "/studies",
            {
                "name": "Kettle returns",
                "company": "Acme Appliances",
                "description": "How a faulty kettle gets refunded: in store, by phone, online.",
                "channels": ["in_person", "phone", "web"],
                "journey_stages": STAGES,
                "checklist": CHECKLIST,
            },
        )["id"]
    )
    other_study_id = str(admin.created("/studies", {"name": "Toaster warranty"})["id"])
    researcher = _member(admin, base, "researcher", f"Rita {HOSTILE}")
    reviewer = _member(admin, base, "reviewer", "Rob Reviewer")
    manager = _member(admin, base, "manager", "Mia Manager")
    outsider = _member(admin, base, "outsider", "Otto Outsider")
    for member, role in ((researcher, "researcher"), (reviewer, "reviewer"), (manager, "manager")):
        admin.created(f"/studies/{study_id}/members", {"user_id": member.id, "role": role})
    admin.created(
        f"/studies/{other_study_id}/members", {"user_id": outsider.id, "role": "researcher"}
    )

    rita = researcher.api
    journey_id = str(
        admin.created(
            f"/studies/{study_id}/journeys",
            {"title": "Return a faulty kettle", "scenario": "Bought last week; it leaks."},
        )["id"]
    )
    store_visit = _visit(
        rita,
        study_id,
        channel="in_person",
        journey_id=journey_id,
        journey_position=1,
        title=f"High-street store {HOSTILE}",
        summary="Went to the returns desk with the kettle and the receipt.",
        checklist_answers={"greeted": True, "helpful": 2, "remarks": "long queue"},
    )
    photo_id = _upload(rita, store_visit, "photo", "counter.jpg", _photo_bytes(), "image/jpeg")
    store_note_id = _note(rita, store_visit, HOSTILE_NOTE)
    call_visit = _visit(
        rita,
        study_id,
        channel="phone",
        journey_id=journey_id,
        journey_position=2,
        title="Help line call",
        summary="Called the help line to ask for a refund.",
        checklist_answers={"greeted": False, "helpful": 4},
    )
    call_id = _upload(rita, call_visit, "audio", "call.flac", CALL_AUDIO.read_bytes(), "audio/flac")
    call_note_id = _note(rita, call_visit, CALL_NOTE)
    web_visit = _visit(
        rita,
        study_id,
        channel="web",
        journey_id=journey_id,
        journey_position=3,
        title="Refund form online",
        checklist_answers={"greeted": True},
    )
    _note(rita, web_visit, "The refund form lost everything after the address step.")
    for evidence_id in (photo_id, call_id):
        wait_until_processed(rita, evidence_id)
    for visit_id in (store_visit, call_visit, web_visit):
        _submit(rita, visit_id)

    outsider_visit = _visit(outsider.api, other_study_id, channel="in_person", title="Other study")
    other_note_id = _note(outsider.api, outsider_visit, "A note of another study.")
    _submit(outsider.api, outsider_visit)

    transcripts = reviewer.api.get(f"/evidence/{call_id}/transcripts").json()
    assert transcripts and transcripts[0]["segments"], "the call was not transcribed"
    reviewer.api.created(
        f"/visits/{call_visit}/moments",
        {"what_happened": "Asked for the refund", "stage": "Return", "offset_s": 4.6},
    )
    finding = reviewer.api.created(
        f"/studies/{study_id}/findings",
        {
            "kind": "pain_point",
            "severity": 3,
            "title": f"Receipt asked for twice {HOSTILE}",
            "body": f"Seen at the store. {HOSTILE}",
            "citations": [{"evidence_id": store_note_id, "quote": "asked for the receipt twice"}],
        },
    )
    manager.api.created(
        f"/findings/{finding['id']}/actions",
        {"title": "Train returns desk staff", "owner": "Store operations", "due_on": "2026-04-30"},
    )
    return Viewer(
        base_url=base,
        process=server,
        admin=admin,
        study_id=study_id,
        other_study_id=other_study_id,
        researcher=researcher,
        reviewer=reviewer,
        manager=manager,
        outsider=outsider,
        journey_id=journey_id,
        store_visit=store_visit,
        call_visit=call_visit,
        web_visit=web_visit,
        other_visit=outsider_visit,
        photo_id=photo_id,
        store_note_id=store_note_id,
        call_id=call_id,
        call_note_id=call_note_id,
        other_note_id=other_note_id,
        hostile_finding_id=str(finding["id"]),
        segments=transcripts[0]["segments"],
    )


@pytest.fixture(scope="package")
def viewer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Viewer]:
    """Start ``fieldbook serve`` on a fresh data folder and fill it through the API."""
    assert WHISPER_MODEL.is_dir(), f"the tiny Whisper model is missing at {WHISPER_MODEL}"
    tmp = tmp_path_factory.mktemp("viewer")
    env = fieldbook_env(
        tmp,
        f"sqlite:///{tmp / 'fieldbook.db'}",
        FIELDBOOK_WHISPER_MODEL=str(WHISPER_MODEL),
        FIELDBOOK_LOGIN_RATE_LIMIT="1000 per minute",
        FIELDBOOK_JOB_THREADS="2",
    )
    init = run_fieldbook({**env, "FIELDBOOK_PASSWORD": ADMIN_PASSWORD}, "init")
    assert init.returncode == 0, init.stdout + init.stderr
    server = start_fieldbook(env, free_port(), tmp / "server.log")
    try:
        admin = ApiClient.sign_in(server.base_url, ADMIN_EMAIL, ADMIN_PASSWORD)
        yield _seed(server, admin)
    except BaseException:
        print(server.log_tail(120))
        raise
    finally:
        server.stop()


# --- the browser -----------------------------------------------------------------------


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Playwright]:
    """Start Playwright for this package (other packages stop theirs when they finish)."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def chromium(playwright_driver: Playwright) -> Iterator[Browser]:
    """Launch the system Chromium, headless."""
    if not CHROMIUM.exists():
        pytest.skip("the system Chromium is not installed")
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@dataclass
class Tab:
    """A browser tab of one person, with everything that went wrong in it."""

    viewer: Viewer
    context: BrowserContext
    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(self, path: str) -> Any:
        """Open a path of the viewer and return the response."""
        return self.page.goto(self.viewer.url(path))

    def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot to artifacts/viewer/NAME.png."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def axe_violations(self) -> list[dict[str, Any]]:
        """Run axe-core on the page; return serious and critical violations."""
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            # evaluated by the driver, not added as an inline <script>: the CSP stays strict
            self.page.evaluate(AXE.read_text(encoding="utf-8"))
        result = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        )
        return [v for v in result if v["impact"] in ("serious", "critical")]

    def pwned(self) -> bool:
        """Tell whether any hostile text managed to run."""
        return bool(self.page.evaluate("window.__pwned === 1"))


def _watch(tab: Tab) -> Tab:
    def on_dialog(dialog: Dialog) -> None:
        tab.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            tab.errors.append(message.text)

    tab.page.on("dialog", on_dialog)
    tab.page.on("console", on_console)
    tab.page.on("pageerror", lambda error: tab.errors.append(str(error)))
    return tab


def sign_in(page: Page, viewer: Viewer, email: str) -> None:
    """Sign in through the sign-in form."""
    page.goto(viewer.url("/login"))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Studies", exact=True).wait_for()


@pytest.fixture(scope="package")
def sessions(chromium: Browser, viewer: Viewer) -> dict[str, Any]:
    """Sign each member in once; later tabs start from their saved cookies."""
    states: dict[str, Any] = {}
    for member in (viewer.researcher, viewer.reviewer, viewer.manager):
        context = chromium.new_context()
        sign_in(context.new_page(), viewer, member.email)
        states[member.email] = context.storage_state()
        context.close()
    return states


def _tab(chromium: Browser, viewer: Viewer, state: Any = None) -> Tab:
    context = chromium.new_context(
        storage_state=state, viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    return _watch(Tab(viewer, context, context.new_page()))


@pytest.fixture
def reviewer_tab(chromium: Browser, viewer: Viewer, sessions: dict[str, Any]) -> Iterator[Tab]:
    """A tab signed in as the study's reviewer."""
    tab = _tab(chromium, viewer, sessions[viewer.reviewer.email])
    yield tab
    tab.context.close()


@pytest.fixture
def manager_tab(chromium: Browser, viewer: Viewer, sessions: dict[str, Any]) -> Iterator[Tab]:
    """A tab signed in as the study's manager."""
    tab = _tab(chromium, viewer, sessions[viewer.manager.email])
    yield tab
    tab.context.close()


@pytest.fixture
def researcher_tab(chromium: Browser, viewer: Viewer, sessions: dict[str, Any]) -> Iterator[Tab]:
    """A tab signed in as the study's researcher."""
    tab = _tab(chromium, viewer, sessions[viewer.researcher.email])
    yield tab
    tab.context.close()


@pytest.fixture
def anonymous_tab(chromium: Browser, viewer: Viewer) -> Iterator[Tab]:
    """A tab of someone who is not signed in."""
    tab = _tab(chromium, viewer)
    yield tab
    tab.context.close()


def api_get(member: Member, path: str) -> Any:
    """GET an API path as a member; it must succeed."""
    response: requests.Response = member.api.get(path)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
    return response.json()
