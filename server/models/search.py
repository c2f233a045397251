"""Search entries: the text that study search looks through, one row a segment or note line."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base


class SearchEntry(Base):
    """A transcript segment (redacted) or a line of a note, with where it sits in its item.

    The full-text index over ``text`` is the database's own: FTS5 on SQLite, a GIN index
    over a tsvector on PostgreSQL (see the migration and ``server.services.search``).
    """

    __tablename__ = "search_entries"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    study_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("studies.id"), index=True)
    visit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("visits.id"))
    evidence_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("evidence.id"), index=True)
    transcript_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("transcripts.id"))
    kind: Mapped[str] = mapped_column(sa.String(10))  # segment | note
    start_s: Mapped[float | None]
    end_s: Mapped[float | None]
    line: Mapped[int | None]
    speaker: Mapped[str] = mapped_column(sa.String(50), default="")
    text: Mapped[str] = mapped_column(sa.Text)
