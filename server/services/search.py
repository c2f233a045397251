"""Study search over transcripts (redacted) and notes, on each database's own full text.

SQLite uses its FTS5 index, PostgreSQL a GIN index over ``to_tsvector``; the choice is
made from the connection, not from configuration, and nothing else in Fieldbook knows.
Hits carry where they sit: seconds into a call, or the line of a note.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from server.extensions import db
from server.models import Evidence, SearchEntry, Study, User
from server.services import access

WORD = re.compile(r"\w+", re.UNICODE)
MAX_HITS = 100


@dataclass(frozen=True)
class Hit:
    """One place in one item where the words were found."""

    evidence_id: uuid.UUID
    visit_id: uuid.UUID
    kind: str
    start_s: float | None
    end_s: float | None
    line: int | None
    speaker: str
    text: str


def index_note(item: Evidence) -> None:
    """Index each non-empty line of a note."""
    for number, line in enumerate((item.text or "").splitlines(), start=1):
        if line.strip():
            db.session.add(
                SearchEntry(
                    study_id=item.study_id,
                    visit_id=item.visit_id,
                    evidence_id=item.id,
                    kind="note",
                    line=number,
                    text=line,
                )
            )


def index_segments(
    item: Evidence, transcript_id: uuid.UUID, segments: Iterable[dict[str, object]]
) -> None:
    """Index a transcript's (redacted) segments for one evidence item, replacing older ones."""
    db.session.execute(
        sa.delete(SearchEntry).where(
            SearchEntry.evidence_id == item.id, SearchEntry.kind == "segment"
        )
    )
    for segment in segments:
        text = str(segment.get("text", "")).strip()
        if text:
            db.session.add(
                SearchEntry(
                    study_id=item.study_id,
                    visit_id=item.visit_id,
                    evidence_id=item.id,
                    transcript_id=transcript_id,
                    kind="segment",
                    start_s=float(segment["start"]),  # type: ignore[arg-type]
                    end_s=float(segment["end"]),  # type: ignore[arg-type]
                    speaker=str(segment.get("speaker") or "")[:50],
                    text=text,
                )
            )


def _fts5_query(text: str) -> str:
    # every word quoted: the user's text is never FTS5 syntax
    return " ".join(f'"{word}"' for word in WORD.findall(text))


def search(user: User, study: Study, text: str, limit: int = MAX_HITS) -> list[Hit]:
    """Find the words in the study's transcripts and notes that the user may see."""
    if not WORD.search(text):
        return []
    visible = access.scoped(Evidence, user).with_only_columns(Evidence.id)
    query = sa.select(SearchEntry).where(
        SearchEntry.study_id == study.id, SearchEntry.evidence_id.in_(visible)
    )
    if db.session.get_bind().dialect.name == "sqlite":
        fts = sa.table("search_fts", sa.column("rowid"), sa.column("rank"))
        query = (
            query.join(fts, fts.c.rowid == SearchEntry.id)
            .where(sa.text("search_fts MATCH :match").bindparams(match=_fts5_query(text)))
            .order_by(fts.c.rank, SearchEntry.id)
        )
    else:
        vector = sa.func.to_tsvector("english", SearchEntry.text)
        wanted = sa.func.websearch_to_tsquery("english", text)
        query = query.where(vector.op("@@")(wanted)).order_by(
            sa.func.ts_rank(vector, wanted).desc(), SearchEntry.id
        )
    return [
        Hit(e.evidence_id, e.visit_id, e.kind, e.start_s, e.end_s, e.line, e.speaker, e.text)
        for e in db.session.scalars(query.limit(limit))
    ]
