"""The ``fieldkit`` command: capture offline, send when there is a network.

Everything captured goes to the outbox first (``visit start``, ``add``, ``import-calls``,
``web-visit``); ``sync`` sends it. ``--home DIR`` (or ``FIELDKIT_HOME``) keeps settings and
outbox in one folder.

Exit codes: 0 done; 1 an error; 2 a usage error; 3 items left unsent or refused after a
sync; 4 not signed in, or the token was refused; 5 the server could not be reached;
6 another sync is running on this outbox.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from field_kit.calls import find_recordings, match_recordings
from field_kit.client import FieldbookClient
from field_kit.config import Home, Settings, load_settings, resolve_home, save_settings
from field_kit.errors import AuthError, FieldbookError, ForbiddenError, UnavailableError
from field_kit.outbox import (
    WAITING,
    Action,
    AlreadyQueued,
    LocalVisit,
    Outbox,
    OutboxBusy,
    OutboxError,
    OutboxItem,
    State,
    local_iso,
)
from field_kit.retry import RetryPolicy
from field_kit.sync import sync as sync_outbox
from field_kit.uploads import DEFAULT_CHUNK_SIZE, DEFAULT_RESUMABLE_ABOVE, UploadSettings
from field_kit.webscript import ScriptError, WebScript, load_script
from field_kit.webvisit import (
    StepRecord,
    WebRun,
    WebVisitError,
    record_manual,
    run_script,
    save_to_outbox,
)

EXIT_ERROR = 1
EXIT_UNSENT = 3
EXIT_AUTH = 4
EXIT_OFFLINE = 5
EXIT_BUSY = 6
CHANNELS = ("in_person", "phone", "web")
FILE_KINDS = ("photo", "audio", "video", "screenshot", "document")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3}


class Failure(click.ClickException):
    """An error for the person at the terminal, with the exit code for scripts."""

    exit_code = EXIT_ERROR


class Unsent(Failure):
    """A sync left items unsent or refused."""

    exit_code = EXIT_UNSENT


class SignedOut(Failure):
    """Not signed in, or the token was refused."""

    exit_code = EXIT_AUTH


class Offline(Failure):
    """The server could not be reached."""

    exit_code = EXIT_OFFLINE


class Busy(Failure):
    """Another sync holds the outbox."""

    exit_code = EXIT_BUSY


def parse_size(text: str) -> int:
    """Parse a byte size such as ``4MiB``, ``512k`` or ``1048576``."""
    found = _SIZE.match(text)
    if not found:
        raise ValueError(f"not a size: {text!r}")
    number, unit = float(found.group(1)), (found.group(2) or "").lower()
    base = 1024 if "i" in unit else 1000
    scale = base ** "bkmg".index(unit[0]) if unit else 1
    return int(number * scale)


class SizeParam(click.ParamType):
    """A byte size on the command line."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """Turn ``4MiB`` into 4194304."""
        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


class TimeParam(click.ParamType):
    """An ISO 8601 moment; without an offset it is taken as local time."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """Turn the text into ISO 8601 with an offset."""
        try:
            return local_iso(datetime.fromisoformat(str(value)))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time (2026-11-21T14:03:22)", param, ctx)


SIZE = SizeParam()
TIME = TimeParam()


@dataclass
class Kit:
    """What every command needs: the folders, the settings and a console."""

    home: Home
    console: Console
    errors: Console

    @property
    def settings(self) -> Settings:
        """Return the saved settings."""
        return load_settings(self.home)

    def outbox(self) -> Outbox:
        """Open the outbox."""
        return Outbox(self.home.outbox_path)

    def client(self, timeout: float = 30.0, retry: RetryPolicy | None = None) -> FieldbookClient:
        """Return a client for the saved server and token, or stop with exit code 4."""
        settings = self.settings
        if not settings.server or not settings.token:
            raise SignedOut("Not signed in: run 'fieldkit login --server URL' first.")
        return FieldbookClient(settings.server, settings.token, timeout, retry=retry)


pass_kit = click.make_pass_decorator(Kit)


@contextmanager
def server_errors() -> Iterator[None]:
    """Turn server errors into messages and exit codes for the terminal."""
    try:
        yield
    except (OutboxError, ScriptError, WebVisitError) as error:
        raise Failure(str(error)) from error
    except FieldbookError as error:
        raise _failure(error) from error


def _failure(error: FieldbookError) -> Failure:
    message = "\n".join([str(error), *error.field_messages()])
    if isinstance(error, AuthError) and not isinstance(error, ForbiddenError):
        return SignedOut(f"{message}\nSign in again with 'fieldkit login'.")
    if isinstance(error, UnavailableError) and error.status == 0:
        return Offline(message)
    return Failure(message)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    envvar="FIELDKIT_HOME",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep settings and outbox in this folder (default: ~/.config and ~/.local/share).",
)
@click.pass_context
def main(ctx: click.Context, home: Path | None) -> None:
    """Fieldbook field kit: capture visits offline and send them when you can."""
    ctx.obj = Kit(resolve_home(home), Console(), Console(stderr=True))


# -- signing in and looking around -----------------------------------------------------


@main.command()
@click.option("--server", help="The Fieldbook server, e.g. https://fieldbook.example.")
@click.option("--email", prompt=True)
@click.option("--password", envvar="FIELDKIT_PASSWORD", prompt=True, hide_input=True)
@click.option("--device-name", help="How this device is listed in your tokens.")
@pass_kit
def login(kit: Kit, server: str | None, email: str, password: str, device_name: str | None) -> None:
    """Sign this device in and keep its token."""
    settings = kit.settings
    server = (server or settings.server or "").rstrip("/")
    if not server:
        raise click.UsageError("Give --server the first time you sign in.")
    device_name = device_name or settings.device_name or f"fieldkit on {socket.gethostname()}"
    with server_errors(), FieldbookClient(server) as client:
        token = client.login(email, password, device_name)
        user = client.me()
    settings.server, settings.token = server, token
    settings.email, settings.device_name = user.email, device_name
    save_settings(kit.home, settings)
    kit.console.print(
        f"Signed in as [bold]{escape(user.email)}[/] on {escape(server)} ({escape(device_name)})."
    )


@main.command()
@pass_kit
def studies(kit: Kit) -> None:
    """List your studies."""
    with server_errors(), kit.client() as client:
        found = client.studies()
    table = Table("id", "name", "company", "channels", title="Studies")
    for study in found:
        table.add_row(
            study.id, escape(study.name), escape(study.company), ", ".join(study.channels)
        )
    kit.console.print(table)


@main.command()
@click.option("--study", "study_id", help="Only this study (default: all of yours).")
@pass_kit
def assignments(kit: Kit, study_id: str | None) -> None:
    """List your assignments (and remember them for starting visits offline)."""
    with server_errors(), kit.client() as client:
        study_ids = [study_id] if study_id else [s.id for s in client.studies()]
        found = [a for sid in study_ids for a in client.assignments(sid)]
    with kit.outbox() as outbox:
        outbox.cache_assignments(found)
    for item in found:
        window = " to ".join(
            moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else "..."
            for moment in (item.window_start, item.window_end)
        )
        kit.console.print(
            f"[bold]{item.id}[/]  {item.channel}  {window}  {item.status}", soft_wrap=True
        )
        scenario = item.scenario.strip().splitlines()
        if scenario:
            kit.console.print(f"    {escape(scenario[0])}", soft_wrap=True, highlight=False)
    if not found:
        kit.console.print("No assignments.")


# -- visits --------------------------------------------------------------------------


@main.group()
def visit() -> None:
    """Start, finish and list visits."""


@visit.command("start")
@click.option("--study", "study_id", help="The study (default: the assignment's or the last used).")
@click.option("--channel", type=click.Choice(CHANNELS), help="Default: the assignment's.")
@click.option("--assignment", "assignment_id", help="The assignment this visit carries out.")
@click.option("--title", default="")
@click.option("--target", "target_id", help="The store, phone line or website visited.")
@click.option("--journey", "journey_id")
@click.option("--started-at", type=TIME, help="Default: now.")
@click.option("--lat", "latitude", type=float)
@click.option("--lon", "longitude", type=float)
@click.option("--device", default="", help="Phone or computer used.")
@pass_kit
def visit_start(
    kit: Kit,
    study_id: str | None,
    channel: str | None,
    assignment_id: str | None,
    title: str,
    target_id: str | None,
    journey_id: str | None,
    started_at: str | None,
    latitude: float | None,
    longitude: float | None,
    device: str,
) -> None:
    """Start a visit (queued in the outbox) and print its handle."""
    with kit.outbox() as outbox, server_errors():
        if assignment_id:
            assignment = outbox.cached_assignment(assignment_id)
            if assignment is None:
                with kit.client() as client:
                    assignment = client.assignment(assignment_id)
                outbox.cache_assignments([assignment])
            study_id = study_id or assignment.study_id
            channel = channel or assignment.channel
            target_id = target_id or assignment.target_id
            journey_id = journey_id or assignment.journey_id
        study_id = study_id or kit.settings.study_id
        if not study_id:
            raise click.UsageError("Give --study (or --assignment) for the first visit.")
        if not channel:
            raise click.UsageError("Give --channel (in_person, phone or web).")
        fields = {
            "channel": channel,
            "assignment_id": assignment_id,
            "target_id": target_id,
            "journey_id": journey_id,
            "title": title,
            "started_at": started_at,
            "latitude": latitude,
            "longitude": longitude,
            "device": device,
        }
        started = outbox.start_visit(study_id, fields)
    _remember_study(kit, study_id)
    kit.console.print(
        f"Started visit [bold]{started.handle}[/] ({started.channel}, {started.started_at})."
    )
    kit.console.print("It is queued; 'fieldkit sync' sends it.")


def _remember_study(kit: Kit, study_id: str) -> None:
    settings = kit.settings
    if settings.study_id != study_id:
        settings.study_id = study_id
        save_settings(kit.home, settings)


@visit.command("finish")
@click.argument("handle", required=False)
@click.option("--ended-at", type=TIME, help="Default: now.")
@click.option("--no-submit", is_flag=True, help="Record the end but do not submit yet.")
@pass_kit
def visit_finish(kit: Kit, handle: str | None, ended_at: str | None, no_submit: bool) -> None:
    """Record the end of a visit and queue its submission for review."""
    with kit.outbox() as outbox, server_errors():
        chosen = _visit(outbox, handle)
        finished = outbox.finish_visit(chosen.handle, ended_at, submit=not no_submit)
    what = "finished" if no_submit else "finished and queued for submission"
    kit.console.print(f"Visit [bold]{finished.handle}[/] {what} ({finished.ended_at}).")


@visit.command("list")
@pass_kit
def visit_list(kit: Kit) -> None:
    """List the visits started on this device."""
    with kit.outbox() as outbox:
        table = Table("handle", "channel", "title", "started", "ended", "on server", "unsent")
        for local in outbox.visits():
            unsent = sum(1 for i in outbox.items(visit_handle=local.handle) if i.state != "sent")
            table.add_row(
                local.handle,
                local.channel,
                escape(local.title),
                local.started_at or "",
                local.ended_at or "",
                local.server_id or "not yet",
                str(unsent),
            )
    kit.console.print(table)


def _visit(outbox: Outbox, handle: str | None) -> LocalVisit:
    if handle:
        return outbox.visit(handle)
    current = outbox.current_visit()
    if current is None:
        raise OutboxError("No unfinished visit; give its handle (see 'fieldkit visit list').")
    return current


def _warn_if_submitted(kit: Kit, outbox: Outbox, visit: LocalVisit) -> None:
    if outbox.is_submitted(visit.handle):
        kit.errors.print(
            f"[yellow]Visit {visit.handle} is already submitted: the server takes new evidence "
            "only if a reviewer returns it.[/]"
        )


# -- capturing -----------------------------------------------------------------------


@main.group()
def add() -> None:
    """Add photos, recordings, videos or notes to a visit."""


def _file_command(kind: str) -> click.Command:
    @click.argument(
        "paths",
        nargs=-1,
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
    )
    @click.option("--visit", "handle", help="The visit's handle (default: the unfinished one).")
    @click.option("--captured-at", type=TIME, help="Default: the file's modification time.")
    @click.option("--lat", "latitude", type=float)
    @click.option("--lon", "longitude", type=float)
    @click.option("--accuracy", "accuracy_m", type=float, help="Location accuracy in metres.")
    @click.option("--device", default=None)
    @click.option("--again", is_flag=True, help="Queue a file even if already queued.")
    @pass_kit
    def command(
        kit: Kit,
        paths: tuple[Path, ...],
        handle: str | None,
        captured_at: str | None,
        latitude: float | None,
        longitude: float | None,
        accuracy_m: float | None,
        device: str | None,
        again: bool,
    ) -> None:
        with kit.outbox() as outbox, server_errors():
            chosen = _visit(outbox, handle)
            _warn_if_submitted(kit, outbox, chosen)
            for path in paths:
                item = _queue_file(
                    kit,
                    outbox,
                    chosen,
                    path,
                    kind,
                    again=again,
                    captured_at=captured_at,
                    latitude=latitude,
                    longitude=longitude,
                    accuracy_m=accuracy_m,
                    device=device,
                )
                if item is not None:
                    kit.console.print(
                        f"Queued {kind} {escape(path.name)} for visit {chosen.handle}."
                    )

    command.__doc__ = f"Queue {kind} files for a visit (sent by 'fieldkit sync')."
    return click.command(kind)(command)


def _queue_file(
    kit: Kit,
    outbox: Outbox,
    chosen: LocalVisit,
    path: Path,
    kind: str,
    *,
    again: bool = False,
    **details: Any,
) -> OutboxItem | None:
    try:
        return outbox.add_file(chosen.handle, path, kind, again=again, **details)
    except AlreadyQueued as already:
        kit.errors.print(
            f"[yellow]{escape(path.name)} is already queued for visit {chosen.handle} "
            f"(item {already.earlier.seq}); skipped. Use --again to queue it anyway.[/]"
        )
        return None


for _kind in FILE_KINDS:
    add.add_command(_file_command(_kind))


@add.command("note")
@click.argument("text")
@click.option("--visit", "handle", help="The visit's handle (default: the unfinished one).")
@click.option("--captured-at", type=TIME, help="Default: now.")
@pass_kit
def add_note(kit: Kit, text: str, handle: str | None, captured_at: str | None) -> None:
    """Queue a Markdown note for a visit (TEXT '-' reads it from standard input)."""
    if text == "-":
        text = sys.stdin.read()
    with kit.outbox() as outbox, server_errors():
        chosen = _visit(outbox, handle)
        _warn_if_submitted(kit, outbox, chosen)
        outbox.add_note(chosen.handle, text, captured_at)
    kit.console.print(f"Queued a note for visit {chosen.handle}.")


@main.command("import-calls")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--tz", "zone_name", help="Time zone of the names' times (default: local).")
@click.option("--recursive", is_flag=True, help="Look into subfolders too.")
@click.option("--dry-run", is_flag=True, help="Show the matches, queue nothing.")
@pass_kit
def import_calls(
    kit: Kit, folder: Path, zone_name: str | None, recursive: bool, dry_run: bool
) -> None:
    """Match call recordings to visits by time and queue them as audio evidence."""
    zone: tzinfo | None = None
    if zone_name:
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise click.BadParameter(
                f"unknown time zone {zone_name!r}", param_hint="--tz"
            ) from error
    table = Table("file", "call began", "from", "visit", title=f"Calls in {folder}")
    unmatched = 0
    with kit.outbox() as outbox, server_errors():
        matches = match_recordings(
            find_recordings(folder, zone, recursive=recursive), outbox.visits()
        )
        for match in matches:
            call = match.call
            when = call.captured_at.isoformat(timespec="seconds")
            if match.visit is None:
                unmatched += 1
                table.add_row(escape(call.path.name), when, call.source, "[yellow]unmatched[/]")
                continue
            state = match.visit.handle
            if not dry_run:
                queued = _queue_file(
                    kit,
                    outbox,
                    match.visit,
                    call.path,
                    "audio",
                    captured_at=local_iso(call.captured_at),
                )
                state += "" if queued else " (already queued)"
            table.add_row(escape(call.path.name), when, call.source, state)
    kit.console.print(table)
    if not matches:
        kit.console.print("No audio files found.")
    if unmatched:
        kit.errors.print(
            f"[yellow]{unmatched} recording(s) matched no visit's time window; nothing queued "
            "for them.[/]"
        )


# -- sending -------------------------------------------------------------------------


class _SyncDisplay:
    """Progress bars for files and a line per item, drawn with rich."""

    def __init__(self, progress: Progress, console: Console) -> None:
        self.progress = progress
        self.console = console
        self.tasks: dict[int, TaskID] = {}

    def item_started(self, item: OutboxItem) -> None:
        if item.action == Action.file:
            name = Path(str(item.path)).name
            self.tasks[item.seq] = self.progress.add_task(f"{item.kind} {name}", total=item.size)

    def item_progress(self, item: OutboxItem, done: int, total: int) -> None:
        task = self.tasks.get(item.seq)
        if task is not None:
            self.progress.update(task, completed=done, total=total)

    def item_finished(self, item: OutboxItem) -> None:
        task = self.tasks.pop(item.seq, None)
        if task is not None:
            self.progress.remove_task(task)
        visit = f"visit {item.visit_handle}"
        if item.state == State.sent:
            how = ""
            if item.method == "tus" and item.resumed_from:
                how = f" (resumed at {item.resumed_from:,} bytes)"
            self.console.print(f"[green]✓[/] {escape(item.label)} — {visit}{how}")
        elif item.state == State.failed:
            self.console.print(
                f"[red]✗ {escape(item.label)} — {visit}: {escape(str(item.error))}[/]"
            )
        else:
            self.console.print(
                f"[yellow]… {escape(item.label)} — {visit}: {escape(str(item.error))} "
                "(will retry)[/]"
            )


@main.command()
@click.option("--chunk-size", type=SIZE, default=DEFAULT_CHUNK_SIZE, show_default=True)
@click.option(
    "--resumable-above",
    type=SIZE,
    default=DEFAULT_RESUMABLE_ABOVE,
    show_default=True,
    help="Files larger than this go as resumable (tus) uploads.",
)
@click.option("--max-rate", type=SIZE, help="Cap the upload rate, bytes per second (e.g. 1MiB).")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds per request.")
@click.option("--retries", type=int, default=4, show_default=True, help="Retries per request.")
@click.option("--retry-failed", is_flag=True, help="Try refused items again too.")
@pass_kit
def sync(
    kit: Kit,
    chunk_size: int,
    resumable_above: int,
    max_rate: int | None,
    timeout: float,
    retries: int,
    retry_failed: bool,
) -> None:
    """Send the outbox: visits first, then notes and files, then submissions."""
    retry = RetryPolicy(retries=retries)
    settings = UploadSettings(resumable_above, chunk_size, max_rate, timeout, retry)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=kit.console,
        transient=True,
    )
    with kit.outbox() as outbox, kit.client(timeout, retry) as client, progress:
        try:
            report = sync_outbox(
                outbox,
                client,
                settings=settings,
                observer=_SyncDisplay(progress, kit.console),
                retry_failed=retry_failed,
            )
        except OutboxBusy as error:
            raise Busy(str(error)) from error
    for waiting in report.waiting:
        kit.console.print(f"[yellow]… {escape(waiting.label)} — {escape(str(waiting.error))}[/]")
    if report.stopped is not None:
        raise _failure(report.stopped)
    kit.console.print(
        f"Sent {len(report.sent)}; refused {len(report.failed)}; "
        f"left for later {len(report.retry_later) + len(report.waiting)}."
    )
    if not report.complete:
        raise Unsent("Some items were not sent; see 'fieldkit status'.")


@main.command()
@pass_kit
def status(kit: Kit) -> None:
    """Show what waits in the outbox and what was refused, with the reasons."""
    with kit.outbox() as outbox:
        counts = outbox.counts()
        problems = [
            item
            for item in outbox.items()
            if item.state == State.failed or (item.state == State.pending and item.error)
        ]
        visits = len(outbox.visits())
    table = Table("item", "pending", "sent", "failed", title=f"Outbox ({kit.home.outbox_path})")
    for action in Action:
        row = counts.get(action.value, {})
        if row:
            table.add_row(
                action.value.replace("_", " "),
                *(str(row.get(state.value, 0)) for state in State),
            )
    kit.console.print(table)
    kit.console.print(f"{visits} visit(s) on this device.")
    for item in problems:
        colour = "red" if item.state == State.failed else "yellow"
        kind = (
            "refused"
            if item.state == State.failed
            else ("waiting" if item.error_code == WAITING else "will retry")
        )
        kit.console.print(
            f"[{colour}]#{item.seq} {escape(item.label)} (visit {item.visit_handle}) {kind} "
            f"after {item.attempts} attempt(s): {escape(str(item.error))}[/]"
        )


# -- website visits ------------------------------------------------------------------


@main.command("web-visit")
@click.argument("script", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--visit", "handle", help="Record into this visit (default: start a web visit).")
@click.option("--study", "study_id", help="The study of a new web visit.")
@click.option("--manual", is_flag=True, help="Record a person clicking through by hand.")
@click.option("--url", help="Where a manual recording starts (default: the script's first URL).")
@click.option("--headless/--headed", default=None, help="Default: headed only for --manual.")
@click.option("--browser", "browser_path", help="Chromium to use (never downloaded).")
@click.option("--debug-port", type=int, hidden=True)
@click.option("--max-minutes", type=float, default=120.0, help="End a manual recording after this.")
@pass_kit
def web_visit(
    kit: Kit,
    script: Path | None,
    handle: str | None,
    study_id: str | None,
    manual: bool,
    url: str | None,
    headless: bool | None,
    browser_path: str | None,
    debug_port: int | None,
    max_minutes: float,
) -> None:
    """Walk a website along SCRIPT.yaml (or by hand) and queue every step as evidence."""
    with server_errors():
        journey = load_script(script) if script else None
        if journey is None and not manual:
            raise click.UsageError("Give a SCRIPT.yaml, or --manual with --url.")
        with kit.outbox() as outbox:
            target = outbox.visit(handle) if handle else None
            if target is None and not (study_id or kit.settings.study_id):
                raise click.UsageError("Give --visit HANDLE, or --study for a new web visit.")
        folder = kit.home.captures_dir / datetime.now().strftime("web-%Y%m%d-%H%M%S-%f")
        run = _record(
            kit, journey, manual, url, headless, browser_path, debug_port, max_minutes, folder
        )
        with kit.outbox() as outbox:
            if target is None:
                target = outbox.start_visit(
                    str(study_id or kit.settings.study_id),
                    {
                        "channel": "web",
                        "title": run.name,
                        "started_at": run.started_at,
                        "ended_at": run.ended_at,
                    },
                )
            queued = save_to_outbox(outbox, target.handle, run)
    errors = len(run.errors)
    kit.console.print(
        f"Recorded {len(run.steps)} step(s), {errors} with errors, into visit "
        f"[bold]{target.handle}[/]; queued {len(queued)} item(s). Files: {run.folder}"
    )
    if run.stopped_at is not None:
        kit.errors.print(
            f"[yellow]Stopped at step {run.stopped_at} (on_error: stop); "
            f"not run: {', '.join(map(str, run.skipped))}.[/]"
        )


def _record(
    kit: Kit,
    journey: WebScript | None,
    manual: bool,
    url: str | None,
    headless: bool | None,
    browser_path: str | None,
    debug_port: int | None,
    max_minutes: float,
    folder: Path,
) -> WebRun:
    def show(step: StepRecord) -> None:
        mark = "[green]✓[/]" if step.status == "ok" else "[red]✗[/]"
        line = f"{mark} {step.number:>2} {escape(step.description)}  ({step.duration_ms} ms)"
        kit.console.print(line + (f"\n     [red]{escape(step.error)}[/]" if step.error else ""))

    if not manual:
        if journey is None:
            raise click.UsageError("Give a SCRIPT.yaml, or --manual with --url.")
        return run_script(
            journey, folder, browser_path=browser_path, headless=headless is not False, on_step=show
        )
    start = url or (journey.first_url() if journey else None)
    if not start:
        raise click.UsageError("A manual recording needs --url (or a script with a 'go' step).")
    if headless is None:
        if not _has_display():
            raise Failure(
                "A manual recording needs a display (DISPLAY is not set); use --headless "
                "only when another program drives the browser."
            )
        headless = False
    kit.console.print("Recording: click through the site, then close the window to finish.")
    return record_manual(
        start,
        folder,
        browser_path=browser_path,
        headless=headless,
        debug_port=debug_port,
        on_step=show,
        max_seconds=max_minutes * 60,
    )


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
