"""The website-visit recorder drives real Chromium over a small local shop site.

Steps are recorded with screenshots, URLs, timings, console errors, failed requests and
counts; a step whose element never appears becomes an error step, not a crash; the run
lands in the outbox as a web visit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from field_kit.outbox import Action, OutboxItem
from tests.field_kit.conftest import Kit, Team
from tests.services import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]

SCRIPT = """
name: Return a kettle online
base_url: {base}
on_error: {on_error}
timeout_ms: 5000
steps:
  - go: /index.html
  - click: "#returns"
  - fill: {{selector: "#order", value: "A-1234"}}
  - fill: {{selector: "#email", value: "rae@example.test", secret: true}}
  - expect: {{selector: "#live-chat", timeout_ms: 300}}
  - click: "#send"
  - expect: {{text: "Return booked"}}
  - note: The confirmation does not say when the label comes.
"""


def _write_script(tmp_path: Path, base: str, on_error: str) -> Path:
    path = tmp_path / "journey.yaml"
    path.write_text(SCRIPT.format(base=base, on_error=on_error), encoding="utf-8")
    return path


def _png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def _steps(items: list[OutboxItem]) -> dict[int, dict[str, Any]]:
    return {
        int(i.payload["metadata"]["number"]): i.payload["metadata"]
        for i in items
        if i.kind == "web_step"
    }


def test_scripted_visit_records_steps_and_keeps_going_after_an_error(
    kit: Kit, website: str, tmp_path: Path
) -> None:
    kit.ok("visit", "start", "--study", "s-1", "--channel", "web", "--title", "Shop returns")
    with kit.outbox() as outbox:
        visit = outbox.visits()[0]
    script = _write_script(tmp_path, website, "continue")

    result = kit("web-visit", str(script), "--visit", visit.handle)
    assert result.exit_code == 0, result.output
    assert "Recorded 8 step(s), 1 with errors" in result.output

    with kit.outbox() as outbox:
        items = outbox.items(visit_handle=visit.handle)
    steps = _steps(items)
    assert sorted(steps) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [s["status"] for _, s in sorted(steps.items())] == ["ok"] * 4 + ["error"] + ["ok"] * 3

    home = steps[1]
    assert home["url"] == f"{website}/index.html"
    assert home["title"] == "Acme kettles"
    console = home["console_errors"]
    assert any("tracking script failed to load" in line for line in console)
    failed = home["failed_requests"]
    assert any(r["url"].endswith("/missing-logo.png") and r["status"] == 404 for r in failed)

    assert steps[2]["clicks"] == 1 and steps[2]["url"] == f"{website}/returns.html"
    assert steps[3]["fields_filled"] == 1 and steps[3]["value"] == "A-1234"
    assert steps[4]["value"] == "(secret)"  # a secret value is not kept

    error = steps[5]
    assert "Timeout 300ms exceeded" in str(error["error"])
    assert "#live-chat" in str(error["error"])
    assert error["url"] == f"{website}/returns.html"
    assert error["screenshot"] == "step-05.png"

    assert steps[6]["clicks"] == 1
    assert str(steps[6]["url"]).startswith(f"{website}/thanks.html?order=A-1234")
    assert steps[7]["title"] == "Return booked"
    for step in steps.values():
        assert step["started_at"] <= step["ended_at"]
        assert isinstance(step["duration_ms"], int)

    screenshots = [i for i in items if i.kind == "screenshot"]
    assert len(screenshots) == 8
    for item in screenshots:
        width, height = _png_size(Path(str(item.path)))
        assert width > 0 and height > 0
        assert item.sha256 and item.payload["metadata"]["web_step"] in steps
    # the error step's screenshot shows the page as it was: the form, not a blank
    error_shot = next(i for i in screenshots if i.payload["metadata"]["web_step"] == 5)
    assert error_shot.payload["metadata"]["status"] == "error"
    json_files = [Path(str(i.path)) for i in items if i.kind == "web_step"]
    assert all(json.loads(p.read_text())["number"] for p in json_files)
    (note,) = [i for i in items if i.action == Action.note]
    assert note.payload["text"] == "The confirmation does not say when the label comes."


def test_scripted_visit_stops_at_an_error_when_told(kit: Kit, website: str, tmp_path: Path) -> None:
    script = _write_script(tmp_path, website, "stop")
    result = kit("web-visit", str(script), "--study", "s-2")
    assert result.exit_code == 0, result.output
    assert "Stopped at step 5" in result.output
    with kit.outbox() as outbox:
        (visit,) = outbox.visits()
        items = outbox.items(visit_handle=visit.handle)
    assert visit.channel == "web"
    assert visit.title == "Return a kettle online"
    assert visit.started_at and visit.ended_at
    steps = _steps(items)
    assert sorted(steps) == [1, 2, 3, 4, 5]
    assert steps[5]["status"] == "error"
    run = json.loads((Path(str(items[-1].path)).parent / "run.json").read_text())
    assert run["skipped"] == [6, 7, 8]
    assert run["stopped_at"] == 5


def test_invalid_script_fails_before_any_browser(kit: Kit, tmp_path: Path) -> None:
    kit.ok("visit", "start", "--study", "s", "--channel", "web")
    path = tmp_path / "bad.yaml"
    path.write_text("steps:\n  - go: https://a.example\n  - fill: {selector: '#q'}\n")
    result = kit("web-visit", str(path))
    assert result.exit_code == 1
    assert "step 2 (fill): missing field 'value'" in result.output
    assert not (kit.home / "captures").exists()


def _attach(
    playwright: Playwright, port: int, url_part: str, recorder: subprocess.Popen[bytes]
) -> tuple[Browser, Page]:
    """Connect to the recorder's browser once its page is open (retrying until then)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and recorder.poll() is None:
        try:
            browser = playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
        except PlaywrightError:
            time.sleep(0.2)
            continue
        pages = [p for c in browser.contexts for p in c.pages if url_part in p.url]
        if pages:
            return browser, pages[0]
        browser.close()  # only disconnects; contexts made later show on a new connection
        time.sleep(0.2)
    pytest.fail("the recorder's page never appeared")


