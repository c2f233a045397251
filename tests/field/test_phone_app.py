"""The phone capture app in mobile Chromium against a real server.

Visits are captured offline and survive a reload; uploads resume from the server's
offset after an interruption; a failing server leaves items queued and visibly failed
until it recovers; recordings from the (fake) microphone arrive as audio; a revoked
token asks for a new sign-in without losing the outbox; big files wait for Wi-Fi on a
metered connection. Every check of what arrived is made through the API.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import FilePayload, Locator, Page, Route, expect

from tests.field.conftest import (
    PLACE,
    RESEARCHER_PASSWORD,
    Phone,
    Team,
    jpeg_bytes,
    sha256,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHUNK = 1024 * 1024  # the app's tus chunk size
SENT_S = 60_000  # ms to wait for the outbox to finish sending
UPLOADS = re.compile(r"/api/v1/uploads$")

# what IndexedDB holds for the photos of the phone (bytes kept, upload URL, state)
LOCAL_FILES_JS = """
() => new Promise((resolve, reject) => {
  const open = indexedDB.open("fieldbook-field");
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const all = open.result.transaction("items").objectStore("items").getAll();
    all.onsuccess = () => resolve(all.result.filter((i) => i.type === "file").map((i) => ({
      kind: i.kind, state: i.state, upload_url: i.upload_url, has_bytes: i.blob !== null,
    })));
  };
})
"""


def sign_in(phone: Phone, team: Team) -> None:
    """Sign in on the phone as the team's researcher and wait for the assignments."""
    page = phone.page
    page.get_by_label("E-mail").fill(team.email)
    page.get_by_label("Password").fill(RESEARCHER_PASSWORD)
    page.get_by_label("Name of this phone").fill("Test phone")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#screen-title")).to_have_text("Assignments")


def start_visit(phone: Phone, team: Team) -> None:
    """Open the team's assignment and start its visit; wait until places are recorded."""
    page = phone.page
    page.locator("a.assignment", has_text=team.target["name"]).click()
    page.locator("#start-visit").click()
    expect(page.locator("#place-status")).to_contain_text("Location recorded")


def add_photo(page: Page, name: str, data: bytes) -> None:
    """Take a photo: the camera's file arrives through the capture input."""
    page.locator("#photo-input").set_input_files(
        files=[FilePayload(name=name, mimeType="image/jpeg", buffer=data)]
    )


def captured(page: Page, kind: str) -> Locator:
    """The rows of captured items of a kind on the visit screen."""
    return page.locator(f'#visit-items li.outbox-item[data-kind="{kind}"]')


def outbox_rows(page: Page) -> Locator:
    """Every row of the outbox screen."""
    return page.locator("#outbox-list li.outbox-item")


def only_visit(team: Team) -> dict[str, Any]:
    """Return the study's one visit on the server."""
    visits = team.visits()
    assert len(visits) == 1, visits
    return visits[0]


