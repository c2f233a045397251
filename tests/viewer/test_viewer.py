"""Reviewing in the browser: dashboard, journey, call player, citing, review moves, search."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from playwright.sync_api import expect

from tests.viewer.conftest import (
    CALL_AUDIO,
    LONG_CALL_AUDIO,
    PASSWORD,
    Tab,
    Viewer,
    api_get,
)

pytestmark = pytest.mark.browser


def test_signing_in_shows_only_my_studies(anonymous_tab: Tab, viewer: Viewer) -> None:
    page = anonymous_tab.page
    anonymous_tab.open(f"/studies/{viewer.study_id}")
    # not signed in: the page asks for it, and comes back afterwards
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("E-mail").fill(viewer.reviewer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(viewer.url(f"/studies/{viewer.study_id}"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Studies").click()
    expect(page.get_by_role("link", name="Kettle returns")).to_be_visible()
    expect(page.get_by_text("Toaster warranty")).to_have_count(0)
    assert not anonymous_tab.errors


def test_dashboard_counts_lead_to_the_visits_behind_them(reviewer_tab: Tab, viewer: Viewer) -> None:
    page = reviewer_tab.page
    reviewer_tab.open(f"/studies/{viewer.study_id}")
    by_channel = page.get_by_role("table", name="By channel")
    expect(by_channel.get_by_role("row", name="Phone 1")).to_be_visible()
    expect(page.get_by_role("table", name="By journey stage").get_by_role("row", name="Return 1"))
    # yes/no: the phone visit said no (0%), the store and web visits yes (100%)
    scores = page.locator("table.scores")
    greeted = scores.get_by_role("row", name=re.compile("greeted within a minute"))
    expect(greeted.get_by_role("link")).to_have_text(["100% (1)", "0% (1)", "100% (1)"])
    greeted.get_by_role("link").nth(1).click()
    expect(page.get_by_role("heading", name="Visits")).to_be_visible()
    rows = page.locator("table.visits tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("link").first).to_have_text("Help line call")
    # the open finding and its action, with its owner, are on the dashboard
    reviewer_tab.open(f"/studies/{viewer.study_id}")
    findings = page.get_by_role("region", name="Open findings")
    expect(findings.get_by_text("Store operations")).to_be_visible()
    expect(page.get_by_role("region", name="Recent activity").get_by_text("visit.transition").first)
    assert not reviewer_tab.errors


def test_journey_timeline_orders_visits_across_channels(reviewer_tab: Tab, viewer: Viewer) -> None:
    page = reviewer_tab.page
    reviewer_tab.open(f"/journeys/{viewer.journey_id}")
    headings = page.locator(".timeline-visit h2")
    expect(headings).to_have_count(3)
    expect(headings.nth(1)).to_have_text("Help line call")
    expect(headings.nth(2)).to_have_text("Refund form online")
    thumbnail = page.locator("a[data-photo] img")
    expect(thumbnail).to_have_attribute("loading", "lazy")
    expect(thumbnail).to_have_attribute("src", re.compile(r"/thumbnail$"))
    page.locator("a[data-photo]").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    # the lightbox shows the display copy (no GPS), never the original
    expect(dialog.locator("img")).to_have_attribute("src", re.compile(r"/display$"))
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert not reviewer_tab.errors


def _segment_index(viewer: Viewer, minimum_start: float) -> int:
    return next(i for i, s in enumerate(viewer.segments) if s["start"] >= minimum_start)


def test_transcript_follows_the_call_and_a_click_seeks(reviewer_tab: Tab, viewer: Viewer) -> None:
    page = reviewer_tab.page
    reviewer_tab.open(f"/visits/{viewer.call_visit}")
    call = page.locator("[data-call]")
    lines = call.locator(".segment")
    expect(lines).to_have_count(len(viewer.segments))
    expect(call.locator(".speaker").first).not_to_be_empty()
    # play from the first line; the highlighted line moves on with the audio
    call.locator(".seg-time").first.click()
    page.wait_for_function("() => document.querySelector('[data-audio]').currentTime > 0.2")
    page.evaluate("document.querySelector('[data-audio]').playbackRate = 4")
    later = _segment_index(viewer, 1.0)
    expect(lines.nth(later)).to_have_class(re.compile("is-current"))
    expect(lines.nth(later)).to_have_attribute("aria-current", "true")
    expect(call.locator(".segment.is-current")).to_have_count(1)
    # clicking a line's words moves there and leaves the player paused
    page.evaluate("document.querySelector('[data-audio]').pause()")
    last = len(viewer.segments) - 1
    start = viewer.segments[last]["start"]
    lines.nth(last).locator(".seg-text").click()
    page.wait_for_function(
        "start => { const a = document.querySelector('[data-audio]');"
        " return a.paused && Math.abs(a.currentTime - start) < 0.1; }",
        arg=start,
    )
    expect(lines.nth(last)).to_have_class(re.compile("is-current"))
    # the keyboard reaches a line's time button, which plays from there
    lines.first.locator(".seg-time").focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "end => { const a = document.querySelector('[data-audio]');"
        " return !a.paused && a.currentTime < end; }",
        arg=viewer.segments[0]["end"],
    )
    assert not reviewer_tab.errors


def test_the_recording_answers_byte_ranges_in_parallel(viewer: Viewer) -> None:
    """The player seeks with byte ranges, several at once; each read of the original is audited."""
    url = viewer.url(f"/evidence/{viewer.call_id}/recording")
    size = CALL_AUDIO.stat().st_size
    headers = {"Authorization": f"Bearer {viewer.reviewer.api.token}"}

    def fetch(start: int) -> requests.Response:
        return requests.get(
            url, headers={**headers, "Range": f"bytes={start}-{start + 999}"}, timeout=30
        )

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(fetch, range(0, 16_000, 1000)))
    assert [a.status_code for a in answers] == [206] * 16
    assert answers[3].headers["Content-Range"] == f"bytes 3000-3999/{size}"
    assert answers[3].content == CALL_AUDIO.read_bytes()[3000:4000]
    audited = api_get(
        viewer.manager,
        f"/studies/{viewer.study_id}/audit?action=evidence.original.read&page_size=100",
    )
    assert sum(e["object_id"] == viewer.call_id for e in audited) >= 16


def test_hold_and_silence_are_marked_on_the_call_bar(reviewer_tab: Tab, viewer: Viewer) -> None:
    page = reviewer_tab.page
    reviewer_tab.open(f"/evidence/{viewer.call_id}")
    bar = page.locator("[data-call-bar]")
    expect(bar.locator("rect.bar-speech")).to_have_count(len(viewer.segments))
    expect(bar.get_by_text(re.compile(r"^Hold"))).to_be_visible()
    expect(bar.get_by_text(re.compile(r"^Silence"))).to_be_visible()
    expect(page.get_by_text("Redacted transcript")).to_be_visible()


def _select_words(tab: Tab, text_locator, fraction: float = 0.6) -> None:
    """Drag the mouse across the start of a line's words, as a person selects them."""
    box = text_locator.bounding_box()
    assert box is not None
    page = tab.page
    page.mouse.move(box["x"] + 1, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()


def test_a_selected_quote_becomes_a_finding_citing_the_call(
    reviewer_tab: Tab, viewer: Viewer
) -> None:
    page = reviewer_tab.page
    reviewer_tab.open(f"/visits/{viewer.call_visit}")
    last = len(viewer.segments) - 1
    words = page.locator("[data-call] .segment").nth(last).locator(".seg-text")
    _select_words(reviewer_tab, words)
    panel = page.get_by_role("region", name="Cite evidence")
    quote = panel.locator("[data-cite-quote]")
    expect(quote).not_to_be_empty()
    quoted = quote.inner_text()
    title = f"Agent read from a script {uuid.uuid4().hex[:6]}"
    panel.get_by_label("Title").fill(title)
    panel.get_by_label("Severity").select_option("3")
    panel.get_by_role("button", name="Save").click()
    expect(panel.get_by_role("status")).to_contain_text("Finding saved")

    found = [
        f
        for f in api_get(viewer.reviewer, f"/studies/{viewer.study_id}/findings?page_size=100")
        if f["title"] == title
    ]
    assert len(found) == 1
    (citation,) = found[0]["citations"]
    assert citation["evidence_id"] == viewer.call_id
    assert citation["span"]["type"] in ("time", "text")
    segment = viewer.segments[last]
    assert segment["start"] - 0.01 <= citation["span"]["start"] < citation["span"]["end"]
    assert citation["span"]["end"] <= segment["end"] + 0.01
    assert citation["quote"] == quoted
    assert quoted.lower() in segment["text"].lower()
    assert found[0]["severity"] == 3
    assert not reviewer_tab.errors


def test_a_photo_region_becomes_a_moment(reviewer_tab: Tab, viewer: Viewer) -> None:
    page = reviewer_tab.page
    reviewer_tab.open(f"/visits/{viewer.store_visit}")
    page.locator("a[data-photo]").click()
    image = page.get_by_role("dialog").locator("img")
    expect(image).to_be_visible()
    page.wait_for_function("() => document.querySelector('dialog img').complete")
    box = image.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.5, steps=6)
    page.mouse.up()
    page.get_by_role("button", name="Cite the marked region").click()
    panel = page.get_by_role("region", name="Cite evidence")
    panel.get_by_label("Moment").check()
    what = f"Kettle shown on the counter {uuid.uuid4().hex[:6]}"
    panel.get_by_label("What happened").fill(what)
    panel.get_by_label("Journey stage").select_option("Return")
    panel.get_by_role("button", name="Save").click()
    expect(panel.get_by_role("status")).to_contain_text("Moment saved")
    expect(page.get_by_role("region", name="Moments").get_by_text(what)).to_be_visible()

    moments = api_get(viewer.reviewer, f"/visits/{viewer.store_visit}/moments")
    (moment,) = [m for m in moments if m["what_happened"] == what]
    (citation,) = moment["citations"]
    assert citation["evidence_id"] == viewer.photo_id
    span = citation["span"]
    assert span["type"] == "region"
    assert span["x"] == pytest.approx(0.25, abs=0.03)
    assert span["y"] == pytest.approx(0.25, abs=0.03)
    assert span["w"] == pytest.approx(0.5, abs=0.03)
    assert span["h"] == pytest.approx(0.25, abs=0.03)
    assert moment["stage"] == "Return"


