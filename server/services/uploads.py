"""Resumable uploads (tus 1.0: core, creation, creation-with-upload, checksum, termination,
expiration).

The bytes of an upload wait in a spool file whose size is the upload's offset: bytes
are appended in order, flushed and fsynced before a PATCH is answered, so a server killed
mid-upload resumes from what it really holds. A PATCH with ``Upload-Checksum`` writes to a
side file first and joins only when the checksum matches. One PATCH at a time per upload
(an exclusive file lock, across processes). When the last byte arrives the file goes
through the same ingest as any other evidence and the spool file is removed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from flask import current_app

from server.errors import AppError, NotFound, field_error
from server.extensions import db
from server.media.sniff import SNIFF_BYTES
from server.models import Evidence, EvidenceKind, Upload, User, utcnow
from server.services import audit, evidence
from server.services.evidence import Capture

CHUNK = 1024 * 1024
CHECKSUMS = {"sha256": hashlib.sha256, "sha1": hashlib.sha1, "md5": hashlib.md5}


class Gone(AppError):
    status, code, message = 410, "upload.expired", "This upload expired; start it again."


class Busy(AppError):
    """Another request holds the upload's lock."""

    status, code, message = 423, "upload.locked", "Another request is writing to this upload."


@dataclass(frozen=True)
class Progress:
    """What a client needs to know about an upload."""

    upload: Upload
    offset: int
    evidence_id: uuid.UUID | None


