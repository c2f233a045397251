"""The evidence aggregate: stored blobs, evidence items and their transcripts."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, ClientCreated, Timestamps, utcnow, uuid_pk


class EvidenceKind(enum.StrEnum):
    """What a captured item is."""

    photo = "photo"
    audio = "audio"
    video = "video"
    screenshot = "screenshot"
    note = "note"
    document = "document"
    web_step = "web_step"


class EvidenceStatus(enum.StrEnum):
    """Where an item is between the first byte and being ready to review."""

    receiving = "receiving"
    stored = "stored"
    processing = "processing"
    ready = "ready"
    failed = "failed"


class Blob(Base):
    """Bytes kept once, addressed by their sha256; evidence items point at them."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    mime: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Evidence(ClientCreated, Timestamps, Base):
    """One captured item of a visit; the original bytes are never altered."""

    __tablename__ = "evidence"

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    visit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    uploader_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[EvidenceKind] = mapped_column(sa.Enum(EvidenceKind, native_enum=False, length=20))
    status: Mapped[EvidenceStatus] = mapped_column(
        sa.Enum(EvidenceStatus, native_enum=False, length=20), default=EvidenceStatus.receiving
    )
    failure_code: Mapped[str | None] = mapped_column(sa.String(80))
    failure_reason: Mapped[str | None] = mapped_column(sa.Text)
    blob_sha256: Mapped[str | None] = mapped_column(sa.ForeignKey("blobs.sha256"), index=True)
    mime: Mapped[str] = mapped_column(sa.String(100), default="")
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    original_name: Mapped[str] = mapped_column(sa.String(255), default="")
    text: Mapped[str | None] = mapped_column(sa.Text)
    captured_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    device: Mapped[str] = mapped_column(sa.String(200), default="")
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    location_accuracy_m: Mapped[float | None]
    duration_s: Mapped[float | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    perceptual_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    media_info: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    trust_flags: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)
    derived: Mapped[dict] = mapped_column(sa.JSON, default=dict)


class Transcript(Timestamps, Base):
    """A transcript of one audio blob by one engine and model; several models may coexist.

    Keyed by content, not by evidence item: the same recording uploaded twice is
    transcribed once, and each item reaches its transcripts through its blob.
    """

    __tablename__ = "transcripts"
    __table_args__ = (
        sa.UniqueConstraint("blob_sha256", "engine", "model", name="uq_transcripts_blob_model"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    blob_sha256: Mapped[str] = mapped_column(sa.ForeignKey("blobs.sha256"), index=True)
    engine: Mapped[str] = mapped_column(sa.String(50))
    model: Mapped[str] = mapped_column(sa.String(200))
    language: Mapped[str] = mapped_column(sa.String(10), default="")
    text: Mapped[str] = mapped_column(sa.Text, default="")
    redacted_text: Mapped[str] = mapped_column(sa.Text, default="")
    segments: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)
    redacted_segments: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)
    redacted_ranges: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)
    metrics: Mapped[dict] = mapped_column(sa.JSON, default=dict)


class Upload(Base):
    """A resumable (tus) upload in progress; its bytes wait in the spool folder.

    The spooled file's size is the upload's offset: bytes are appended in order and a
    checksummed chunk only joins the file once verified.
    """

    __tablename__ = "uploads"

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    visit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[EvidenceKind] = mapped_column(sa.Enum(EvidenceKind, native_enum=False, length=20))
    client_uuid: Mapped[uuid.UUID | None]
    length: Mapped[int] = mapped_column(sa.BigInteger)
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    expected_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    meta: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    completed_at: Mapped[datetime | None]
    evidence_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("evidence.id"))