def test_returning_a_visit_needs_a_comment_and_shows_it(reviewer_tab: Tab, viewer: Viewer) -> None:
    page = reviewer_tab.page
    reviewer_tab.open(f"/visits/{viewer.store_visit}")
    review = page.get_by_role("region", name="Review")
    review.get_by_role("button", name="Start review").click()
    expect(review.locator(".badge")).to_have_text("In review")
    comment = f"Please add the receipt photo {uuid.uuid4().hex[:6]}"
    review.get_by_label("What needs to change?").fill(comment)
    review.get_by_role("button", name="Return to researcher").click()
    expect(page.get_by_role("status").filter(has_text="went back")).to_be_visible()
    expect(review.locator(".badge")).to_have_text("Returned")
    expect(page.get_by_role("region", name="Comments").get_by_text(comment)).to_be_visible()
    visit = api_get(viewer.reviewer, f"/visits/{viewer.store_visit}")
    assert visit["status"] == "returned"


def test_approving_a_visit(reviewer_tab: Tab, viewer: Viewer) -> None:
    page = reviewer_tab.page
    reviewer_tab.open(f"/visits/{viewer.web_visit}")
    review = page.get_by_role("region", name="Review")
    review.get_by_role("button", name="Start review").click()
    review.get_by_role("button", name="Approve visit").click()
    expect(review.locator(".badge")).to_have_text("Approved")
    assert api_get(viewer.reviewer, f"/visits/{viewer.web_visit}")["status"] == "approved"
    # comments go on the visit too
    comments = page.get_by_role("region", name="Comments")
    comments.get_by_label("Add a comment").fill("Clear evidence, thanks.")
    comments.get_by_role("button", name="Comment").click()
    expect(comments.get_by_text("Clear evidence, thanks.")).to_be_visible()


