"""Gathering a study's rows into one ``reports.StudyRecord`` for compiling journals.

One query per table for the whole study, so a study of thousands of visits compiles in
time linear in its size.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

import reports
from server.extensions import db
from server.models import (
    Action,
    Citation,
    Evidence,
    EvidenceKind,
    EvidenceStatus,
    Finding,
    FindingKind,
    Journey,
    Moment,
    Study,
    Target,
    Transcript,
    User,
    Visit,
)
from server.services import journal_data
from server.services.evidence import store
from server.services.evidence_processing import thumbnail_name

CHANNEL_STAGE_DEFAULT = ""


def _checklist(study: Study, visit: Visit) -> tuple[reports.ChecklistAnswer, ...]:
    answers = visit.checklist_answers or {}
    result = []
    for item in study.checklist or []:
        key = str(item.get("key", ""))
        if key not in answers:
            continue
        weight = float(item.get("weight", 1.0))
        value = answers[key]
        if item.get("kind") == "scale" and isinstance(value, int | float):
            score = weight * max(0.0, min(5.0, float(value))) / 5.0
        else:
            score = weight if value is True or value == "yes" else 0.0
        result.append(reports.ChecklistAnswer(key, str(item.get("question", key)), score, weight))
    return tuple(result)


def _when(*candidates: datetime | None) -> datetime:
    for candidate in candidates:
        if candidate is not None:
            return candidate.astimezone(UTC)
    return datetime.now(UTC)


def _started(visit: Visit) -> datetime:
    """When a visit started; without a start sent, when the server heard of it.

    A phone that was offline may send a visit hours after it ended: it started no later.
    """
    if visit.started_at is None and visit.ended_at is not None:
        return min(_when(visit.created_at), _when(visit.ended_at))
    return _when(visit.started_at, visit.created_at)


def build_record(study: Study, *, embed_photos: bool) -> reports.StudyRecord:
    """Read everything a journal of this study may cite; only processed evidence counts."""
    visits = list(
        db.session.scalars(
            sa.select(Visit).where(Visit.study_id == study.id).order_by(Visit.started_at, Visit.id)
        )
    )
    people = {
        u.id: (u.name or u.email)
        for u in db.session.scalars(
            sa.select(User).where(User.id.in_({v.researcher_id for v in visits}))
        )
    }
    targets = {
        t.id: t.name
        for t in db.session.scalars(sa.select(Target).where(Target.study_id == study.id))
    }
    evidence = list(
        db.session.scalars(
            sa.select(Evidence).where(
                Evidence.study_id == study.id, Evidence.status == EvidenceStatus.ready
            )
        )
    )
    lengths = journal_data.transcript_text_lengths(evidence)
    items = []
    for row in evidence:
        item = journal_data.evidence_item(row, lengths)
        if embed_photos and row.derived.get("thumbnail") and row.blob_sha256:
            with store().open_derived(thumbnail_name(row.blob_sha256)) as thumb:
                item = _with_display(item, thumb.read())
        items.append(item)
    transcripts, metrics = _calls(evidence)
    screenshots = journal_data.screenshots_by_step(evidence)
    citations = list(db.session.scalars(sa.select(Citation).where(Citation.study_id == study.id)))
    by_moment: dict[uuid.UUID, list[reports.Citation]] = {}
    by_finding: dict[uuid.UUID, list[reports.Citation]] = {}
    for cited in citations:
        if cited.moment_id:
            by_moment.setdefault(cited.moment_id, []).append(journal_data.citation(cited))
        if cited.finding_id:
            by_finding.setdefault(cited.finding_id, []).append(journal_data.citation(cited))
    findings = list(db.session.scalars(sa.select(Finding).where(Finding.study_id == study.id)))
    evidence_visit = {str(e.id): str(e.visit_id) for e in evidence}
    return reports.StudyRecord(
        study=reports.Study(
            str(study.id), study.name, study.company, tuple(study.journey_stages or ())
        ),
        visits=tuple(
            reports.Visit(
                id=str(v.id),
                channel=v.channel.value,
                researcher=people.get(v.researcher_id, ""),
                target_name=targets.get(v.target_id, "") if v.target_id else v.title,
                started_at=_started(v),
                ended_at=v.ended_at.astimezone(UTC) if v.ended_at else None,
                status=v.status.value,
                journey_id=str(v.journey_id) if v.journey_id else None,
                journey_position=v.journey_position,
                checklist=_checklist(study, v),
            )
            for v in visits
        ),
        evidence=tuple(items),
        journeys=tuple(
            reports.Journey(
                str(j.id),
                j.title,
                j.scenario,
                j.resolved_at.astimezone(UTC) if j.resolved_at else None,
            )
            for j in db.session.scalars(sa.select(Journey).where(Journey.study_id == study.id))
        ),
        transcripts=tuple(transcripts),
        call_metrics=tuple(metrics),
        web_steps=tuple(
            step
            for step in (
                journal_data.web_step(e, screenshots)
                for e in evidence
                if e.kind == EvidenceKind.web_step
            )
            if step is not None
        ),
        moments=tuple(
            reports.Moment(
                id=str(m.id),
                visit_id=str(m.visit_id),
                what_happened=m.what_happened,
                stage=m.stage,
                at=m.occurred_at.astimezone(UTC) if m.occurred_at else None,
                offset_s=m.offset_s,
                sentiment=m.sentiment,
                effort=m.effort,
                citations=tuple(by_moment.get(m.id, ())),
            )
            for m in db.session.scalars(sa.select(Moment).where(Moment.study_id == study.id))
        ),
        findings=tuple(
            reports.Finding(
                id=str(f.id),
                kind=FindingKind(f.kind).value,
                severity=f.severity,
                title=f.title,
                body=f.body,
                citations=tuple(by_finding.get(f.id, ())),
                visit_ids=tuple(
                    sorted(
                        {
                            evidence_visit[c.evidence_id]
                            for c in by_finding.get(f.id, ())
                            if c.evidence_id in evidence_visit
                        }
                    )
                ),
            )
            for f in findings
            if f.status != "dismissed"
        ),
        actions=tuple(
            reports.Action(
                id=str(a.id),
                finding_id=str(a.finding_id),
                title=a.title,
                owner=a.owner,
                due_on=a.due_on,
                status=a.status,  # type: ignore[arg-type]  # checked by the API schema
                outcome=a.outcome,
            )
            for a in db.session.scalars(sa.select(Action).where(Action.study_id == study.id))
        ),
    )


def _with_display(item: reports.EvidenceItem, jpeg: bytes) -> reports.EvidenceItem:
    fields: dict[str, Any] = {name: getattr(item, name) for name in item.__slots__}
    fields.update(display_bytes=jpeg, display_media_type="image/jpeg")
    return reports.EvidenceItem(**fields)


def _calls(evidence: list[Evidence]) -> tuple[list[reports.Transcript], list[reports.CallMetrics]]:
    audio: dict[str, list[str]] = {}
    for e in evidence:
        if e.kind == EvidenceKind.audio and e.blob_sha256:
            audio.setdefault(e.blob_sha256, []).append(str(e.id))
    if not audio:
        return [], []
    newest: dict[str, Transcript] = {}
    for row in db.session.scalars(
        sa.select(Transcript)
        .where(Transcript.blob_sha256.in_(list(audio)))
        .order_by(Transcript.created_at.desc())
    ):
        newest.setdefault(row.blob_sha256, row)
    transcripts, metrics = [], []
    for sha, row in newest.items():
        segments = tuple(
            reports.TranscriptSegment(
                float(s["start"]), float(s["end"]), str(s["text"]), s.get("speaker")
            )
            for s in row.redacted_segments
            if float(s["end"]) > float(s["start"])
        )
        for evidence_id in audio[sha]:
            transcripts.append(reports.Transcript(evidence_id, segments))
            metrics.append(journal_data.call_metrics(evidence_id, row.metrics or {}))
    return transcripts, metrics
