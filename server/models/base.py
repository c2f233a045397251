"""Declarative base, naming convention and the mixins shared by the models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# stable constraint names so that migrations are identical on SQLite and PostgreSQL
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite keeps no zone; PostgreSQL's ``timestamptz`` does. Both come back as UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Fieldbook stores aware UTC times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base class of every Fieldbook model."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: sa.Uuid(), dict: sa.JSON()}


def uuid_pk() -> Mapped[uuid.UUID]:
    """Declare a UUID primary key generated on the server."""
    return mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    """Creation and last-change times."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ClientCreated:
    """Records that phones create carry the client's UUID and a hash of what was sent.

    A repeat with the same UUID and the same content is answered with the existing record;
    the same UUID with other content is a conflict. The unique constraint makes this hold
    across processes, not just within one.
    """

    client_uuid: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    client_hash: Mapped[str | None] = mapped_column(sa.String(64))
