"""The website-visit recorder: Chromium through Playwright, one record per step.

A scripted journey (see ``field_kit.webscript``) is played step by step; a person can
also click through by hand (``record_manual``) while navigations, clicks and filled
fields are logged until the window closes. Every step keeps a screenshot (PNG), the URL
and title after it, its start and end, the console errors and failed requests seen
during it, and how many clicks and filled fields it took. A step that fails (an element
that never appears) becomes an error step with the error text and a screenshot; the run
continues or stops as the script says, and never crashes.

The recorder only uses a browser installed on the machine (``/usr/bin/chromium`` or
``--browser``); it never downloads one.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from field_kit.outbox import Outbox, OutboxItem
from field_kit.webscript import Step, WebScript

BROWSER_ENV = "FIELDKIT_BROWSER"
BROWSER_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
MAX_EVENTS_PER_STEP = 50
MAX_EVENT_TEXT = 1000
MAX_ERROR_TEXT = 2000
# what a browser shows instead of a page: not a step of the visit
_NOT_PAGES = ("about:blank", "chrome-error://")

# Logs a person's clicks and typing in every page and frame, for the manual recorder.
_MANUAL_LISTENER = """
(() => {
  const describe = (el) => {
    if (!el || !el.tagName) return "";
    let text = el.tagName.toLowerCase();
    if (el.id) text += "#" + el.id;
    if (el.name) text += "[name=" + el.name + "]";
    const label = (el.innerText || el.value || "").trim().slice(0, 60);
    return label ? text + " " + JSON.stringify(label) : text;
  };
  document.addEventListener("click", (e) => window.__fieldkitEvent("click", describe(e.target)),
                            true);
  document.addEventListener("change", (e) => {
    const el = e.target;
    if (el && ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName)) {
      window.__fieldkitEvent("fill", describe(el));
    }
  }, true);
})();
"""


class WebVisitError(Exception):
    """The recorder could not run at all (no browser, a folder it cannot write)."""


@dataclass
class StepRecord:
    """What happened in one step of a website visit."""

    number: int
    type: str
    description: str
    target: str
    status: str = "ok"  # ok | error
    error: str | None = None
    url: str = ""
    title: str = ""
    started_at: str = ""
    ended_at: str = ""
    duration_ms: int = 0
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[dict[str, Any]] = field(default_factory=list)
    clicks: int = 0
    fields_filled: int = 0
    value: str | None = None
    screenshot: str | None = None
    screenshot_error: str | None = None
    events: list[str] = field(default_factory=list)
    _started: float = field(default=0.0, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Return the step as the JSON kept with its evidence."""
        data = asdict(self)
        data.pop("_started")
        return data

    def begin(self) -> None:
        """Stamp the start of the step."""
        self.started_at = now_iso_ms()
        self._started = time.monotonic()

    def end(self) -> None:
        """Stamp the end of the step."""
        self.ended_at = now_iso_ms()
        self.duration_ms = round((time.monotonic() - self._started) * 1000)


@dataclass
class WebRun:
    """A whole recorded website visit: its steps and the folder holding their files."""

    name: str
    mode: str  # scripted | manual
    folder: Path
    started_at: str = ""
    ended_at: str = ""
    browser: str = ""
    steps: list[StepRecord] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # steps not run after a stop
    stopped_at: int | None = None

    @property
    def errors(self) -> list[StepRecord]:
        """Return the steps that failed."""
        return [step for step in self.steps if step.status == "error"]

    def to_json(self) -> dict[str, Any]:
        """Return the run as JSON."""
        return {
            "name": self.name,
            "mode": self.mode,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "browser": self.browser,
            "steps": [step.to_json() for step in self.steps],
            "skipped": self.skipped,
            "stopped_at": self.stopped_at,
        }

    def save(self) -> Path:
        """Write ``run.json`` and one ``step-NN.json`` per step; return the run file."""
        for step in self.steps:
            step_path = self.folder / f"step-{step.number:02d}.json"
            step_path.write_text(json.dumps(step.to_json(), indent=2) + "\n", encoding="utf-8")
        path = self.folder / "run.json"
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return path


def now_iso_ms() -> str:
    """Return the current local time as ISO 8601 with milliseconds and offset."""
    return datetime.now(UTC).astimezone().isoformat(timespec="milliseconds")


def find_browser(explicit: str | None = None) -> str:
    """Return the path of an installed Chromium; never download one."""
    for candidate in (explicit, os.environ.get(BROWSER_ENV)):
        if candidate:
            if not Path(candidate).is_file():
                raise WebVisitError(f"No browser at {candidate}.")
            return candidate
    for name in BROWSER_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise WebVisitError(
        f"No Chromium found; install it or pass --browser PATH (or set {BROWSER_ENV})."
    )


