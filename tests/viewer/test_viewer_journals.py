"""Journals from the viewer: make, preview, publish, download, share, revoke."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.viewer.conftest import Tab, Viewer, api_get

pytestmark = pytest.mark.browser


def test_publish_download_and_share_a_visit_journal(
    reviewer_tab: Tab, anonymous_tab: Tab, viewer: Viewer
) -> None:
    page = reviewer_tab.page
    reviewer_tab.open(f"/visits/{viewer.call_visit}")
    page.get_by_role("button", name="Make a journal of this visit").click()
    expect(page.get_by_role("status").filter(has_text="compiled")).to_be_visible()
    expect(page.get_by_text("Draft", exact=True)).to_be_visible()
    journal_id = page.url.rsplit("/", 1)[1]

    with reviewer_tab.context.expect_page() as preview_info:
        page.get_by_role("link", name=re.compile("^Preview")).click()
    preview = preview_info.value
    preview.wait_for_load_state()
    expect(preview.locator("body")).to_contain_text("Help line call")
    preview.close()

    page.get_by_role("button", name=re.compile("^Publish version")).click()
    expect(page.get_by_role("status").filter(has_text="is published")).to_be_visible()
    published = api_get(viewer.reviewer, f"/journals/{journal_id}")
    assert published["published_at"] is not None
    expect(page.locator("[data-content-sha256]")).to_have_text(published["content_sha256"])

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    pdf = download_info.value
    assert pdf.suggested_filename.endswith(".pdf")
    with open(pdf.path(), "rb") as fh:
        assert fh.read(5) == b"%PDF-"

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download HTML").click()
    html = download_info.value
    with open(html.path(), encoding="utf-8") as fh:
        assert "Help line call" in fh.read()

    page.get_by_label("Expires after (hours)").fill("24")
    page.get_by_role("button", name="Make a share link").click()
    link = page.get_by_label("Link", exact=True)
    expect(link).to_have_value(re.compile(r"/share/"))
    url = link.input_value()

    # someone without an account opens it
    shared = anonymous_tab.page.goto(url)
    assert shared is not None and shared.status == 200
    expect(anonymous_tab.page.locator("body")).to_contain_text("Help line call")

    # revoked, the link stops working at once
    page.get_by_role("button", name=re.compile("^Revoke")).click()
    expect(page.get_by_role("status").filter(has_text="no longer works")).to_be_visible()
    expect(page.locator("table.share-links")).to_contain_text("Revoked")
    gone = anonymous_tab.page.goto(url)
    assert gone is not None and gone.status == 410
    assert not reviewer_tab.errors


def test_a_journal_with_an_uncited_finding_is_not_published(
    reviewer_tab: Tab, viewer: Viewer
) -> None:
    title = f"Nobody answered the chat {uuid.uuid4().hex[:6]}"
    viewer.reviewer.api.created(
        f"/studies/{viewer.study_id}/findings", {"kind": "pain_point", "title": title}
    )
    page = reviewer_tab.page
    reviewer_tab.open(f"/studies/{viewer.study_id}/journals")
    page.get_by_role("button", name="Make a journal of the whole study").click()
    expect(page.get_by_role("status").filter(has_text="compiled")).to_be_visible()
    page.get_by_role("button", name=re.compile("^Publish version")).click()
    expect(page.get_by_role("alert").filter(has_text="cannot be published")).to_be_visible()
    expect(page.get_by_text("Draft", exact=True)).to_be_visible()
    journal_id = page.url.rsplit("/", 1)[1]
    assert api_get(viewer.reviewer, f"/journals/{journal_id}")["published_at"] is None