def test_search_opens_the_call_at_the_second_and_the_note_at_the_line(
    reviewer_tab: Tab, viewer: Viewer
) -> None:
    page = reviewer_tab.page
    word = next(
        max(words, key=len)
        for segment in viewer.segments
        if segment["start"] >= 1.0 and (words := re.findall(r"[a-z]{4,}", segment["text"].lower()))
    )
    reviewer_tab.open(f"/studies/{viewer.study_id}/search")
    page.get_by_label("Words in call transcripts and notes").fill(word)
    page.get_by_role("button", name="Search").click()
    hit = page.get_by_role("link", name=re.compile(r"^Call at ")).first
    expect(hit).to_have_attribute("href", re.compile(r"#t=\d"))
    second = float(hit.get_attribute("href").split("#t=")[1])  # type: ignore[union-attr]
    assert second >= 1.0
    hit.click()
    expect(page).to_have_url(re.compile(rf"/evidence/{viewer.call_id}#t="))
    page.wait_for_function(
        "t => { const a = document.querySelector('[data-audio]');"
        " return a.paused && Math.abs(a.currentTime - t) < 0.1; }",
        arg=second,
    )
    expect(page.locator(".segment.is-current")).to_have_count(1)

    reviewer_tab.open(f"/studies/{viewer.study_id}/search?q=warranty")
    note_hit = page.get_by_role("link", name="Note, line 3")
    expect(note_hit).to_have_attribute("href", re.compile(r"#line-3$"))
    note_hit.click()
    target = page.locator(".note-body .is-target")
    expect(target).to_contain_text("warranty")
    assert not reviewer_tab.errors