def spool_dir() -> Path:
    """Return the folder where unfinished uploads wait."""
    path = Path(current_app.config["UPLOAD_SPOOL"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def _part(upload_id: uuid.UUID) -> Path:
    return spool_dir() / f"{upload_id}.part"


def _offset(upload: Upload) -> int:
    if upload.completed_at is not None:
        return upload.length
    try:
        return _part(upload.id).stat().st_size
    except FileNotFoundError:
        return 0


def parse_metadata(header: str) -> dict[str, str]:
    """Decode ``Upload-Metadata``: comma-separated ``key base64value`` pairs."""
    result: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, encoded = pair.partition(" ")
        try:
            result[key] = base64.b64decode(encoded, validate=True).decode("utf-8")
        except ValueError as error:  # bad base64 or UTF-8, or text that is not even ASCII
            raise field_error(
                f"Upload-Metadata.{key}", "Not base64 of UTF-8 text.", "upload.metadata_invalid"
            ) from error
    return result


def _uuid(meta: dict[str, str], key: str, required: bool) -> uuid.UUID | None:
    value = meta.get(key)
    if not value:
        if required:
            raise field_error(f"Upload-Metadata.{key}", "Required.", "upload.metadata_missing")
        return None
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise field_error(
            f"Upload-Metadata.{key}", "Not a UUID.", "upload.metadata_invalid"
        ) from error


def _float(meta: dict[str, str], key: str, low: float, high: float) -> float | None:
    if not meta.get(key):
        return None
    try:
        value = float(meta[key])
    except ValueError as error:
        raise field_error(
            f"Upload-Metadata.{key}", "Not a number.", "upload.metadata_invalid"
        ) from error
    if not low <= value <= high:
        raise field_error(
            f"Upload-Metadata.{key}", f"Must be within {low}..{high}.", "upload.metadata_invalid"
        )
    return value


def _time(meta: dict[str, str], key: str) -> datetime | None:
    if not meta.get(key):
        return None
    try:
        value = datetime.fromisoformat(meta[key])
    except ValueError as error:
        raise field_error(
            f"Upload-Metadata.{key}", "Not an ISO 8601 time.", "upload.metadata_invalid"
        ) from error
    if value.tzinfo is None:
        raise field_error(f"Upload-Metadata.{key}", "Give a UTC offset.", "upload.metadata_invalid")
    return value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def create(user: User, length: int | None, metadata_header: str) -> Upload:
    """Start an upload for one of the caller's visits; refuse too large ones up front."""
    if length is None:
        raise AppError(
            "Send Upload-Length (deferred length is not supported).",
            code="upload.length_required",
            errors={"Upload-Length": ["Required."]},
        )
    if length == 0:
        # a tus client counts an empty upload as done once created, so it would wait forever
        # and become nothing: refuse it as an empty file sent in one request is refused
        raise AppError(
            "The file is empty.",
            status=422,
            code="media.empty",
            errors={"Upload-Length": ["The file is empty."]},
        )
    meta = parse_metadata(metadata_header)
    visit_id = _uuid(meta, "visit_id", required=True)
    assert visit_id is not None  # noqa: S101 - required above
    try:
        kind = EvidenceKind(meta.get("kind", ""))
    except ValueError as error:
        raise field_error(
            "Upload-Metadata.kind", "Not an evidence kind.", "upload.metadata_invalid"
        ) from error
    if kind == EvidenceKind.note:
        raise field_error(
            "Upload-Metadata.kind", "Notes are sent as text.", "evidence.kind_invalid"
        )
    visit = evidence.visit_for_capture(user, visit_id)
    # abandoned uploads are never asked about again: each new one makes room first
    reclaim_expired()
    limit = evidence.size_limit(kind)
    if length > limit:
        raise AppError(
            f"A {kind.value} may be at most {limit} bytes.",
            status=413,
            code="upload.too_large",
            errors={"Upload-Length": [f"At most {limit}."]},
        )
    expected = meta.get("sha256", "").lower() or None
    if expected is not None and (
        len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected)
    ):
        raise field_error(
            "Upload-Metadata.sha256", "Not a sha256 in hex.", "upload.metadata_invalid"
        )
    upload = Upload(
        study_id=visit.study_id,
        visit_id=visit.id,
        user_id=user.id,
        kind=kind,
        client_uuid=_uuid(meta, "client_uuid", required=False),
        length=length,
        filename=meta.get("filename", "")[:255],
        expected_sha256=expected,
        meta={
            "captured_at": _iso(_time(meta, "captured_at")),
            "device": meta.get("device", "")[:200],
            "latitude": _float(meta, "latitude", -90, 90),
            "longitude": _float(meta, "longitude", -180, 180),
            "accuracy_m": _float(meta, "accuracy_m", 0, 1e7),
        },
        expires_at=utcnow() + timedelta(hours=float(current_app.config["UPLOAD_EXPIRY_HOURS"])),
    )
    db.session.add(upload)
    db.session.flush()
    _part(upload.id).touch()
    audit.record(
        "upload.create",
        study_id=visit.study_id,
        object_type="upload",
        object_id=upload.id,
        detail={"kind": kind.value, "length": length},
    )
    return upload


def load(user: User, upload_id: uuid.UUID) -> Upload:
    """Return the caller's upload; unknown, foreign and expired ones are refused."""
    upload = db.session.get(Upload, upload_id)
    if upload is None or upload.user_id != user.id:
        raise NotFound("No such upload.", code="upload.not_found")
    if upload.completed_at is None and upload.expires_at <= utcnow():
        _reclaim(upload.id)
        raise Gone()
    return upload


def status(upload: Upload) -> Progress:
    """Return how far an upload has come."""
    return Progress(upload, _offset(upload), upload.evidence_id)


@contextlib.contextmanager
def _exclusive(upload_id: uuid.UUID) -> Iterator[None]:
    lock_path = spool_dir() / f"{upload_id}.lock"
    with open(lock_path, "a+b") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise Busy() from error
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    """Decode ``Upload-Checksum: ALGORITHM BASE64DIGEST``."""
    if not header:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm not in CHECKSUMS:
        raise AppError(
            f"Checksum algorithm {algorithm!r} is not supported.",
            code="upload.checksum_algorithm",
            errors={"Upload-Checksum": ["Use sha256, sha1 or md5."]},
        )
    try:
        return algorithm, base64.b64decode(encoded, validate=True)
    except ValueError as error:  # bad base64, or text that is not even ASCII
        raise field_error("Upload-Checksum", "Not base64.", "upload.checksum_invalid") from error


def append(
    user: User,
    upload: Upload,
    offset: int,
    body: IO[bytes],
    content_length: int | None,
    checksum: tuple[str, bytes] | None,
) -> Progress:
    """Append a PATCH body at ``offset``; finish the upload when its last byte arrives."""
    with _exclusive(upload.id):
        current = _offset(upload)
        if upload.completed_at is not None:
            return Progress(upload, upload.length, upload.evidence_id)
        if offset != current:
            raise AppError(
                f"The upload is at offset {current}, not {offset}.",
                status=409,
                code="upload.offset_mismatch",
                errors={"Upload-Offset": [f"Expected {current}."]},
                headers={"Upload-Offset": str(current)},
            )
        room = upload.length - current
        if content_length is not None and content_length > room:
            raise AppError(
                f"Only {room} more bytes fit in this upload.",
                status=413,
                code="upload.too_large",
                errors={"Content-Length": [f"At most {room}."]},
            )
        upload_id = upload.id
        # On SQLite every transaction holds the write lock (BEGIN IMMEDIATE): end this one
        # before waiting on the client's network, or one slow phone stalls every request.
        db.session.commit()
        written = _write(upload_id, current, body, room, checksum)
        if current == 0 and written:
            _check_head(upload)
        if current + written == upload.length:
            return _finish(user, upload)
        return Progress(upload, current + written, None)


# upload id -> (offset, sha256 of the bytes before it), for the uploads this process wrote
_RUNNING: dict[uuid.UUID, tuple[int, Any]] = {}
_RUNNING_LOCK = threading.Lock()


def _running_hash(upload_id: uuid.UUID, offset: int) -> Any:
    """Return the sha256 of an upload's first ``offset`` bytes if this process kept it.

    After a restart, or when another process took the earlier PATCHes, it is unknown and
    the finished file is hashed by the store instead.
    """
    with _RUNNING_LOCK:
        state = _RUNNING.pop(upload_id, None)
    if offset == 0:
        return hashlib.sha256()
    if state is None or state[0] != offset:
        return None
    return state[1]


def _keep_running_hash(upload_id: uuid.UUID, offset: int, running: Any) -> None:
    if running is not None:
        with _RUNNING_LOCK:
            _RUNNING[upload_id] = (offset, running)


def _write(
    upload_id: uuid.UUID,
    offset: int,
    body: IO[bytes],
    room: int,
    checksum: tuple[str, bytes] | None,
) -> int:
    part = _part(upload_id)
    running = _running_hash(upload_id, offset)
    target = part.with_suffix(".chunk") if checksum else part
    digest = CHECKSUMS[checksum[0]]() if checksum else None
    written = 0
    with open(target, "wb" if checksum else "ab") as out:
        while True:
            data = body.read(CHUNK)
            if not data:
                break
            written += len(data)
            if written > room:
                # nothing of an over-long PATCH is kept
                out.truncate(0 if checksum else offset)
                raise AppError(
                    "The body runs past the upload's length.", status=413, code="upload.too_large"
                )
            if digest is not None:
                digest.update(data)
            elif running is not None:
                running.update(data)
            out.write(data)
        out.flush()
        os.fsync(out.fileno())
    if checksum and digest is not None:
        if digest.digest() != checksum[1]:
            target.unlink(missing_ok=True)
            # the offset does not move, and neither does the running hash
            _keep_running_hash(upload_id, offset, running)
            raise AppError(
                "The chunk's checksum does not match; it was not kept.",
                status=460,
                code="upload.checksum_mismatch",
                errors={"Upload-Checksum": ["Mismatch."]},
            )
        with open(target, "rb") as chunk, open(part, "ab") as out:
            while data := chunk.read(CHUNK):
                if running is not None:
                    running.update(data)
                out.write(data)
            out.flush()
            os.fsync(out.fileno())
        target.unlink()
    _keep_running_hash(upload_id, offset + written, running)
    return written


def _check_head(upload: Upload) -> None:
    """Refuse a disguised type as soon as its first bytes arrive, not after the whole file."""
    with open(_part(upload.id), "rb") as part:
        head = part.read(SNIFF_BYTES)
    capture = Capture(kind=upload.kind, filename=upload.filename)
    try:
        evidence.check_type(head, capture)
    except AppError:
        if len(head) >= SNIFF_BYTES or len(head) == upload.length:
            discard(upload)
            db.session.commit()
            raise
        # a few bytes may not be enough to tell; the full check runs at the end


def _finish(user: User, upload: Upload) -> Progress:
    meta: dict[str, Any] = upload.meta or {}
    captured_at = meta.get("captured_at")
    capture = Capture(
        kind=upload.kind,
        client_uuid=upload.client_uuid,
        filename=upload.filename,
        captured_at=datetime.fromisoformat(captured_at) if captured_at else None,
        expected_sha256=upload.expected_sha256,
        device=meta.get("device") or "",
        latitude=meta.get("latitude"),
        longitude=meta.get("longitude"),
        accuracy_m=meta.get("accuracy_m"),
    )
    visit = evidence.visit_for_capture(user, upload.visit_id)
    running = _running_hash(upload.id, upload.length)
    try:
        if running is not None:
            item, _ = evidence.ingest_spooled(
                user, visit, _part(upload.id), running.hexdigest(), capture
            )
        else:
            with open(_part(upload.id), "rb") as part:
                item, _ = evidence.ingest(user, visit, part, capture)
    except AppError as error:
        if error.status < 500:
            # the bytes will never become evidence: free the space
            discard(upload)
            db.session.commit()
        raise
    upload.completed_at = utcnow()
    upload.evidence_id = item.id
    db.session.commit()
    _remove_files(upload.id)
    return Progress(upload, upload.length, item.id)


def _remove_files(upload_id: uuid.UUID) -> None:
    # a checksummed chunk cut off by a crash leaves its side file behind too
    for suffix in (".part", ".chunk", ".lock"):
        (spool_dir() / f"{upload_id}{suffix}").unlink(missing_ok=True)


def discard(upload: Upload) -> None:
    """Remove an unfinished upload and its bytes."""
    _remove_files(upload.id)
    if upload.completed_at is None:
        db.session.delete(upload)


def terminate(upload: Upload) -> None:
    """Cancel an upload at the client's request (tus termination)."""
    audit.record(
        "upload.terminate", study_id=upload.study_id, object_type="upload", object_id=upload.id
    )
    discard(upload)


def reclaim_expired() -> int:
    """Remove expired unfinished uploads and their bytes; return how many.

    An upload a PATCH is still writing to is left for a later sweep, and one that another
    request removed first is simply skipped.
    """
    expired = db.session.scalars(
        sa.select(Upload.id).where(Upload.completed_at.is_(None), Upload.expires_at <= utcnow())
    ).all()
    return sum(_reclaim(upload_id) for upload_id in expired)


def _reclaim(upload_id: uuid.UUID) -> bool:
    """Remove an expired upload's row and bytes unless a PATCH holds it; say if it went."""
    try:
        with _exclusive(upload_id):
            # a bulk delete, so that two requests reclaiming the same upload do not collide
            gone = db.session.execute(
                sa.delete(Upload).where(Upload.id == upload_id, Upload.completed_at.is_(None))
            )
            db.session.commit()
            _remove_files(upload_id)
    except Busy:
        return False
    return bool(gone.rowcount)  # type: ignore[attr-defined]


def evidence_of(upload: Upload) -> Evidence | None:
    """Return the evidence item a finished upload became."""
    return db.session.get(Evidence, upload.evidence_id) if upload.evidence_id else None