@contextmanager
def launch(
    browser_path: str, *, headless: bool, debug_port: int | None = None
) -> Iterator[tuple[Playwright, Browser]]:
    """Start the installed Chromium and yield it; close it afterwards."""
    args = list(BROWSER_ARGS)
    if headless:
        args.insert(0, "--headless")
    if debug_port is not None:
        # lets a second program (a test standing in for a person) drive the same window
        args.append(f"--remote-debugging-port={debug_port}")
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=browser_path, headless=headless, args=args
            )
        except PlaywrightError as error:
            raise WebVisitError(f"Chromium did not start: {_first_lines(str(error))}") from error
        try:
            yield playwright, browser
        finally:
            with suppress(PlaywrightError):  # already gone: the person closed it
                browser.close()


class _Journal:
    """Routes the page's console errors and failed requests to the step under way."""

    def __init__(self, page: Page) -> None:
        self.current: StepRecord | None = None
        page.on("console", self._console)
        page.on("pageerror", lambda error: self._add_console(f"uncaught: {error}"))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self._add_console(str(message.text))

    def _add_console(self, text: str) -> None:
        if self.current and len(self.current.console_errors) < MAX_EVENTS_PER_STEP:
            self.current.console_errors.append(text[:MAX_EVENT_TEXT])

    def _request_failed(self, request: Any) -> None:
        self._add_request(
            {"url": request.url, "method": request.method, "failure": request.failure or ""}
        )

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self._add_request(
                {"url": response.url, "method": response.request.method, "status": response.status}
            )

    def _add_request(self, entry: dict[str, Any]) -> None:
        if self.current and len(self.current.failed_requests) < MAX_EVENTS_PER_STEP:
            entry["url"] = str(entry["url"])[:MAX_EVENT_TEXT]
            self.current.failed_requests.append(entry)


def run_script(
    script: WebScript,
    folder: Path,
    *,
    browser_path: str | None = None,
    headless: bool = True,
    on_step: Callable[[StepRecord], None] | None = None,
) -> WebRun:
    """Play a journey script in Chromium and record every step into ``folder``."""
    folder = _prepare(folder)
    run = WebRun(script.name, "scripted", folder, started_at=now_iso_ms())
    with launch(find_browser(browser_path), headless=headless) as (_, browser):
        run.browser = f"Chromium {browser.version}"
        options: dict[str, Any] = {}
        if script.viewport:
            options["viewport"] = {"width": script.viewport[0], "height": script.viewport[1]}
        context = browser.new_context(**options)
        page = context.new_page()
        journal = _Journal(page)
        for step in script.steps:
            record = StepRecord(step.number, step.type, step.describe(), step.target)
            journal.current = record
            record.begin()
            try:
                _perform(page, step, record)
            except PlaywrightError as error:
                record.status = "error"
                record.error = _first_lines(str(error))
            record.end()
            record.url, record.title = _where(page)
            _screenshot(page, record, folder)
            run.steps.append(record)
            if on_step:
                on_step(record)
            if record.status == "error" and step.on_error == "stop":
                run.stopped_at = step.number
                run.skipped = [s.number for s in script.steps if s.number > step.number]
                break
        journal.current = None
        context.close()
    run.ended_at = now_iso_ms()
    run.save()
    return run


def _perform(page: Page, step: Step, record: StepRecord) -> None:
    timeout = step.timeout_ms
    if step.type == "go":
        page.goto(step.target, timeout=timeout, wait_until="load")
    elif step.type == "click":
        page.locator(step.target).first.click(timeout=timeout)
        record.clicks += 1
        _settle(page, timeout)
    elif step.type == "fill":
        page.locator(step.target).first.fill(str(step.value), timeout=timeout)
        record.fields_filled += 1
        record.value = "(secret)" if step.secret else step.value
    elif step.type == "expect":
        target = page.get_by_text(step.target) if step.by_text else page.locator(step.target)
        target.first.wait_for(state="visible", timeout=timeout)
    elif step.type == "note":
        record.events.append(step.target)


def _settle(page: Page, timeout: int) -> None:
    """Let a navigation started by a click finish loading before the screenshot."""
    # a slow page is recorded as it is; the next step waits for what it needs
    with suppress(PlaywrightTimeout):
        page.wait_for_load_state("load", timeout=timeout)


def _where(page: Page) -> tuple[str, str]:
    try:
        return page.url, page.title()
    except PlaywrightError:
        return page.url, ""


def _screenshot(page: Page, record: StepRecord, folder: Path) -> None:
    name = f"step-{record.number:02d}.png"
    try:
        page.screenshot(path=str(folder / name), full_page=True, timeout=15_000)
    except PlaywrightError as error:
        record.screenshot_error = _first_lines(str(error))
        return
    record.screenshot = name


def _first_lines(text: str, lines: int = 4) -> str:
    kept = [line.rstrip() for line in text.strip().splitlines() if line.strip()][:lines]
    return "\n".join(kept)[:MAX_ERROR_TEXT]


