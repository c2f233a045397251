"""Sending the outbox: in order, each item once, each success confirmed by the server.

A visit goes before anything that belongs to it (an item waits until its visit has a
server id), and a visit is submitted only after all of its items have arrived. An item is
marked sent only once the server confirmed it, for files with the same sha256 as the
bytes on this device. A failure the server may cure later (no connection, 5xx, 429) keeps
the item queued; a refusal (422, 409, a file changed since it was queued) sets it aside
with its reason. Losing the connection or the token ends the run; nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from field_kit.client import FieldbookClient
from field_kit.errors import AuthError, FieldbookError, ForbiddenError, UnavailableError
from field_kit.outbox import Action, LocalVisit, Outbox, OutboxItem, State
from field_kit.records import VisitChanges, VisitFields
from field_kit.uploads import UploadSettings, file_sha256


class SyncObserver(Protocol):
    """What a sync reports while it runs (the command line draws progress bars from it)."""

    def item_started(self, item: OutboxItem) -> None:
        """An attempt to send ``item`` begins."""

    def item_progress(self, item: OutboxItem, done: int, total: int) -> None:
        """``done`` of ``total`` bytes of the item's file are on the server."""

    def item_finished(self, item: OutboxItem) -> None:
        """The attempt ended; ``item`` is the row as it is now."""


@dataclass
class SyncReport:
    """What one sync did."""

    sent: list[OutboxItem] = field(default_factory=list)
    failed: list[OutboxItem] = field(default_factory=list)
    retry_later: list[OutboxItem] = field(default_factory=list)
    waiting: list[OutboxItem] = field(default_factory=list)
    stopped: FieldbookError | None = None  # why the run ended early (offline, signed out)

    @property
    def complete(self) -> bool:
        """Tell whether nothing was left unsent."""
        return not (self.failed or self.retry_later or self.waiting or self.stopped)


