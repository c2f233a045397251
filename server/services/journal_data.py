"""Adapting database rows into the plain data that ``reports`` takes.

``reports`` knows nothing of the database; this module is the one place that knows both.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

import reports
from server.extensions import db
from server.models import Citation, Evidence, EvidenceKind, SpanKind, Transcript

SPAN_TYPES = {SpanKind.time: "time", SpanKind.region: "region", SpanKind.text: "text"}


def transcript_text_lengths(items: Iterable[Evidence]) -> dict[str, int]:
    """Return, per audio blob, the length of its newest redacted transcript's text."""
    shas = {i.blob_sha256 for i in items if i.kind == EvidenceKind.audio and i.blob_sha256}
    if not shas:
        return {}
    lengths: dict[str, int] = {}
    rows = db.session.scalars(
        sa.select(Transcript)
        .where(Transcript.blob_sha256.in_(shas))
        .order_by(Transcript.created_at.desc())
    )
    for transcript in rows:
        text = "\n".join(str(s.get("text", "")) for s in transcript.redacted_segments)
        lengths.setdefault(transcript.blob_sha256, len(text))
    return lengths


def evidence_item(
    row: Evidence, text_lengths: dict[str, int] | None = None
) -> reports.EvidenceItem:
    """Describe one evidence row as ``reports`` sees it."""
    captured = row.captured_at or row.received_at or row.created_at
    text_length = None
    if row.kind == EvidenceKind.audio and text_lengths is not None and row.blob_sha256:
        text_length = text_lengths.get(row.blob_sha256)
    return reports.EvidenceItem(
        id=str(row.id),
        visit_id=str(row.visit_id),
        kind=row.kind.value,
        sha256=row.blob_sha256 or "",
        captured_at=captured,
        duration_s=row.duration_s,
        width=row.width,
        height=row.height,
        text_length=text_length,
        note_text=row.text if row.kind == EvidenceKind.note else None,
    )


def study_evidence(
    study_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[str, reports.EvidenceItem]:
    """Return the named evidence of one study, keyed by id; others are simply absent."""
    if not ids:
        return {}
    rows = list(
        db.session.scalars(
            sa.select(Evidence).where(Evidence.study_id == study_id, Evidence.id.in_(list(ids)))
        )
    )
    lengths = transcript_text_lengths(rows)
    return {str(r.id): evidence_item(r, lengths) for r in rows}


def citation(row: Citation) -> reports.Citation:
    """Describe one citation row as ``reports`` sees it."""
    span: reports.TimeSpan | reports.RegionSpan | reports.TextSpan | None = None
    if row.span_kind == SpanKind.time:
        span = reports.TimeSpan(float(row.start_s or 0), float(row.end_s or 0))
    elif row.span_kind == SpanKind.region:
        span = reports.RegionSpan(
            float(row.x or 0), float(row.y or 0), float(row.w or 0), float(row.h or 0)
        )
    elif row.span_kind == SpanKind.text:
        span = reports.TextSpan(int(row.char_start or 0), int(row.char_end or 0))
    return reports.Citation(str(row.evidence_id), span)


def call_metrics(evidence_id: str, metrics: dict[str, Any]) -> reports.CallMetrics:
    """Turn stored call metrics (transcription's form) into what journals cite."""
    holds = tuple(
        reports.HoldPeriod(float(a), float(b))
        for a, b in (metrics.get("hold") or {}).get("ranges", [])
        if float(b) > float(a)
    )
    transfers = tuple(
        reports.Transfer(float(m["range"][0]), float(m["range"][1]), m.get("phrase", ""))
        for m in metrics.get("transfers", [])
        if float(m["range"][1]) > float(m["range"][0])
    )
    repeats = tuple(
        reports.Repeat(float(a), float(b), r.get("item", ""))
        for r in metrics.get("repeated_requests", [])
        for a, b in r.get("ranges", [])[1:]  # the first asking is not a repeat
        if float(b) > float(a)
    )
    return reports.CallMetrics(evidence_id, holds, transfers, repeats)


def screenshots_by_step(items: Iterable[Evidence]) -> dict[tuple[str, int], str]:
    """Map (visit id, step number) to the screenshot taken at that step of a website visit."""
    found: dict[tuple[str, int], str] = {}
    for row in items:
        if row.kind == EvidenceKind.screenshot:
            number = ((row.media_info or {}).get("client") or {}).get("web_step")
            if isinstance(number, int):
                found[(str(row.visit_id), number)] = str(row.id)
    return found


def web_step(row: Evidence, screenshots: dict[tuple[str, int], str]) -> reports.WebStep | None:
    """Read one step of a website visit from its record (``fieldkit web-visit``'s JSON)."""
    step = (row.media_info or {}).get("client") or {}
    try:
        number = int(step["number"])
        seconds = step.get("duration_s")
        if seconds is None:
            seconds = float(step.get("duration_ms") or 0) / 1000
        return reports.WebStep(
            visit_id=str(row.visit_id),
            number=number,
            action=str(step.get("action") or step.get("type") or ""),
            url=str(step.get("url", "")),
            screenshot_evidence_id=screenshots.get((str(row.visit_id), number), str(row.id)),
            duration_s=float(seconds),
            error=step.get("error") or None,
        )
    except (KeyError, TypeError, ValueError):
        return None
