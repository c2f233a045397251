"""The study aggregate: study, members and roles, targets, journeys, assignments."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.accounts import User
from server.models.base import Base, ClientCreated, Timestamps, uuid_pk


class Role(enum.StrEnum):
    """What a member may do within one study."""

    researcher = "researcher"
    reviewer = "reviewer"
    manager = "manager"


class Channel(enum.StrEnum):
    """How a customer meets the company."""

    in_person = "in_person"
    phone = "phone"
    web = "web"


class Study(Timestamps, Base):
    """One research programme about one company or brand."""

    __tablename__ = "studies"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(sa.String(200))
    company: Mapped[str] = mapped_column(sa.String(200), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    goals: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    journey_stages: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    channels: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    checklist: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)
    consent_text: Mapped[str] = mapped_column(sa.Text, default="")
    retention_days: Mapped[int | None]
    archived_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="study", cascade="all, delete-orphan"
    )


class Membership(Timestamps, Base):
    """A user's role in a study."""

    __tablename__ = "memberships"
    __table_args__ = (sa.UniqueConstraint("study_id", "user_id", name="uq_memberships_study_user"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    role: Mapped[Role] = mapped_column(sa.Enum(Role, native_enum=False, length=20))

    study: Mapped[Study] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship()


class TargetKind(enum.StrEnum):
    """What is visited."""

    store = "store"
    phone_line = "phone_line"
    website = "website"


class Target(Timestamps, Base):
    """A store, a phone line or a website of the studied company."""

    __tablename__ = "targets"

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    kind: Mapped[TargetKind] = mapped_column(sa.Enum(TargetKind, native_enum=False, length=20))
    name: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str] = mapped_column(sa.String(500), default="")
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    phone: Mapped[str] = mapped_column(sa.String(50), default="")
    url: Mapped[str] = mapped_column(sa.String(2000), default="")


class Journey(Timestamps, Base):
    """One customer case across channels, told as one timeline."""

    __tablename__ = "journeys"

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    scenario: Mapped[str] = mapped_column(sa.Text, default="")
    resolved_at: Mapped[datetime | None]


class Assignment(ClientCreated, Timestamps, Base):
    """A planned visit: who goes where, through which channel, with which script."""

    __tablename__ = "assignments"

    id: Mapped[uuid.UUID] = uuid_pk()
    study_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    researcher_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    target_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("targets.id"))
    journey_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("journeys.id"))
    channel: Mapped[Channel] = mapped_column(sa.Enum(Channel, native_enum=False, length=20))
    scenario: Mapped[str] = mapped_column(sa.Text, default="")
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