class _FileChanged(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sync(
    outbox: Outbox,
    client: FieldbookClient,
    *,
    settings: UploadSettings | None = None,
    observer: SyncObserver | None = None,
    retry_failed: bool = False,
) -> SyncReport:
    """Send every pending item of the outbox in order and report what happened.

    Raise ``OutboxBusy`` if another sync is running on the same outbox.
    """
    settings = settings or UploadSettings()
    report = SyncReport()
    with outbox.sync_lock():
        if retry_failed:
            outbox.requeue_failed()
        for seq in outbox.sendable():
            item = outbox.item(seq)
            if item.state != State.pending:
                continue
            reason = _waiting_for(outbox, item)
            if reason:
                outbox.mark_waiting(seq, reason)
                report.waiting.append(outbox.item(seq))
                continue
            if observer:
                observer.item_started(item)
            outbox.begin_attempt(seq)
            try:
                _send(outbox, client, item, settings, observer)
            except _FileChanged as changed:
                outbox.mark_failed(seq, changed.code, changed.message)
            except FieldbookError as error:
                if _ends_run(error):
                    outbox.mark_retry(seq, error.code, str(error))
                    report.stopped = error
                    _finish(outbox, seq, report, observer)
                    break
                if error.retryable:
                    outbox.mark_retry(seq, error.code, str(error))
                else:
                    outbox.mark_failed(seq, error.code, _explain(error))
            _finish(outbox, seq, report, observer)
    return report


def _finish(outbox: Outbox, seq: int, report: SyncReport, observer: SyncObserver | None) -> None:
    item = outbox.item(seq)
    if item.state == State.sent:
        report.sent.append(item)
    elif item.state == State.failed:
        report.failed.append(item)
    else:
        report.retry_later.append(item)
    if observer:
        observer.item_finished(item)


def _ends_run(error: FieldbookError) -> bool:
    """Tell whether no further item can get through either (offline, token refused)."""
    if isinstance(error, AuthError) and not isinstance(error, ForbiddenError):
        return True
    return isinstance(error, UnavailableError) and error.status == 0


def _explain(error: FieldbookError) -> str:
    lines = [str(error), *error.field_messages()]
    return "\n".join(lines)


def _waiting_for(outbox: Outbox, item: OutboxItem) -> str | None:
    """Return why the item cannot be sent yet, or ``None`` if it can."""
    if item.action == Action.create_visit:
        return None
    visit = outbox.visit(item.visit_handle)
    if visit.server_id is None:
        creation = next(
            (i for i in outbox.items(visit_handle=visit.handle) if i.action == Action.create_visit),
            None,
        )
        if creation is not None and creation.state == State.failed:
            return f"waiting for visit {visit.handle}, whose creation failed: {creation.error}"
        return f"waiting for visit {visit.handle} to reach the server"
    if item.action == Action.submit_visit:
        unsent = outbox.unsent_for_visit(visit.handle, besides=item.seq)
        if unsent:
            return f"waiting for {unsent} item(s) of visit {visit.handle} before submitting"
    return None


def _send(
    outbox: Outbox,
    client: FieldbookClient,
    item: OutboxItem,
    settings: UploadSettings,
    observer: SyncObserver | None,
) -> None:
    visit = outbox.visit(item.visit_handle)
    if item.action == Action.create_visit:
        fields: VisitFields = item.payload  # type: ignore[assignment]
        created = client.create_visit(visit.study_id, fields)
        outbox.mark_sent(item.seq, created.id)
        return
    server_id = _server_id(visit)
    if item.action == Action.update_visit:
        changes: VisitChanges = item.payload  # type: ignore[assignment]
        outbox.mark_sent(item.seq, client.update_visit(server_id, changes).id)
    elif item.action == Action.submit_visit:
        outbox.mark_sent(item.seq, client.submit_visit(server_id).id)
    elif item.action == Action.note:
        note = client.add_note(
            server_id,
            str(item.payload["text"]),
            str(item.client_uuid),
            item.payload.get("captured_at"),
        )
        outbox.mark_sent(item.seq, note.id)
    elif item.action == Action.file:
        _send_file(outbox, client, item, server_id, settings, observer)


def _server_id(visit: LocalVisit) -> str:
    if visit.server_id is None:  # _waiting_for keeps this from happening
        raise RuntimeError(f"visit {visit.handle} has no server id yet")
    return visit.server_id


def _send_file(
    outbox: Outbox,
    client: FieldbookClient,
    item: OutboxItem,
    visit_id: str,
    settings: UploadSettings,
    observer: SyncObserver | None,
) -> None:
    path = Path(str(item.path))
    _check_unchanged(item, path)
    payload = item.payload

    def progress(done: int, total: int) -> None:
        if observer:
            observer.item_progress(item, done, total)

    result = client.upload_evidence(
        visit_id,
        path,
        str(item.kind),
        str(item.client_uuid),
        sha256=item.sha256,
        captured_at=payload.get("captured_at"),
        latitude=payload.get("latitude"),
        longitude=payload.get("longitude"),
        accuracy_m=payload.get("accuracy_m"),
        device=payload.get("device"),
        metadata=payload.get("metadata"),
        settings=settings,
        progress=progress,
        resume_store=outbox.upload_url_store(item.seq),
    )
    # upload_evidence has checked the stored sha256 against ours
    outbox.mark_sent(
        item.seq,
        result.evidence.id,
        method=result.method,
        bytes_sent=result.bytes_sent,
        resumed_from=result.resumed_from,
    )


def _check_unchanged(item: OutboxItem, path: Path) -> None:
    """Refuse to send a file that is gone or no longer the bytes that were queued."""
    try:
        size = path.stat().st_size
        sha256 = file_sha256(path) if size == item.size else None
    except FileNotFoundError:
        raise _FileChanged(
            "file.missing", f"{path} is gone; it was queued but never sent."
        ) from None
    except OSError as error:
        raise _FileChanged("file.unreadable", f"{path} cannot be read: {error}") from error
    if size != item.size or sha256 != item.sha256:
        raise _FileChanged(
            "file.changed",
            f"{path} changed on disk after it was queued (sha256 {item.sha256}, size "
            f"{item.size}; now size {size}); it was not sent. Add it again to send this version.",
        )
