"""Job rows: the state of background work lives in the database, not in the queue."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, Timestamps, uuid_pk


class JobStatus(enum.StrEnum):
    """Where a job is."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class Job(Timestamps, Base):
    """One piece of background work with status, progress and error, visible in the API."""

    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(50), index=True)
    subject_type: Mapped[str] = mapped_column(sa.String(50), default="")
    subject_id: Mapped[str] = mapped_column(sa.String(64), default="")
    # the same work (e.g. one audio hash with one model) is never queued twice
    dedup_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[JobStatus] = mapped_column(
        sa.Enum(JobStatus, native_enum=False, length=20), default=JobStatus.queued, index=True
    )
    progress: Mapped[float] = mapped_column(default=0.0)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    error: Mapped[str | None] = mapped_column(sa.Text)
    worker: Mapped[str | None] = mapped_column(sa.String(200))
    lease_until: Mapped[datetime | None]
    # when a queued job may run; a queued job long past it lost its queue message
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    @property
    def subject_id_uuid(self) -> uuid.UUID:
        """Return the subject's id as a UUID (jobs about rows keep it as text)."""
        return uuid.UUID(self.subject_id)