def by_kind(evidence: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Return the evidence items of one kind."""
    return [item for item in evidence if item["kind"] == kind]


def test_visit_captured_offline_is_sent_once_after_a_reload(phone: Phone, team: Team) -> None:
    page = phone.page
    photo = jpeg_bytes(seed=1)
    note = "Queue of five at the till; one person serving.\nNo sign about returns."
    phone.open()
    phone.screenshot("01-sign-in")
    sign_in(phone, team)
    phone.screenshot("02-assignments")

    page.locator("a.assignment", has_text=team.target["name"]).click()
    expect(page.locator(".script")).to_contain_text("Ask for a refund, not a swap.")
    expect(page.locator("a.map-link")).to_have_attribute(
        "href", re.compile(r"^https://www\.openstreetmap\.org/\?mlat=53\.7997&mlon=-1\.5492")
    )
    expect(page.locator("a.tel-link")).to_have_attribute("href", "tel:+441134960000")
    expect(page.locator("a.web-link")).to_have_attribute("href", team.target["url"])
    phone.screenshot("03-assignment")
    # the service worker has the app shell before the phone goes offline
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")

    phone.context.set_offline(True)
    expect(page.locator("#network")).to_have_text("Offline")
    page.locator("#start-visit").click()
    expect(page.locator("#place-status")).to_contain_text("Location recorded")
    add_photo(page, "shelf.jpg", photo)
    expect(captured(page, "photo")).to_have_count(1)
    page.get_by_label("Note").fill(note)
    page.get_by_role("button", name="Save note").click()
    page.get_by_label("Moment (what happened, optional)").fill("Greeted at the till")
    page.get_by_role("button", name="Mark moment").click()
    page.get_by_role("group", name="Were you greeted?").get_by_label("Yes").check()
    page.get_by_role("group", name="How helpful was the staff?").get_by_label("4").check()
    page.get_by_label("Anything else?").fill("The kettle shelf was empty.")
    page.get_by_label("Anything else?").blur()
    expect(page.locator("#checklist + p")).to_have_text("Answers saved on the phone (3 of 3).")
    expect(page.locator("#captured-title")).to_have_text("Captured (3)")
    phone.screenshot("04-visit-offline")

    page.get_by_role("button", name="Finish and submit visit").click()
    page.get_by_role("dialog").get_by_role("button", name="Submit visit").click()
    expect(page.locator("#screen-title")).to_have_text("Outbox")
    rows = outbox_rows(page)
    # the visit, the photo, the note, the moment, the answers, the submission
    expect(rows).to_have_count(6)
    expect(rows.and_(page.locator('[data-state="waiting"]'))).to_have_count(6)
    expect(rows.first.locator(".item-reason")).to_contain_text("Offline")
    phone.screenshot("05-outbox-offline")
    assert team.visits() == []

    # offline reload: the service worker serves the app, IndexedDB still holds everything
    page.reload()
    expect(page.locator("#screen-title")).to_have_text("Outbox")
    expect(rows.and_(page.locator('[data-state="waiting"]'))).to_have_count(6)
    assert team.visits() == []

    phone.context.set_offline(False)
    expect(rows.and_(page.locator('[data-state="stored"]'))).to_have_count(6, timeout=SENT_S)
    phone.screenshot("06-outbox-sent")

    visit = only_visit(team)
    assert visit["status"] == "submitted"
    assert visit["assignment_id"] == team.assignment["id"]
    assert visit["target_id"] == team.target["id"]
    assert visit["channel"] == "in_person"
    assert visit["checklist_answers"] == {
        "greeted": True,
        "helpful": 4,
        "remarks": "The kettle shelf was empty.",
    }
    assert visit["missing_evidence"] == []
    assert len(visit["evidence_manifest"]) == 3
    assert visit["ended_at"] is not None
    assert visit["latitude"] == pytest.approx(PLACE["latitude"])
    evidence = team.evidence(visit["id"])
    assert len(evidence) == 3
    (stored_photo,) = by_kind(evidence, "photo")
    assert stored_photo["sha256"] == sha256(photo)
    assert stored_photo["size"] == len(photo)
    assert stored_photo["latitude"] == pytest.approx(PLACE["latitude"])
    assert stored_photo["longitude"] == pytest.approx(PLACE["longitude"])
    assert stored_photo["location_accuracy_m"] == pytest.approx(PLACE["accuracy"])
    assert stored_photo["captured_at"] is not None
    assert "Test phone" in stored_photo["device"]
    notes = {item["text"]: item for item in by_kind(evidence, "note")}
    assert notes[note]["sha256"] == sha256(note.encode())
    (moment,) = [text for text in notes if text != note]
    assert re.fullmatch(r"Moment at \d\d:\d\d:\d\d — Greeted at the till", moment)
    # the phone let go of the photo's bytes only once the server had confirmed them
    local = page.evaluate(LOCAL_FILES_JS)
    assert [(i["kind"], i["state"], i["has_bytes"]) for i in local] == [("photo", "stored", False)]


def stored_url(phone: Phone) -> str:
    """Return the upload URL the phone kept for its one photo."""
    (item,) = phone.page.evaluate(LOCAL_FILES_JS)
    return str(item["upload_url"])


def test_interrupted_upload_resumes_from_the_server_offset(phone: Phone, team: Team) -> None:
    page = phone.page
    photo = jpeg_bytes(2000, 1200, seed=2, noise=True)
    assert len(photo) > 2 * CHUNK
    phone.open()
    sign_in(phone, team)
    start_visit(phone, team)

    patches: list[int] = []  # the offset of every PATCH the phone sent
    delivered: list[int] = []  # the length of every PATCH body that reached the server
    cut = {"on": True}

    def cut_after_first_chunk(route: Route) -> None:
        request = route.request
        if request.method == "PATCH":
            offset = int(request.headers["upload-offset"])
            patches.append(offset)
            if cut["on"] and offset > 0:
                route.abort("connectionreset")
                return
            delivered.append(len(request.post_data_buffer or b""))
        route.continue_()

    creations: list[str] = []
    page.on(
        "request",
        lambda r: creations.append(r.url) if r.method == "POST" and UPLOADS.search(r.url) else None,
    )
    page.route("**/api/v1/uploads/*", cut_after_first_chunk)
    add_photo(page, "aisle.jpg", photo)
    row = captured(page, "photo")
    expect(row).to_have_attribute("data-state", "failed")
    expect(row.locator(".item-reason")).to_contain_text("Retrying at")
    phone.screenshot("07-upload-interrupted")

    # the server holds exactly the first chunk
    upload_url = stored_url(phone)
    head = team.researcher.request("HEAD", upload_url, headers={"Tus-Resumable": "1.0.0"})
    assert head.status_code == 200
    assert int(head.headers["Upload-Offset"]) == CHUNK

    # after a reload the phone finds its upload again and asks the server where it stands
    with page.expect_request(lambda r: r.method == "HEAD" and r.url == upload_url):
        page.reload()
    cut["on"] = False
    page.goto(f"{phone.base_url}/field/#/outbox")
    page.get_by_role("button", name="Send now").click()
    photo_row = outbox_rows(page).and_(page.locator('[data-kind="photo"]'))
    expect(photo_row).to_have_attribute("data-state", "stored", timeout=SENT_S)

    assert len(creations) == 1
    assert patches[0] == 0
    assert patches.count(0) == 1
    assert min(patches[1:]) == CHUNK
    # nothing was sent twice: the bytes that reached the server add up to the file
    assert sum(delivered) == len(photo)
    evidence = team.evidence(only_visit(team)["id"])
    assert [(e["sha256"], e["size"]) for e in evidence] == [(sha256(photo), len(photo))]


def test_server_error_keeps_the_item_queued_until_it_goes_through(phone: Phone, team: Team) -> None:
    page = phone.page
    photo = jpeg_bytes(seed=3)
    phone.open()
    sign_in(phone, team)
    start_visit(phone, team)

    refused: list[str] = []

    def fail(route: Route) -> None:
        refused.append(route.request.method)
        route.fulfill(
            status=500,
            json={"code": "server.error", "status": 500, "message": "Internal error", "errors": {}},
        )

    page.route(UPLOADS, fail)
    add_photo(page, "till.jpg", photo)
    row = captured(page, "photo")
    expect(row).to_have_attribute("data-state", "failed")
    expect(row.locator(".chip")).to_have_text("Failed")
    expect(row.locator(".item-reason")).to_contain_text("Server error 500: Internal error")
    expect(row.locator(".item-reason")).to_contain_text("Retrying at")

    # still there after a reload, and tried again
    page.goto(f"{phone.base_url}/field/#/outbox")
    with page.expect_request(lambda r: r.method == "POST" and bool(UPLOADS.search(r.url))):
        page.reload()
    photo_row = outbox_rows(page).and_(page.locator('[data-kind="photo"]'))
    expect(photo_row).to_have_attribute("data-state", "failed")
    expect(photo_row.locator(".item-reason")).to_contain_text("Server error 500")
    phone.screenshot("08-outbox-failed")
    assert len(refused) >= 2
    assert team.evidence(only_visit(team)["id"]) == []

    # the server recovers: the next retry goes through, once
    page.unroute(UPLOADS)
    expect(photo_row).to_have_attribute("data-state", "stored", timeout=SENT_S)
    evidence = team.evidence(only_visit(team)["id"])
    assert [(e["kind"], e["sha256"]) for e in evidence] == [("photo", sha256(photo))]


def test_recorded_audio_is_sent_as_audio(phone: Phone, team: Team) -> None:
    page = phone.page
    phone.open()
    sign_in(phone, team)
    start_visit(phone, team)

    page.get_by_role("button", name="Record audio").click()
    consent = page.get_by_role("dialog", name="Before you record")
    expect(consent).to_contain_text(team.consent_text)
    consent.get_by_role("button", name="I have consent: record").click()
    expect(page.locator("#recording-timer")).to_have_text(re.compile(r"^00:0[2-9]$"))
    expect(page.get_by_role("button", name="Record audio")).to_be_hidden()
    phone.screenshot("09-recording")
    page.get_by_role("button", name="Stop recording").click()

    row = captured(page, "audio")
    expect(row).to_have_attribute("data-state", "stored", timeout=SENT_S)
    local_sha = row.get_attribute("data-sha256")
    page.goto(f"{phone.base_url}/field/#/outbox")
    expect(outbox_rows(page).and_(page.locator('[data-kind="audio"]'))).to_have_attribute(
        "data-state", "stored"
    )

    evidence = team.evidence(only_visit(team)["id"])
    (audio,) = evidence
    assert audio["kind"] == "audio"
    assert audio["sha256"] == local_sha
    original = team.researcher.request("GET", f"/evidence/{audio['id']}/original")
    assert original.status_code == 200
    assert sha256(original.content) == local_sha
    # Chromium records WebM: the EBML magic, then some seconds of sound
    assert original.content[:4] == bytes.fromhex("1a45dfa3")
    assert len(original.content) > 4000


def test_revoked_token_asks_to_sign_in_again_and_keeps_the_outbox(phone: Phone, team: Team) -> None:
    page = phone.page
    phone.open()
    sign_in(phone, team)
    start_visit(phone, team)
    # the visit reaches the server while the token still works
    page.goto(f"{phone.base_url}/field/#/outbox")
    visit_row = outbox_rows(page).and_(page.locator('[data-type="visit"]'))
    expect(visit_row).to_have_attribute("data-state", "stored")
    visit_id = only_visit(team)["id"]
    page.go_back()
    expect(page.locator("#place-status")).to_contain_text("Location recorded")

    tokens = team.researcher.json("GET", "/tokens")
    (app_token,) = [t for t in tokens if t["device_name"] == "Test phone"]
    team.researcher.json("DELETE", f"/tokens/{app_token['id']}", expect=204)

    page.get_by_label("Note").fill("Written after the token was revoked.")
    page.get_by_role("button", name="Save note").click()
    expect(page.locator("#banner")).to_contain_text("no longer valid")
    note_row = captured(page, "note")
    expect(note_row).to_have_attribute("data-state", "waiting")
    expect(note_row.locator(".item-reason")).to_have_text("Sends once you sign in again.")
    phone.screenshot("10-sign-in-again-banner")
    assert team.evidence(visit_id) == []

    page.reload()
    expect(page.locator("#screen-title")).to_have_text("Sign in again")
    page.get_by_label("Password").fill(RESEARCHER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#screen-title")).to_have_text("Assignments")
    expect(page.locator("#banner")).to_be_hidden()
    page.goto(f"{phone.base_url}/field/#/outbox")
    queued_note = outbox_rows(page).and_(page.locator('[data-kind="note"]'))
    expect(queued_note).to_have_attribute("data-state", "stored", timeout=SENT_S)
    evidence = team.evidence(visit_id)
    assert [e["text"] for e in evidence] == ["Written after the token was revoked."]


# Data Saver on, on mobile data: what Chromium on Android reports through navigator.connection
METERED_JS = """
const connection = new EventTarget();
connection.saveData = true;
connection.type = "cellular";
connection.effectiveType = "4g";
Object.defineProperty(Navigator.prototype, "connection", { get: () => connection });
"""


def test_big_upload_waits_for_wifi_on_a_metered_connection(phone: Phone, team: Team) -> None:
    page = phone.page
    page.add_init_script(METERED_JS)
    big = jpeg_bytes(2600, 1800, seed=4, noise=True)
    assert len(big) > 4 * 1024 * 1024
    phone.open()
    sign_in(phone, team)
    start_visit(phone, team)

    add_photo(page, "wide.jpg", big)
    page.get_by_label("Note").fill("Small things still go.")
    page.get_by_role("button", name="Save note").click()
    expect(captured(page, "note")).to_have_attribute("data-state", "stored", timeout=SENT_S)
    photo_row = captured(page, "photo")
    expect(photo_row).to_have_attribute("data-state", "held")
    expect(photo_row.locator(".item-reason")).to_contain_text("Waiting for Wi-Fi: Data Saver is on")

    page.goto(f"{phone.base_url}/field/#/outbox")
    expect(page.locator("#metered")).to_contain_text("Big files wait for Wi-Fi")
    phone.screenshot("11-outbox-held")
    assert by_kind(team.evidence(only_visit(team)["id"]), "photo") == []

    # the second chunk is kept waiting, so the upload can be seen under way
    waiting_chunks: list[Route] = []

    def hold_second_chunk(route: Route) -> None:
        request = route.request
        if request.method == "PATCH" and request.headers["upload-offset"] == str(CHUNK):
            waiting_chunks.append(route)
            return
        route.continue_()

    page.route("**/api/v1/uploads/*", hold_second_chunk)
    page.get_by_role("button", name="Send them over mobile data").click()
    held_row = outbox_rows(page).and_(page.locator('[data-kind="photo"]'))
    expect(held_row).to_have_attribute("data-state", "uploading")
    # one chunk of five is on the server, the second on its way: 19% to 39%
    expect(held_row.locator(".chip")).to_have_text(re.compile(r"^Uploading ([12]\d|3\d)%$"))
    expect(held_row.locator("progress")).to_have_attribute("value", re.compile(r"^([12]\d|3\d)$"))
    phone.screenshot("12-outbox-uploading")
    assert len(waiting_chunks) == 1
    waiting_chunks[0].continue_()
    expect(held_row).to_have_attribute("data-state", "stored", timeout=SENT_S)
    photos = by_kind(team.evidence(only_visit(team)["id"]), "photo")
    assert [p["sha256"] for p in photos] == [sha256(big)]
