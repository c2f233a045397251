"""RELIABILITY 24-26 through the browser: other studies are 404 pages, hostile text is
inert on every page that shows it, and posts without their CSRF token are refused."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.viewer.conftest import Tab, Viewer

pytestmark = pytest.mark.browser


def _other_study_paths(viewer: Viewer) -> list[str]:
    return [
        f"/studies/{viewer.other_study_id}",
        f"/studies/{viewer.other_study_id}/visits",
        f"/studies/{viewer.other_study_id}/findings",
        f"/studies/{viewer.other_study_id}/search?q=note",
        f"/studies/{viewer.other_study_id}/journals",
        f"/visits/{viewer.other_visit}",
        f"/evidence/{viewer.other_note_id}",
        f"/evidence/{viewer.other_note_id}/block",
        f"/evidence/{viewer.other_note_id}/recording",
    ]


def test_rel24_another_studys_pages_are_404(reviewer_tab: Tab, viewer: Viewer) -> None:
    page = reviewer_tab.page
    for path in _other_study_paths(viewer):
        response = reviewer_tab.open(path)
        assert response is not None and response.status == 404, path
        expect(page.get_by_role("heading", name="404")).to_be_visible()
        expect(page.get_by_text("Toaster warranty")).to_have_count(0)
        expect(page.get_by_text("A note of another study")).to_have_count(0)
    # the study's own pages answer, so the 404s are about the other study
    assert reviewer_tab.open(f"/visits/{viewer.call_visit}").status == 200


def test_rel24_a_researchers_draft_is_404_to_reviewers(reviewer_tab: Tab, viewer: Viewer) -> None:
    draft = viewer.researcher.api.created(
        f"/studies/{viewer.study_id}/visits",
        {"client_uuid": str(uuid.uuid4()), "channel": "web", "title": "Unfinished draft"},
    )
    response = reviewer_tab.open(f"/visits/{draft['id']}")
    assert response is not None and response.status == 404
    expect(reviewer_tab.page.get_by_text("Unfinished draft")).to_have_count(0)


HOSTILE_PAGES = {
    "visit": lambda v: f"/visits/{v.store_visit}",
    "note": lambda v: f"/evidence/{v.store_note_id}",
    "journey": lambda v: f"/journeys/{v.journey_id}",
    "dashboard": lambda v: f"/studies/{v.study_id}",
    "visits": lambda v: f"/studies/{v.study_id}/visits",
    "findings": lambda v: f"/studies/{v.study_id}/findings",
    "search": lambda v: f"/studies/{v.study_id}/search?q=receipt",
}


@pytest.mark.parametrize("name", HOSTILE_PAGES)
def test_rel25_hostile_text_is_shown_literally_and_never_runs(
    reviewer_tab: Tab, viewer: Viewer, name: str
) -> None:
    page = reviewer_tab.page
    response = reviewer_tab.open(HOSTILE_PAGES[name](viewer))
    assert response is not None and response.status == 200
    main = page.locator("main")
    # the page is fully loaded and its own scripts ran (they mark the document)
    expect(page.locator("html.js")).to_have_count(1)
    text = main.inner_text()
    assert "<script>window.__pwned = 1</script>" in text
    # template syntax stays as written (evaluated, it would read "49 exe.txt")
    assert "{{ 7*7 }} \u202eexe.txt\u202c" in text, "template syntax or bidi text was altered"
    assert main.locator("script, [onerror], iframe, object, embed").count() == 0
    assert main.locator('a[href^="javascript:" i]').count() == 0
    assert not reviewer_tab.pwned()
    assert reviewer_tab.dialogs == []
    assert reviewer_tab.errors == []


def test_rel25_bidi_overrides_stay_inside_their_own_text(reviewer_tab: Tab, viewer: Viewer) -> None:
    page = reviewer_tab.page
    reviewer_tab.open(f"/visits/{viewer.store_visit}")
    title = page.get_by_role("heading", level=1)
    isolated = title.locator("bdi")
    expect(isolated).to_have_count(1)
    assert "\u202e" in (isolated.text_content() or "")
    # isolated: the override ends inside the <bdi>, the page around it reads normally
    direction = isolated.evaluate("el => getComputedStyle(el).unicodeBidi")
    assert direction == "isolate"


def test_rel25_note_markdown_renders_but_its_html_does_not(
    reviewer_tab: Tab, viewer: Viewer
) -> None:
    page = reviewer_tab.page
    reviewer_tab.open(f"/evidence/{viewer.store_note_id}")
    body = page.locator("[data-note-body]")
    expect(body.get_by_role("heading", name="Queue at the returns desk")).to_be_visible()
    expect(body.get_by_text("[Open the receipt](javascript:window.__pwned=1)")).to_be_visible()
    expect(
        body.get_by_text('<img src=x onerror="window.__pwned = 1">', exact=False)
    ).to_be_visible()
    expect(body.get_by_text("{% if true %}yes{% endif %}", exact=False)).to_be_visible()
    assert body.locator("img, script, a").count() == 0
    assert not reviewer_tab.pwned()


def test_rel26_a_form_post_without_its_csrf_token_is_refused(
    reviewer_tab: Tab, viewer: Viewer
) -> None:
    page = reviewer_tab.page
    reviewer_tab.open(f"/visits/{viewer.call_visit}")
    comments = page.get_by_role("region", name="Comments")
    text = f"Posted without a token {uuid.uuid4().hex[:6]}"
    comments.locator('input[name="csrf_token"]').evaluate("input => input.remove()")
    comments.get_by_label("Add a comment").fill(text)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        comments.get_by_role("button", name="Comment").click()
    assert posted.value.status == 400
    expect(page.get_by_text("csrf.invalid")).to_be_visible()
    reviewer_tab.open(f"/visits/{viewer.call_visit}")
    expect(page.get_by_text(text)).to_have_count(0)


def test_rel26_the_pages_api_calls_need_the_csrf_header(reviewer_tab: Tab, viewer: Viewer) -> None:
    page = reviewer_tab.page
    reviewer_tab.open(f"/visits/{viewer.call_visit}")
    call = """async ([url, header]) => {
        const headers = {'Content-Type': 'application/json'};
        const token = document.querySelector('meta[name="csrf-token"]').content;
        if (header) headers['X-CSRFToken'] = token;
        const response = await fetch(url, {method: 'POST', headers,
            body: JSON.stringify({what_happened: 'Checked the CSRF header'})});
        return response.status;
    }"""
    url = f"/api/v1/visits/{viewer.call_visit}/moments"
    assert page.evaluate(call, [url, False]) == 400
    assert page.evaluate(call, [url, True]) == 201
