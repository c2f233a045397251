"""The journal aggregate: moments, citations, findings, actions, journals, share links."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, ClientCreated, Timestamps, uuid_pk


class Moment(ClientCreated, Timestamps, Base):
    """A point on a visit's timeline: what happened, how it felt, what it cost."""

    __tablename__ = "moments"

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    visit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    author_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    occurred_at: Mapped[datetime | None]
    offset_s: Mapped[float | None]
    stage: Mapped[str] = mapped_column(sa.String(100), default="")
    what_happened: Mapped[str] = mapped_column(sa.Text, default="")
    sentiment: Mapped[int | None]
    effort: Mapped[int | None]
    checklist_answers: Mapped[dict] = mapped_column(sa.JSON, default=dict)


class SpanKind(enum.StrEnum):
    """Which part of an evidence item a citation points at."""

    whole = "whole"
    time = "time"
    region = "region"
    text = "text"


class Citation(Timestamps, Base):
    """A pointer from a moment, finding or comment to a span of one evidence item."""

    __tablename__ = "citations"

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    evidence_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("evidence.id"), index=True)
    moment_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("moments.id"), index=True)
    finding_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("findings.id"), index=True)
    comment_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("review_comments.id"))
    span_kind: Mapped[SpanKind] = mapped_column(sa.Enum(SpanKind, native_enum=False, length=10))
    start_s: Mapped[float | None]
    end_s: Mapped[float | None]
    x: Mapped[float | None]
    y: Mapped[float | None]
    w: Mapped[float | None]
    h: Mapped[float | None]
    char_start: Mapped[int | None]
    char_end: Mapped[int | None]
    quote: Mapped[str] = mapped_column(sa.Text, default="")


class FindingKind(enum.StrEnum):
    """What sort of claim a finding makes."""

    pain_point = "pain_point"
    root_cause = "root_cause"
    bright_spot = "bright_spot"


class Finding(ClientCreated, Timestamps, Base):
    """A claim across visits, with severity; it must cite evidence to be published."""

    __tablename__ = "findings"

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    journey_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("journeys.id"))
    author_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[FindingKind] = mapped_column(sa.Enum(FindingKind, native_enum=False, length=20))
    severity: Mapped[int] = mapped_column(default=2)
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(20), default="open")


class Action(Timestamps, Base):
    """What will be done about a finding, by whom and by when."""

    __tablename__ = "actions"

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    finding_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("findings.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(300))
    owner: Mapped[str] = mapped_column(sa.String(200), default="")
    due_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    outcome: Mapped[str] = mapped_column(sa.Text, default="")


class Journal(Timestamps, Base):
    """A compiled journal version for a visit, journey or study; published ones never change."""

    __tablename__ = "journals"
    __table_args__ = (
        sa.UniqueConstraint("scope", "subject_id", "version", name="uq_journals_subject_version"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    scope: Mapped[str] = mapped_column(sa.String(10))  # visit | journey | study
    subject_id: Mapped[uuid.UUID]
    version: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(300), default="")
    document: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    content_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    signature: Mapped[str | None] = mapped_column(sa.Text)
    published_at: Mapped[datetime | None]
    published_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))


class ShareLink(Timestamps, Base):
    """A read-only, expiring, revocable link to a published journal for people without accounts."""

    __tablename__ = "share_links"

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    journal_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("journals.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_by_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
