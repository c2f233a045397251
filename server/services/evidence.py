"""Evidence: taking captured items in, once, unaltered, and handing them out safely.

Every file goes the same way whether it came in one request or as a resumable upload:
its head is sniffed (type by content, never by name), the bytes are hashed while they
stream into the blob store (stored once per sha256), and the evidence row is created
once per client UUID. Only then is the upload acknowledged. Processing (EXIF, derived
copies, probing) runs as a job afterwards.
"""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from server.errors import AppError, Conflict, field_error
from server.extensions import db
from server.jobs import jobs
from server.media.display_names import safe_display_name
from server.media.errors import MediaRejected
from server.media.sniff import SNIFF_BYTES, sniff
from server.models import (
    Blob,
    Evidence,
    EvidenceKind,
    EvidenceStatus,
    User,
    Visit,
    VisitStatus,
    utcnow,
)
from server.services import access, audit, search
from server.services.idempotency import create_once
from server.storage import (
    BlobStore,
    ChecksumMismatch,
    SizeLimitExceeded,
    StorageUnavailable,
    StoredBlob,
)

EDITABLE = frozenset({VisitStatus.draft, VisitStatus.returned})
FILE_KINDS = frozenset(EvidenceKind) - {EvidenceKind.note}


@dataclass(frozen=True)
class Capture:
    """What the phone says about an item besides its bytes."""

    kind: EvidenceKind
    client_uuid: uuid.UUID | None = None
    filename: str = ""
    captured_at: datetime | None = None
    expected_sha256: str | None = None
    device: str = ""
    latitude: float | None = None
    longitude: float | None = None
    accuracy_m: float | None = None
    metadata: Mapping[str, Any] | None = None


def store() -> BlobStore:
    """Return the app's blob store."""
    blob_store: BlobStore = current_app.extensions["fieldbook.store"]
    return blob_store


def size_limit(kind: EvidenceKind) -> int:
    """Return the largest accepted item of a kind, in bytes."""
    return int(current_app.config["UPLOAD_LIMITS"][kind.value])


def visit_for_capture(user: User, visit_id: uuid.UUID) -> Visit:
    """Return a visit the caller may add evidence to: their own, while draft or returned."""
    visit = access.get(Visit, visit_id, user)
    if visit.researcher_id != user.id:
        audit.record_now(
            "access.denied", study_id=visit.study_id, object_type="visit", object_id=visit.id
        )
        raise AppError(
            "Only the visit's researcher may add evidence.", status=403, code="visit.not_owner"
        )
    if visit.status not in EDITABLE:
        raise Conflict(
            f"A {visit.status.value} visit takes no more evidence.", code="visit.not_editable"
        )
    return visit


def check_type(head: bytes, capture: Capture) -> str:
    """Sniff the first bytes; return the mime type or raise a 415 naming the file."""
    if capture.kind == EvidenceKind.web_step:
        return _check_web_step(head)
    try:
        sniffed = sniff(head, capture.kind.value, capture.filename or None)
    except MediaRejected as rejected:
        status = 422 if rejected.code == "media.empty" else 415
        raise AppError(
            rejected.message, status=status, code=rejected.code, errors={"file": [rejected.message]}
        ) from rejected
    return sniffed.mime