def _prepare(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WebVisitError(f"Cannot write to {folder}: {error.strerror or error}") from error
    return folder


def record_manual(
    start_url: str,
    folder: Path,
    *,
    browser_path: str | None = None,
    headless: bool = False,
    debug_port: int | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
    max_seconds: float | None = None,
) -> WebRun:
    """Open ``start_url`` for a person to click through; record until the window closes.

    Each page the person reaches is a step; its screenshot is refreshed after every
    click or filled field, so it shows the page as it was last seen.
    """
    folder = _prepare(folder)
    run = WebRun("manual visit", "manual", folder, started_at=now_iso_ms())
    with launch(find_browser(browser_path), headless=headless, debug_port=debug_port) as (
        _,
        browser,
    ):
        run.browser = f"Chromium {browser.version}"
        context = browser.new_context()
        page = context.new_page()
        recorder = _ManualRecorder(page, run, folder, on_step)
        context.expose_binding("__fieldkitEvent", recorder.page_event)
        context.add_init_script(_MANUAL_LISTENER)
        try:
            page.goto(start_url, wait_until="load")
        except PlaywrightError as error:
            recorder.failed_to_open(start_url, _first_lines(str(error)))
        recorder.watch(max_seconds)
    run.ended_at = now_iso_ms()
    run.save()
    return run


class _ManualRecorder:
    """Turns a person's navigations, clicks and typing into steps."""

    def __init__(
        self,
        page: Page,
        run: WebRun,
        folder: Path,
        on_step: Callable[[StepRecord], None] | None,
    ) -> None:
        self.page = page
        self.run = run
        self.folder = folder
        self.on_step = on_step
        self.journal = _Journal(page)
        self.current: StepRecord | None = None
        self.needs_screenshot = False
        self.closed = False
        page.on("framenavigated", self._navigated)
        page.on("load", lambda _: self._mark_dirty())
        page.on("close", lambda _: self._close())

    def _navigated(self, frame: Any) -> None:
        if frame != self.page.main_frame or frame.url.startswith(_NOT_PAGES):
            return
        if self.current is not None and self.current.url == frame.url:
            return  # the same page again (a reload or a hash change)
        self._begin(frame.url)

    def _begin(self, url: str) -> StepRecord:
        self._end_current()
        step = StepRecord(len(self.run.steps) + 1, "navigate", f"open {url}", url)
        step.begin()
        step.url = url
        self.current = step
        self.journal.current = step
        self.run.steps.append(step)
        self.needs_screenshot = True
        return step

    def page_event(self, source: Any, kind: str, detail: str) -> None:
        """Count a click or a filled field on the current page."""
        if self.current is None:
            return
        if kind == "click":
            self.current.clicks += 1
        elif kind == "fill":
            self.current.fields_filled += 1
        if len(self.current.events) < MAX_EVENTS_PER_STEP:
            self.current.events.append(f"{kind} {detail}"[:MAX_EVENT_TEXT])
        self._mark_dirty()

    def failed_to_open(self, url: str, message: str) -> None:
        """Record a page that did not open as an error step."""
        step = self.current if self.current is not None and self.current.url == url else None
        step = step or self._begin(url)
        step.status = "error"
        step.error = message

    def _mark_dirty(self) -> None:
        self.needs_screenshot = True

    def _close(self) -> None:
        self.closed = True

    def _end_current(self) -> None:
        step = self.current
        if step is None:
            return
        step.end()
        if self.on_step:
            self.on_step(step)

    def watch(self, max_seconds: float | None) -> None:
        """Wait for the person to close the window, refreshing screenshots as they go."""
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        while not self.closed and (deadline is None or time.monotonic() < deadline):
            try:
                self.page.wait_for_timeout(200)
                if self.needs_screenshot and self.current is not None:
                    self.needs_screenshot = False
                    self.current.url, self.current.title = _where(self.page)
                    _screenshot(self.page, self.current, self.folder)
            except PlaywrightError:
                break  # the window or the browser went away
        self._end_current()
        self.current = None
        self.journal.current = None


def save_to_outbox(outbox: Outbox, handle: str, run: WebRun) -> list[OutboxItem]:
    """Queue a recorded run as evidence of a visit: screenshots, step records, notes.

    Each step's screenshot becomes ``screenshot`` evidence and its JSON record
    ``web_step`` evidence (the JSON file, with the same JSON as its metadata); a ``note``
    step also becomes a note.
    """
    queued: list[OutboxItem] = []
    for step in run.steps:
        data = step.to_json()
        if step.screenshot:
            queued.append(
                outbox.add_file(
                    handle,
                    run.folder / step.screenshot,
                    "screenshot",
                    captured_at=step.ended_at,
                    metadata={"web_step": step.number, "url": step.url, "status": step.status},
                )
            )
        queued.append(
            outbox.add_file(
                handle,
                run.folder / f"step-{step.number:02d}.json",
                "web_step",
                captured_at=step.started_at,
                metadata=data,
            )
        )
        if step.type == "note":
            queued.append(outbox.add_note(handle, step.target, captured_at=step.started_at))
    return queued
