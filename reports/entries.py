"""Journal entries for the things a journal shows: evidence, statements, moments, findings."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from typing import Any

from reports.catalog import Excerpt, StudyIndex
from reports.data import SEVERITY_NAMES, Action, Finding, Moment, Visit
from reports.evidence import (
    Citation,
    EvidenceItem,
    RegionSpan,
    TextSpan,
    TimeSpan,
    ordered_citations,
    span_to_dict,
)
from reports.journal import iso_time
from reports.metrics import citation_to_dict

QUOTE_LIMIT = 400
_IMAGE_KINDS = frozenset({"photo", "screenshot"})
_TRANSCRIBED_KINDS = frozenset({"audio", "video"})


def image_of(item: EvidenceItem) -> dict[str, str] | None:
    """Return how to show an item's shareable image: embedded bytes or a display URL."""
    if item.kind not in _IMAGE_KINDS:
        return None
    if item.display_bytes is not None and item.display_media_type is not None:
        data = base64.b64encode(item.display_bytes).decode("ascii")
        return {"media_type": item.display_media_type, "data": data}
    if item.display_url:
        return {"url": item.display_url}
    return None


def evidence_entry(item: EvidenceItem, *, with_image: bool = True) -> dict[str, Any]:
    """Return the journal entry of one evidence item, leaving its image out if asked."""
    return {
        "id": item.id,
        "visit_id": item.visit_id,
        "kind": item.kind,
        "sha256": item.sha256,
        "captured_at": iso_time(item.captured_at),
        "duration_s": _seconds(item.duration_s),
        "width": item.width,
        "height": item.height,
        "text_length": item.text_length,
        "note_text": item.note_text,
        "image": image_of(item) if with_image else None,
    }


def _seconds(value: float | None) -> float | None:
    return None if value is None else float(value)


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 1].rstrip() + "…"


def excerpt_of(index: StudyIndex, citation: Citation) -> Excerpt | None:
    """Return the words a citation points at: transcript speech or note text."""
    item = index.evidence.get(citation.evidence_id)
    if item is None:
        return None
    span = citation.span
    if item.kind in _TRANSCRIBED_KINDS:
        view = index.transcript_view(item.id)
        if view is None:
            return None
        if isinstance(span, TimeSpan):
            return view.at_time(span)
        if isinstance(span, TextSpan) and span.end <= len(view.text):
            return view.at_text(span)
        return None
    if item.note_text is None:
        return None
    if span is None:
        return Excerpt(item.note_text, None, None)
    if isinstance(span, TextSpan) and 0 <= span.start < span.end <= len(item.note_text):
        return Excerpt(item.note_text[span.start : span.end], None, None)
    return None


def statement(index: StudyIndex, citations: Iterable[Citation]) -> dict[str, Any]:
    """Return the citations of a statement with the quotes and images they point at."""
    ordered = ordered_citations(citations)
    quotes: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for citation in ordered:
        item = index.evidence.get(citation.evidence_id)
        if item is None:
            continue
        if item.kind in _IMAGE_KINDS and image_of(item) is not None:
            region = citation.span if isinstance(citation.span, RegionSpan) else None
            images.append({"evidence_id": item.id, "region": span_to_dict(region)})
            continue
        excerpt = excerpt_of(index, citation)
        if excerpt is not None and excerpt.text.strip():
            quotes.append(
                {
                    "evidence_id": item.id,
                    "span": span_to_dict(citation.span),
                    "text": _clip(excerpt.text),
                    "speaker": excerpt.speaker,
                    "at": _seconds(excerpt.at),
                }
            )
    return {
        "citations": [citation_to_dict(c, index) for c in ordered],
        "quotes": quotes,
        "images": images,
    }


def visit_entry(visit: Visit) -> dict[str, Any]:
    """Return the facts of a visit."""
    return {
        "id": visit.id,
        "channel": visit.channel,
        "researcher": visit.researcher,
        "target_name": visit.target_name,
        "started_at": iso_time(visit.started_at),
        "ended_at": iso_time(visit.ended_at) if visit.ended_at else None,
        "status": visit.status,
        "stage": visit.stage,
        "journey_id": visit.journey_id,
    }


def moment_stage(moment: Moment, visit: Visit) -> str:
    """Return the journey stage of a moment, falling back to its visit's stage."""
    return moment.stage or visit.stage


def moment_entry(index: StudyIndex, moment: Moment, visit: Visit) -> dict[str, Any]:
    """Return a moment on the timeline with what it cites."""
    return {
        "id": moment.id,
        "visit_id": visit.id,
        "channel": visit.channel,
        "at": iso_time(moment.time_in(visit)),
        "stage": moment_stage(moment, visit),
        "what_happened": moment.what_happened,
        "sentiment": moment.sentiment,
        "effort": moment.effort,
        **statement(index, moment.citations),
    }


def action_entry(action: Action) -> dict[str, Any]:
    """Return an action as the plan lists it."""
    return {
        "id": action.id,
        "finding_id": action.finding_id,
        "title": action.title,
        "owner": action.owner,
        "due_on": action.due_on.isoformat() if action.due_on else None,
        "status": action.status,
        "outcome": action.outcome,
    }


def finding_entry(index: StudyIndex, finding: Finding) -> dict[str, Any]:
    """Return a finding with its evidence, the visits it covers and its actions."""
    return {
        "id": finding.id,
        "kind": finding.kind,
        "severity": finding.severity,
        "severity_name": SEVERITY_NAMES[finding.severity],
        "title": finding.title,
        "body": finding.body,
        "visit_ids": sorted(set(finding.visit_ids)),
        "evidence_count": len({c.evidence_id for c in finding.citations}),
        "actions": [action_entry(a) for a in index.actions_by_finding.get(finding.id, [])],
        **statement(index, finding.citations),
    }


def ranked_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Order findings by severity, then by how much evidence they cite."""
    return sorted(
        findings,
        key=lambda f: (-f.severity, -len({c.evidence_id for c in f.citations}), f.title, f.id),
    )


def finding_entries(index: StudyIndex, findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """Return ranked finding entries, numbered from 1."""
    return [
        {"rank": rank, **finding_entry(index, finding)}
        for rank, finding in enumerate(ranked_findings(findings), start=1)
    ]