def _check_web_step(head: bytes) -> str:
    """A web step is the JSON record of one step of a website visit (its screenshot is
    separate ``screenshot`` evidence); it must be a whole JSON object."""
    try:
        record = json.loads(head.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise AppError(
            "A web step is a JSON object (at most 64 KiB).",
            status=415,
            code="webstep.invalid",
            errors={"file": ["Not a JSON object."]},
        ) from error
    if not isinstance(record, dict):
        raise AppError(
            "A web step is a JSON object.",
            status=415,
            code="webstep.invalid",
            errors={"file": ["Not a JSON object."]},
        )
    return "application/json"


def _record_blob(stored: StoredBlob, mime: str) -> None:
    values = {"sha256": stored.sha256, "size": stored.size, "mime": mime, "created_at": utcnow()}
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(insert(Blob).values(**values).on_conflict_do_nothing())


def ingest(user: User, visit: Visit, stream: IO[bytes], capture: Capture) -> tuple[Evidence, bool]:
    """Store a file as evidence of a visit; return ``(item, created)``.

    Nothing is acknowledged unless the bytes are in the blob store and the row is
    written; a failing store is a 503 and leaves no row behind.
    """
    if capture.kind not in FILE_KINDS:
        raise field_error("kind", "Notes are sent as text.", code="evidence.kind_invalid")
    head = stream.read(SNIFF_BYTES)
    mime = check_type(head, capture)
    body = _Rejoined(head, stream)
    # Nothing is pending here. On SQLite every transaction holds the write lock (BEGIN
    # IMMEDIATE), so end this one before streaming into the store (S3 can be slow).
    db.session.commit()
    with _storing(capture):
        stored = store().put_stream(
            body, expected_sha256=capture.expected_sha256, size_limit=size_limit(capture.kind)
        )
    _record_blob(stored, mime)
    return _create_item(user, visit, capture, stored.sha256, stored.size, mime)


def ingest_spooled(
    user: User, visit: Visit, path: Path, sha256: str, capture: Capture
) -> tuple[Evidence, bool]:
    """Store a finished resumable upload whose sha256 was computed as its bytes arrived.

    The same checks as ``ingest``; the file is taken over by the store (no second copy
    where the store is a local folder on the same filesystem).
    """
    with open(path, "rb") as spooled:
        mime = check_type(spooled.read(SNIFF_BYTES), capture)
    size = path.stat().st_size
    if size > size_limit(capture.kind):
        raise AppError(
            f"A {capture.kind.value} may be at most {size_limit(capture.kind)} bytes.",
            status=413,
            code="upload.too_large",
            errors={"file": ["Too large."]},
        )
    if capture.expected_sha256 and capture.expected_sha256.lower() != sha256:
        raise field_error(
            "sha256", "The file's sha256 differs from the one sent.", "evidence.checksum_mismatch"
        )
    db.session.commit()
    with _storing(capture):
        stored = store().adopt_file(path, sha256, size)
    _record_blob(stored, mime)
    return _create_item(user, visit, capture, stored.sha256, stored.size, mime)


@contextlib.contextmanager
def _storing(capture: Capture) -> Iterator[None]:
    """Turn the store's refusals into answers a client can act on."""
    try:
        yield
    except ChecksumMismatch as error:
        raise field_error(
            "sha256", "The file's sha256 differs from the one sent.", "evidence.checksum_mismatch"
        ) from error
    except SizeLimitExceeded as error:
        raise AppError(
            f"A {capture.kind.value} may be at most {size_limit(capture.kind)} bytes.",
            status=413,
            code="upload.too_large",
            errors={"file": ["Too large."]},
        ) from error
    except StorageUnavailable as error:
        raise AppError(
            "Evidence storage is unavailable; nothing was stored. Try again later.",
            status=503,
            code="storage.unavailable",
        ) from error


def add_note(
    user: User, visit: Visit, text: str, client_uuid: uuid.UUID | None, captured_at: datetime | None
) -> tuple[Evidence, bool]:
    """Keep a Markdown note as evidence, stored as written (UTF-8) like any file."""
    data = text.encode("utf-8")
    limit = size_limit(EvidenceKind.note)
    if len(data) > limit:
        raise field_error("text", f"A note may be at most {limit} bytes.", "note.too_long")
    try:
        stored = store().put_stream(io.BytesIO(data))
    except StorageUnavailable as error:
        raise AppError(
            "Evidence storage is unavailable; nothing was stored.",
            status=503,
            code="storage.unavailable",
        ) from error
    _record_blob(stored, "text/markdown; charset=utf-8")
    capture = Capture(kind=EvidenceKind.note, client_uuid=client_uuid, captured_at=captured_at)
    return _create_item(
        user, visit, capture, stored.sha256, stored.size, "text/markdown", text=text
    )


def _create_item(
    user: User,
    visit: Visit,
    capture: Capture,
    sha256: str,
    size: int,
    mime: str,
    *,
    text: str | None = None,
) -> tuple[Evidence, bool]:
    payload = {"visit_id": str(visit.id), "kind": capture.kind.value, "sha256": sha256}

    def build() -> Evidence:
        return Evidence(
            study_id=visit.study_id,
            visit_id=visit.id,
            uploader_id=user.id,
            kind=capture.kind,
            status=EvidenceStatus.stored,
            blob_sha256=sha256,
            mime=mime,
            size=size,
            original_name=safe_display_name(capture.filename) if capture.filename else "",
            text=text,
            captured_at=capture.captured_at,
            received_at=utcnow(),
            device=capture.device[:200],
            latitude=capture.latitude,
            longitude=capture.longitude,
            location_accuracy_m=capture.accuracy_m,
            media_info={"client": dict(capture.metadata)} if capture.metadata else {},
        )

    item, created = create_once(
        Evidence, capture.client_uuid, payload, build, visible=lambda e: e.visit_id == visit.id
    )
    if created:
        audit.record(
            "evidence.create",
            study_id=visit.study_id,
            object_type="evidence",
            object_id=item.id,
            detail={"kind": capture.kind.value, "sha256": sha256, "size": size},
        )
        if capture.kind != EvidenceKind.note:
            item.status = EvidenceStatus.processing
            jobs.submit(
                "evidence.process",
                study_id=visit.study_id,
                subject_type="evidence",
                subject_id=item.id,
                dedup_key=f"evidence.process:{item.id}",
            )
        else:
            item.status = EvidenceStatus.ready
            search.index_note(item)
    return item, created


def list_query(user: User, visit_id: uuid.UUID) -> sa.Select[Any]:
    """Select a visible visit's evidence in capture order."""
    visit = access.get(Visit, visit_id, user)
    return (
        access.scoped(Evidence, user)
        .where(Evidence.visit_id == visit.id)
        .order_by(Evidence.captured_at.is_(None), Evidence.captured_at, Evidence.created_at)
    )


def get(user: User, evidence_id: uuid.UUID) -> Evidence:
    """Return one item the caller may see."""
    return access.get(Evidence, evidence_id, user)


class _Rejoined(io.RawIOBase):
    """The sniffed head followed by the rest of the stream, read as one."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        chunk = self._rest.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)
