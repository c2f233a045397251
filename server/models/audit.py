"""The audit log: who did what, when (UTC) and from where."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow, uuid_pk


class AuditEvent(Base):
    """One audited event; rows are only ever added."""

    __tablename__ = "audit_events"

    id: Mapped[uuid.UUID] = uuid_pk()
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    actor_email: Mapped[str] = mapped_column(sa.String(320), default="")
    action: Mapped[str] = mapped_column(sa.String(80), index=True)
    outcome: Mapped[str] = mapped_column(sa.String(20), default="ok")
    study_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    object_type: Mapped[str] = mapped_column(sa.String(50), default="")
    object_id: Mapped[str] = mapped_column(sa.String(64), default="")
    ip: Mapped[str] = mapped_column(sa.String(64), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)