def test_processing_status_updates_without_a_reload(researcher_tab: Tab, viewer: Viewer) -> None:
    page = researcher_tab.page
    rita = viewer.researcher.api
    visit = rita.created(
        f"/studies/{viewer.study_id}/visits",
        {"client_uuid": str(uuid.uuid4()), "channel": "phone", "title": "Second call"},
    )
    response = rita.post(
        f"/visits/{visit['id']}/evidence",
        data={"kind": "audio"},
        files={"file": ("long-call.wav", LONG_CALL_AUDIO.read_bytes(), "audio/wav")},
    )
    assert response.status_code == 201, response.text
    researcher_tab.open(f"/visits/{visit['id']}")
    status = page.locator("[data-call] .item-status")
    # the long call takes the tiny model a while: the page opens while work goes on
    expect(status).to_have_attribute("data-pending", "")
    page.evaluate("window.__samePage = true")
    expect(page.locator("[data-call] .segment").first).to_be_visible(timeout=120_000)
    expect(page.locator("[data-call] [data-pending]")).to_have_count(0)
    expect(page.locator("[data-call] audio")).to_have_count(1)
    assert page.evaluate("window.__samePage === true"), "the page was reloaded"
    assert not researcher_tab.errors


def test_editing_a_finding_and_its_actions(manager_tab: Tab, viewer: Viewer) -> None:
    page = manager_tab.page
    finding = viewer.reviewer.api.created(
        f"/studies/{viewer.study_id}/findings",
        {
            "kind": "pain_point",
            "title": f"Hold music too loud {uuid.uuid4().hex[:6]}",
            "citations": [
                {"evidence_id": viewer.call_id, "span": {"type": "time", "start": 0, "end": 2}}
            ],
        },
    )
    manager_tab.open(f"/studies/{viewer.study_id}/findings#finding-{finding['id']}")
    card = page.locator(f"#finding-{finding['id']}")
    # its citation opens the call at that second
    expect(card.get_by_role("link", name="0:00\u20130:02")).to_have_attribute(
        "href", re.compile(rf"/evidence/{viewer.call_id}#t=0")
    )
    card.get_by_text("Edit finding").click()
    card.get_by_label("Severity").select_option("4")
    card.get_by_label("Status").select_option("accepted")
    card.get_by_role("button", name="Save finding").click()
    expect(page.get_by_role("status").filter(has_text="Finding saved")).to_be_visible()
    changed = api_get(viewer.manager, f"/findings/{finding['id']}")
    assert (changed["severity"], changed["status"]) == (4, "accepted")

    card = page.locator(f"#finding-{finding['id']}")
    card.get_by_text("Add an action").click()
    card.get_by_label("Action").fill("Turn the hold music down")
    card.get_by_label("Owner").fill("Contact centre lead")
    card.get_by_label("Due").fill("2026-05-15")
    card.get_by_role("button", name="Add action").click()
    expect(page.get_by_role("status").filter(has_text="Action added")).to_be_visible()
    (action,) = api_get(viewer.manager, f"/findings/{finding['id']}/actions")
    assert (action["owner"], action["due_on"]) == ("Contact centre lead", "2026-05-15")

    card = page.locator(f"#finding-{finding['id']}")
    editing = card.locator("details", has_text="Edit action")
    editing.get_by_text("Edit action").click()
    editing.get_by_label("Status").select_option("done")
    editing.get_by_label("Outcome").fill("Volume halved on all lines.")
    editing.get_by_role("button", name="Save action").click()
    expect(page.get_by_role("status").filter(has_text="Action saved")).to_be_visible()
    (action,) = api_get(viewer.manager, f"/findings/{finding['id']}/actions")
    assert (action["status"], action["outcome"]) == ("done", "Volume halved on all lines.")
    assert not manager_tab.errors
