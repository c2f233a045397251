"""The main pages pass axe-core (no serious or critical violations), work at phone width,
and are kept as screenshots in artifacts/viewer/ for people to look at."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from tests.viewer.conftest import Tab, Viewer

pytestmark = pytest.mark.browser

PAGES: dict[str, Callable[[Viewer], str]] = {
    "studies": lambda v: "/studies",
    "dashboard": lambda v: f"/studies/{v.study_id}",
    "visits": lambda v: f"/studies/{v.study_id}/visits",
    "visit-call": lambda v: f"/visits/{v.call_visit}",
    "visit-store": lambda v: f"/visits/{v.store_visit}",
    "call": lambda v: f"/evidence/{v.call_id}",
    "photo": lambda v: f"/evidence/{v.photo_id}",
    "journey": lambda v: f"/journeys/{v.journey_id}",
    "findings": lambda v: f"/studies/{v.study_id}/findings",
    "search": lambda v: f"/studies/{v.study_id}/search?q=country",
    "journals": lambda v: f"/studies/{v.study_id}/journals",
}


def _describe(violations: list[dict]) -> str:
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in violations
    )


@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_serious_accessibility_violations(
    manager_tab: Tab, viewer: Viewer, name: str
) -> None:
    response = manager_tab.open(PAGES[name](viewer))
    assert response is not None and response.status == 200
    expect(manager_tab.page.locator("html.js")).to_have_count(1)
    violations = manager_tab.axe_violations()
    manager_tab.screenshot(name)
    assert violations == [], _describe(violations)
    assert manager_tab.errors == [], "the page logged errors (a CSP violation shows here too)"


def test_sign_in_page_is_accessible(anonymous_tab: Tab) -> None:
    anonymous_tab.open("/login")
    violations = anonymous_tab.axe_violations()
    anonymous_tab.screenshot("login")
    assert violations == [], _describe(violations)


def test_skip_link_and_keyboard_focus(manager_tab: Tab, viewer: Viewer) -> None:
    page = manager_tab.page
    manager_tab.open(f"/visits/{viewer.call_visit}")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    # focus is always visible: the focused control gets an outline
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")


def test_lightbox_is_a_labelled_modal_dialog(manager_tab: Tab, viewer: Viewer) -> None:
    page = manager_tab.page
    manager_tab.open(f"/visits/{viewer.store_visit}")
    page.locator("a[data-photo]").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Photo 1")
    expect(dialog).to_be_visible()
    page.wait_for_function("() => document.querySelector('dialog img').complete")
    violations = manager_tab.axe_violations()
    manager_tab.screenshot("lightbox")
    assert violations == [], _describe(violations)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_visit_page_fits_a_phone(manager_tab: Tab, viewer: Viewer) -> None:
    page = manager_tab.page
    page.set_viewport_size({"width": 390, "height": 844})
    manager_tab.open(f"/visits/{viewer.call_visit}")
    expect(page.locator("[data-call] .segment").first).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    manager_tab.screenshot("visit-call-phone")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"
