"""The visit aggregate: a visit and the review comments on it."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.accounts import User
from server.models.base import Base, ClientCreated, Timestamps, uuid_pk
from server.models.studies import Channel


class VisitStatus(enum.StrEnum):
    """Where a visit is in its review."""

    draft = "draft"
    submitted = "submitted"
    in_review = "in_review"
    approved = "approved"
    returned = "returned"


class Visit(ClientCreated, Timestamps, Base):
    """What happened when a researcher experienced the company through one channel."""

    __tablename__ = "visits"

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    researcher_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    assignment_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("assignments.id"))
    journey_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("journeys.id"), index=True)
    target_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("targets.id"))
    journey_position: Mapped[int | None]
    channel: Mapped[Channel] = mapped_column(sa.Enum(Channel, native_enum=False, length=20))
    status: Mapped[VisitStatus] = mapped_column(
        sa.Enum(VisitStatus, native_enum=False, length=20), default=VisitStatus.draft, index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    device: Mapped[str] = mapped_column(sa.String(200), default="")
    checklist_answers: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    # what the phone captured and will send: [{"client_uuid", "kind", "filename"}]
    evidence_manifest: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)
    submitted_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]

    researcher: Mapped[User] = relationship(foreign_keys=[researcher_id])


class ReviewComment(Timestamps, Base):
    """A reviewer's comment on a visit, optionally anchored to an evidence span."""

    __tablename__ = "review_comments"

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    visit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    author_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("review_comments.id"))
    body: Mapped[str] = mapped_column(sa.Text)
    resolved_at: Mapped[datetime | None]