def test_manual_recording_logs_what_a_person_does(kit: Kit, website: str) -> None:
    """A second program drives the recorder's browser over CDP, standing in for a person."""
    kit.ok("visit", "start", "--study", "s-3", "--channel", "web")
    port = free_port()
    args = kit.subprocess_args(
        "web-visit", "--manual", "--headless", "--url", f"{website}/index.html",
        "--debug-port", str(port), "--max-minutes", "0.5",
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env) as rec:
        with sync_playwright() as playwright:
            browser, page = _attach(playwright, port, "index.html", rec)
            page.wait_for_load_state("load")
            time.sleep(0.5)
            page.click("#returns")
            page.wait_for_url("**/returns.html")
            page.wait_for_timeout(500)
            page.fill("#order", "B-77")
            page.locator("#email").fill("rae@example.test")
            page.click("#send")
            page.wait_for_url("**/thanks.html*")
            # a person reads the last page before closing it; the recorder polls every
            # 200 ms and a full-page screenshot takes longer on a loaded machine
            page.wait_for_timeout(3000)
            page.close()
            browser.close()
        output, _ = rec.communicate(timeout=60)
    assert rec.returncode == 0, output
    with kit.outbox() as outbox:
        items = outbox.items()
    steps = _steps(items)
    assert [str(s["url"]).split("/")[-1].split("?")[0] for _, s in sorted(steps.items())] == [
        "index.html",
        "returns.html",
        "thanks.html",
    ]
    assert steps[1]["clicks"] == 1
    assert steps[2]["fields_filled"] == 2 and steps[2]["clicks"] >= 1
    assert all(s["screenshot"] for s in steps.values())
    assert len([i for i in items if i.kind == "screenshot"]) == 3


@pytest.mark.usefixtures("evidence_api")
def test_recorded_web_visit_syncs_as_evidence(
    signed_in: Kit, team: Team, website: str, tmp_path: Path
) -> None:
    script = tmp_path / "short.yaml"
    script.write_text(
        f"base_url: {website}\non_error: continue\nsteps:\n"
        "  - go: /index.html\n"
        "  - expect: {selector: '#never', timeout_ms: 200}\n",
        encoding="utf-8",
    )
    signed_in.ok("web-visit", str(script), "--study", team.study_id)
    result = signed_in("sync")
    assert result.exit_code == 0, result.output
    with signed_in.outbox() as outbox:
        (visit,) = outbox.visits()
        items = outbox.items(visit_handle=visit.handle)
    stored = {e.client_uuid: e for e in team.researcher().visit_evidence(str(visit.server_id))}
    files = [i for i in items if i.action == Action.file]
    assert len(stored) == len(files) == 4
    for item in files:
        evidence = stored[item.client_uuid]
        assert (evidence.kind, evidence.sha256) == (item.kind, item.sha256)
    error_step = next(
        stored[i.client_uuid]
        for i in files
        if i.kind == "web_step" and i.payload["metadata"]["number"] == 2
    )
    assert error_step.raw["media_info"]["client"]["status"] == "error"
