"""Handing evidence out: originals only to members and always audited, derived copies inline.

Originals leave as attachments (the browser never renders them in our origin); only
the JPEG display copies and thumbnails, which carry no metadata, are shown inline. On S3
the client is sent to a short-lived presigned URL carrying the same headers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import BinaryIO

from server.errors import NotFound
from server.models import Evidence, EvidenceKind, User
from server.services import access, audit
from server.services.evidence import store
from server.services.evidence_processing import display_name, thumbnail_name
from server.storage import BlobNotFound, content_disposition

PRESIGN_SECONDS = 300
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/heic": "heic",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "text/markdown": "md",
}


@dataclass
class Download:
    """Either a stream to send or a URL to send the client to."""

    content_type: str
    disposition: str
    stream: BinaryIO | None = None
    size: int | None = None
    url: str | None = None


def _filename(item: Evidence, suffix: str = "") -> str:
    if item.original_name and not suffix:
        return item.original_name
    extension = "jpg" if suffix else EXTENSIONS.get(item.mime.split(";")[0], "bin")
    return f"{item.kind.value}-{str(item.id)[:8]}{suffix}.{extension}"


def original(user: User, evidence_id: uuid.UUID) -> Download:
    """Return the original bytes of an item as an attachment, and audit the access."""
    item = access.get(Evidence, evidence_id, user)
    if item.blob_sha256 is None:
        raise NotFound("This item has no stored bytes yet.", code="evidence.not_stored")
    audit.record(
        "evidence.original.read",
        study_id=item.study_id,
        object_type="evidence",
        object_id=item.id,
        detail={"sha256": item.blob_sha256},
    )
    content_type = "text/plain; charset=utf-8" if item.kind == EvidenceKind.note else item.mime
    disposition = content_disposition("attachment", _filename(item))
    url = store().presigned_url(
        item.blob_sha256,
        filename=_filename(item),
        content_type=content_type,
        disposition="attachment",
        expires=PRESIGN_SECONDS,
    )
    if url is not None:
        return Download(content_type, disposition, url=url)
    try:
        return Download(
            content_type,
            disposition,
            stream=store().open(item.blob_sha256),
            size=item.size,
        )
    except BlobNotFound as error:
        raise NotFound("The stored bytes are missing.", code="evidence.blob_missing") from error


def derived(user: User, evidence_id: uuid.UUID, which: str) -> Download:
    """Return a photo's display copy or thumbnail, inline (they carry no metadata)."""
    item = access.get(Evidence, evidence_id, user)
    if not item.derived.get(which) or item.blob_sha256 is None:
        raise NotFound(f"This item has no {which} copy.", code="evidence.no_derived")
    name = (
        display_name(item.blob_sha256) if which == "display" else thumbnail_name(item.blob_sha256)
    )
    try:
        stream = store().open_derived(name)
    except BlobNotFound as error:
        raise NotFound(f"The {which} copy is missing.", code="evidence.no_derived") from error
    return Download(
        "image/jpeg", content_disposition("inline", _filename(item, f"-{which}")), stream=stream
    )
