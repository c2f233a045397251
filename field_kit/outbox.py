"""The offline outbox: everything captured waits here, in order, until the server has it.

A local SQLite database (WAL, synchronous=FULL) holds the visits started on this device
and one row per thing to send: a visit creation, a change, a submission, a note, a file.
Client UUIDs are generated when an item is queued, so however often sending is retried
the server stores each item once. Every change of state is its own committed transaction:
a sync killed at any point leaves each row either sent (the server confirmed it) or still
queued, together with the tus upload URL of a half-sent file, so that the next sync
continues mid-file. Nothing is ever deleted from the outbox; failures keep their reason.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from field_kit.records import Assignment, VisitChanges, VisitFields
from field_kit.uploads import file_sha256

SCHEMA_VERSION = 1
HANDLE_LENGTH = 8

SCHEMA = """
CREATE TABLE IF NOT EXISTS visits (
    handle TEXT PRIMARY KEY,
    client_uuid TEXT NOT NULL UNIQUE,
    study_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    started_at TEXT,
    ended_at TEXT,
    server_id TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,
    visit_handle TEXT NOT NULL REFERENCES visits(handle),
    client_uuid TEXT UNIQUE,
    payload TEXT NOT NULL DEFAULT '{}',
    kind TEXT,
    path TEXT,
    sha256 TEXT,
    size INTEGER,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error TEXT,
    upload_url TEXT,
    method TEXT,
    resumed_from INTEGER,
    bytes_sent INTEGER,
    server_id TEXT,
    enqueued_at TEXT NOT NULL,
    last_attempt_at TEXT,
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS items_state ON items (state, seq);
CREATE INDEX IF NOT EXISTS items_visit ON items (visit_handle, state);
CREATE TABLE IF NOT EXISTS assignments (
    id TEXT PRIMARY KEY,
    study_id TEXT NOT NULL,
    data TEXT NOT NULL,
    fetched_at TEXT NOT NULL
);
"""


class Action(StrEnum):
    """What an outbox item asks the server to do."""

    create_visit = "create_visit"
    update_visit = "update_visit"
    note = "note"
    file = "file"
    submit_visit = "submit_visit"


class State(StrEnum):
    """Where an outbox item is: waiting to go, confirmed by the server, or refused."""

    pending = "pending"
    sent = "sent"
    failed = "failed"


# the order of sending: a visit exists before anything refers to it, and it is
# submitted only after everything captured for it has arrived
PHASE = {
    Action.create_visit: 0,
    Action.update_visit: 1,
    Action.note: 2,
    Action.file: 2,
    Action.submit_visit: 3,
}
WAITING = "waiting"  # the error_code of a pending item that cannot go yet


class OutboxError(Exception):
    """A request to the outbox that cannot be met (an unknown visit handle, a bad file)."""


class OutboxBusy(OutboxError):
    """Another sync holds this outbox."""


class AlreadyQueued(OutboxError):
    """The same bytes are already queued for the same visit."""

    def __init__(self, earlier: OutboxItem) -> None:
        super().__init__(f"Already queued as item {earlier.seq} ({earlier.label}).")
        self.earlier = earlier


def now_iso() -> str:
    """Return the current time as ISO 8601 with the local UTC offset."""
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


def local_iso(moment: datetime) -> str:
    """Return an aware ISO 8601 string; a naive time is taken as local time."""
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.isoformat(timespec="seconds")


def file_time_iso(path: Path) -> str:
    """Return a file's modification time as local ISO 8601 (its capture time, failing better)."""
    return local_iso(datetime.fromtimestamp(path.stat().st_mtime, UTC).astimezone())


@dataclass(frozen=True)
class LocalVisit:
    """A visit started on this device, with its server id once the server has it."""

    handle: str
    client_uuid: str
    study_id: str
    channel: str
    title: str
    started_at: str | None
    ended_at: str | None
    server_id: str | None
    created_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> LocalVisit:
        """Build from a ``visits`` row."""
        return cls(**{name: row[name] for name in row.keys()})  # noqa: SIM118 - Row has no iter of names

    def window(self) -> tuple[datetime | None, datetime | None]:
        """Return (started_at, ended_at) as aware datetimes where known."""
        start = datetime.fromisoformat(self.started_at) if self.started_at else None
        end = datetime.fromisoformat(self.ended_at) if self.ended_at else None
        return start, end


@dataclass(frozen=True)
class OutboxItem:
    """One thing to send, and what became of it."""

    seq: int
    action: Action
    visit_handle: str
    client_uuid: str | None
    payload: dict[str, Any]
    kind: str | None
    path: str | None
    sha256: str | None
    size: int | None
    state: State
    attempts: int
    error_code: str | None
    error: str | None
    upload_url: str | None
    method: str | None
    resumed_from: int | None
    bytes_sent: int | None
    server_id: str | None
    enqueued_at: str
    last_attempt_at: str | None
    sent_at: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> OutboxItem:
        """Build from an ``items`` row."""
        data = {name: row[name] for name in row.keys()}  # noqa: SIM118 - Row has no iter of names
        data["action"] = Action(data["action"])
        data["state"] = State(data["state"])
        data["payload"] = json.loads(data["payload"])
        return cls(**data)

    @property
    def label(self) -> str:
        """Return a short description for people: ``file photo.jpg``, ``note``."""
        if self.action == Action.file and self.path:
            return f"{self.kind} {Path(self.path).name}"
        return self.action.value.replace("_", " ")


class Outbox:
    """The queue of one field kit installation, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit; writes that belong together take an explicit IMMEDIATE transaction
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        # one script, one transaction: a half-made schema is never left behind
        self.db.executescript(
            f"BEGIN IMMEDIATE;{SCHEMA}PRAGMA user_version={SCHEMA_VERSION};COMMIT;"
        )

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block as one transaction: all of it is kept, or none."""
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextmanager
    def sync_lock(self) -> Iterator[None]:
        """Hold the outbox for one sync; raise ``OutboxBusy`` if another sync holds it."""
        lock_path = self.path.with_name(self.path.name + ".sync-lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                raise OutboxBusy("Another sync is running on this outbox.") from error
            yield
        finally:
            os.close(fd)  # closing releases the lock

    # -- queueing ---------------------------------------------------------------------

    def start_visit(self, study_id: str, fields: dict[str, Any]) -> LocalVisit:
        """Queue the creation of a visit and return it with its local handle.

        ``fields`` are the visit's create fields without ``client_uuid`` (made here);
        ``channel`` is required and ``started_at`` defaults to now.
        """
        if not fields.get("channel"):
            raise OutboxError("A visit needs a channel (in_person, phone or web).")
        client_uuid = str(uuid.uuid4())
        body: dict[str, Any] = {k: v for k, v in fields.items() if v not in (None, "")}
        body.setdefault("started_at", now_iso())
        body["client_uuid"] = client_uuid
        visit_fields: VisitFields = body  # type: ignore[assignment]
        with self.transaction():
            handle = self._new_handle(client_uuid)
            self.db.execute(
                "INSERT INTO visits (handle, client_uuid, study_id, channel, title, started_at,"
                " ended_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    handle,
                    client_uuid,
                    study_id,
                    visit_fields["channel"],
                    visit_fields.get("title", ""),
                    visit_fields.get("started_at"),
                    visit_fields.get("ended_at"),
                    now_iso(),
                ),
            )
            self._enqueue(Action.create_visit, handle, client_uuid, payload=dict(visit_fields))
        return self.visit(handle)

    def finish_visit(
        self, handle: str, ended_at: str | None = None, *, submit: bool = True
    ) -> LocalVisit:
        """Queue the end time of a visit and, unless told not to, its submission."""
        visit = self.visit(handle)
        ended_at = ended_at or now_iso()
        if visit.started_at and datetime.fromisoformat(ended_at) < datetime.fromisoformat(
            visit.started_at
        ):
            raise OutboxError(f"The end {ended_at} is before the start {visit.started_at}.")
        changes: VisitChanges = {"ended_at": ended_at}
        with self.transaction():
            self.db.execute(
                "UPDATE visits SET ended_at = ? WHERE handle = ?", (ended_at, visit.handle)
            )
            self._enqueue(Action.update_visit, visit.handle, None, payload=dict(changes))
            if submit:
                self._enqueue(Action.submit_visit, visit.handle, None, payload={})
        return self.visit(visit.handle)

    def add_note(self, handle: str, text: str, captured_at: str | None = None) -> OutboxItem:
        """Queue a Markdown note for a visit."""
        if not text.strip():
            raise OutboxError("The note is empty.")
        visit = self.visit(handle)
        payload = {"text": text, "captured_at": captured_at or now_iso()}
        with self.transaction():
            seq = self._enqueue(Action.note, visit.handle, str(uuid.uuid4()), payload=payload)
        return self.item(seq)

    def add_file(
        self,
        handle: str,
        path: Path,
        kind: str,
        *,
        captured_at: str | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
        accuracy_m: float | None = None,
        device: str | None = None,
        metadata: dict[str, Any] | None = None,
        again: bool = True,
    ) -> OutboxItem:
        """Queue a file for a visit by path, with its sha256 and size as they are now.

        The file is not copied: it must stay where it is, unchanged, until it is sent.
        With ``again=False`` the same bytes already queued for the visit raise
        ``AlreadyQueued`` instead of being queued twice.
        """
        visit = self.visit(handle)
        path = Path(path).expanduser().resolve()
        if not path.is_file():
            raise OutboxError(f"{path} is not a file.")
        sha256 = file_sha256(path)
        payload = {
            "captured_at": captured_at or file_time_iso(path),
            "latitude": latitude,
            "longitude": longitude,
            "accuracy_m": accuracy_m,
            "device": device,
            "metadata": metadata,
        }
        with self.transaction():
            earlier = self.find_file(visit.handle, sha256)
            if earlier is not None and not again:
                raise AlreadyQueued(earlier)
            seq = self._enqueue(
                Action.file,
                visit.handle,
                str(uuid.uuid4()),
                payload={k: v for k, v in payload.items() if v is not None},
                kind=kind,
                path=str(path),
                sha256=sha256,
                size=path.stat().st_size,
            )
        return self.item(seq)

    def _enqueue(
        self,
        action: Action,
        handle: str,
        client_uuid: str | None,
        *,
        payload: dict[str, Any],
        kind: str | None = None,
        path: str | None = None,
        sha256: str | None = None,
        size: int | None = None,
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO items (action, visit_handle, client_uuid, payload, kind, path, sha256,"
            " size, enqueued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                action.value,
                handle,
                client_uuid,
                json.dumps(payload, sort_keys=True),
                kind,
                path,
                sha256,
                size,
                now_iso(),
            ),
        )
        return int(cursor.lastrowid or 0)

    def _new_handle(self, client_uuid: str) -> str:
        digits = client_uuid.replace("-", "")
        length = HANDLE_LENGTH
        while self.db.execute(
            "SELECT 1 FROM visits WHERE handle = ?", (digits[:length],)
        ).fetchone():
            length += 4
        return digits[:length]

    # -- reading ----------------------------------------------------------------------

    def visit(self, handle: str) -> LocalVisit:
        """Return the visit with this handle (or unique handle prefix, or server id)."""
        handle = handle.strip().lower()
        rows = self.db.execute(
            "SELECT * FROM visits WHERE handle = ? OR server_id = ? OR client_uuid = ?",
            (handle, handle, handle),
        ).fetchall()
        if not rows and handle:
            rows = self.db.execute(
                "SELECT * FROM visits WHERE handle LIKE ? ESCAPE '\\'",
                (handle.replace("%", "\\%").replace("_", "\\_") + "%",),
            ).fetchall()
        if not rows:
            raise OutboxError(f"No visit {handle!r} in this outbox.")
        if len(rows) > 1:
            raise OutboxError(f"{handle!r} matches several visits; give more of the handle.")
        return LocalVisit.from_row(rows[0])

    def visits(self) -> list[LocalVisit]:
        """Return every visit started on this device, oldest first."""
        rows = self.db.execute("SELECT * FROM visits ORDER BY created_at, rowid").fetchall()
        return [LocalVisit.from_row(row) for row in rows]

    def current_visit(self) -> LocalVisit | None:
        """Return the most recently started visit that has not been finished."""
        row = self.db.execute(
            "SELECT * FROM visits WHERE ended_at IS NULL ORDER BY created_at DESC, rowid DESC"
        ).fetchone()
        return LocalVisit.from_row(row) if row else None

    def is_submitted(self, handle: str) -> bool:
        """Tell whether the server has confirmed the visit's submission."""
        row = self.db.execute(
            "SELECT 1 FROM items WHERE visit_handle = ? AND action = ? AND state = ?",
            (handle, Action.submit_visit.value, State.sent.value),
        ).fetchone()
        return row is not None

    def item(self, seq: int) -> OutboxItem:
        """Return one item."""
        row = self.db.execute("SELECT * FROM items WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            raise OutboxError(f"No outbox item {seq}.")
        return OutboxItem.from_row(row)

    def items(
        self, state: State | None = None, visit_handle: str | None = None
    ) -> list[OutboxItem]:
        """Return items in the order they were queued, optionally by state and visit."""
        query, args = "SELECT * FROM items WHERE 1=1", []
        if state is not None:
            query += " AND state = ?"
            args.append(state.value)
        if visit_handle is not None:
            query += " AND visit_handle = ?"
            args.append(visit_handle)
        rows = self.db.execute(query + " ORDER BY seq", args).fetchall()
        return [OutboxItem.from_row(row) for row in rows]

    def find_file(self, handle: str, sha256: str) -> OutboxItem | None:
        """Return the item already queued for this visit with these bytes, if any."""
        row = self.db.execute(
            "SELECT * FROM items WHERE visit_handle = ? AND action = ? AND sha256 = ?"
            " ORDER BY seq LIMIT 1",
            (handle, Action.file.value, sha256),
        ).fetchone()
        return OutboxItem.from_row(row) if row else None

    def counts(self) -> dict[str, dict[str, int]]:
        """Return ``{action: {state: count}}`` over the whole outbox."""
        counts: dict[str, dict[str, int]] = {}
        for row in self.db.execute(
            "SELECT action, state, COUNT(*) AS n FROM items GROUP BY action, state"
        ):
            counts.setdefault(row["action"], {})[row["state"]] = int(row["n"])
        return counts

    def unsent_for_visit(self, handle: str, *, besides: int) -> int:
        """Count the visit's items not yet sent, other than item ``besides``."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM items WHERE visit_handle = ? AND state != ? AND seq != ?"
            " AND action != ?",
            (handle, State.sent.value, besides, Action.submit_visit.value),
        ).fetchone()
        return int(row[0])

    def sendable(self) -> list[int]:
        """Return the pending items in sending order (by phase, then as queued)."""
        cases = " ".join(f"WHEN '{action.value}' THEN {phase}" for action, phase in PHASE.items())
        rows = self.db.execute(
            f"SELECT seq FROM items WHERE state = ? ORDER BY CASE action {cases} END, seq",  # noqa: S608 - built from constants
            (State.pending.value,),
        ).fetchall()
        return [int(row[0]) for row in rows]

    # -- sync bookkeeping: each call is one committed step -----------------------------

    def begin_attempt(self, seq: int) -> None:
        """Count an attempt before it is made, so that a crash mid-way is counted too."""
        self.db.execute(
            "UPDATE items SET attempts = attempts + 1, last_attempt_at = ? WHERE seq = ?",
            (now_iso(), seq),
        )

    def mark_sent(
        self,
        seq: int,
        server_id: str,
        *,
        method: str | None = None,
        bytes_sent: int | None = None,
        resumed_from: int | None = None,
    ) -> None:
        """Record that the server confirmed the item; a created visit learns its id."""
        with self.transaction():
            item = self.item(seq)
            self.db.execute(
                "UPDATE items SET state = ?, server_id = ?, sent_at = ?, error_code = NULL,"
                " error = NULL, upload_url = NULL, method = ?, bytes_sent = ?, resumed_from = ?"
                " WHERE seq = ?",
                (State.sent.value, server_id, now_iso(), method, bytes_sent, resumed_from, seq),
            )
            if item.action == Action.create_visit:
                self.db.execute(
                    "UPDATE visits SET server_id = ? WHERE handle = ?",
                    (server_id, item.visit_handle),
                )

    def mark_retry(self, seq: int, code: str, message: str) -> None:
        """Keep the item queued, with the reason the last attempt did not get through."""
        self.db.execute(
            "UPDATE items SET error_code = ?, error = ? WHERE seq = ? AND state = ?",
            (code, message, seq, State.pending.value),
        )

    def mark_waiting(self, seq: int, reason: str) -> None:
        """Keep the item queued because something it depends on has not been sent."""
        self.mark_retry(seq, WAITING, reason)

    def mark_failed(self, seq: int, code: str, message: str) -> None:
        """Set the item aside as refused, with the reason; it is kept, never dropped."""
        self.db.execute(
            "UPDATE items SET state = ?, error_code = ?, error = ? WHERE seq = ?",
            (State.failed.value, code, message, seq),
        )

    def requeue_failed(self) -> int:
        """Put every failed item back in the queue; return how many."""
        cursor = self.db.execute(
            "UPDATE items SET state = ? WHERE state = ?", (State.pending.value, State.failed.value)
        )
        return int(cursor.rowcount)

    def upload_url_store(self, seq: int) -> ItemUploadUrl:
        """Return the place where item ``seq`` keeps its resumable upload URL."""
        return ItemUploadUrl(self, seq)

    # -- assignments seen online, for starting visits offline --------------------------

    def cache_assignments(self, assignments: list[Assignment]) -> None:
        """Remember assignments fetched from the server."""
        with self.transaction():
            for assignment in assignments:
                self.db.execute(
                    "INSERT OR REPLACE INTO assignments (id, study_id, data, fetched_at)"
                    " VALUES (?, ?, ?, ?)",
                    (
                        assignment.id,
                        assignment.study_id,
                        json.dumps(assignment.raw, sort_keys=True),
                        now_iso(),
                    ),
                )

    def cached_assignment(self, assignment_id: str) -> Assignment | None:
        """Return a remembered assignment."""
        row = self.db.execute(
            "SELECT data FROM assignments WHERE id = ?", (assignment_id,)
        ).fetchone()
        return Assignment.from_json(json.loads(row[0])) if row else None


class ItemUploadUrl:
    """The resumable upload URL of one outbox item, written through at once."""

    def __init__(self, outbox: Outbox, seq: int) -> None:
        self.outbox = outbox
        self.seq = seq

    def get_upload_url(self, key: str) -> str | None:
        """Return the stored upload URL."""
        row = self.outbox.db.execute(
            "SELECT upload_url FROM items WHERE seq = ? AND client_uuid = ?", (self.seq, key)
        ).fetchone()
        return str(row[0]) if row and row[0] else None

    def set_upload_url(self, key: str, url: str) -> None:
        """Keep the upload URL; committed before the first byte is sent."""
        self.outbox.db.execute(
            "UPDATE items SET upload_url = ? WHERE seq = ? AND client_uuid = ?",
            (url, self.seq, key),
        )

    def clear_upload_url(self, key: str) -> None:
        """Forget the upload URL."""
        self.outbox.db.execute(
            "UPDATE items SET upload_url = NULL WHERE seq = ? AND client_uuid = ?",
            (self.seq, key),
        )
