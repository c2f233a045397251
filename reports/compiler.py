"""Compile visit and journey journals: one timeline, every statement with its evidence."""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from typing import Any

from reports.catalog import StudyIndex
from reports.citations import IntegrityProblem, check_citations, check_visit_citations
from reports.collector import without_collector
from reports.data import Finding, StudyRecord, Visit
from reports.entries import (
    evidence_entry,
    finding_entries,
    moment_entry,
    statement,
    visit_entry,
)
from reports.evidence import Citation
from reports.journal import Journal, iso_time
from reports.metrics import journey_metrics, visit_metrics

CHANNEL_NAMES = {"in_person": "in-person", "phone": "phone", "web": "website"}


def index_of(source: StudyRecord | StudyIndex) -> StudyIndex:
    """Return an index of the record for a new journal, reusing one already built."""
    index = source if isinstance(source, StudyIndex) else StudyIndex(source)
    index.start_journal()
    return index


def study_entry(index: StudyIndex) -> dict[str, Any]:
    """Return the facts of the study a journal belongs to."""
    study = index.study
    return {
        "id": study.id,
        "name": study.name,
        "company": study.company,
        "stages": list(study.stages),
    }


def gaps_of(index: StudyIndex, visits: Iterable[Visit]) -> list[dict[str, Any]]:
    """List what was left out of the numbers because no evidence backs it."""
    gaps: list[dict[str, Any]] = []
    for visit in visits:
        if not index.visit_evidence(visit.id):
            gaps.append(
                {
                    "code": "visit.no_evidence",
                    "field": f"visits[{visit.id}]",
                    "message": "visit has no evidence; it is not counted as a contact",
                }
            )
        for answer in visit.checklist:
            if not answer.citations:
                gaps.append(
                    {
                        "code": "checklist.uncited",
                        "field": f"visits[{visit.id}].checklist[{answer.question_id}]",
                        "message": "answer cites no evidence; it is left out of the score",
                    }
                )
        for moment in index.moments_by_visit.get(visit.id, []):
            if not moment.citations:
                gaps.append(
                    {
                        "code": "moment.uncited",
                        "field": f"moments[{moment.id}]",
                        "message": "moment cites no evidence; it is left out of effort figures",
                    }
                )
    return gaps


def evidence_catalog(
    index: StudyIndex,
    own_visits: Sequence[Visit],
    *,
    cited_only: bool = False,
    embed: Container[str] | None = None,
) -> list[dict[str, Any]]:
    """List the evidence of the journal's own visits, then what it cites on other visits.

    Items follow their visits' order and, within a visit, capture time; walking visits
    that are already in order keeps a large study free of one big sort. Images are
    embedded for every item unless `embed` names the ones to embed.
    """
    cited = index.cited_evidence_ids()
    own_ids = {visit.id for visit in own_visits}
    chosen = [
        item
        for visit in own_visits
        for item in index.visit_evidence(visit.id)
        if not cited_only or item.id in cited
    ]
    # a journal of every visit (the study's) has nothing on other visits to look for
    others = (
        [
            index.evidence[i]
            for i in cited
            if i in index.evidence and index.evidence[i].visit_id not in own_ids
        ]
        if len(own_ids) < len(index.visits)
        else []
    )
    others.sort(
        key=lambda item: (
            index.visits[item.visit_id].started_at,
            item.visit_id,
            item.captured_at,
            item.id,
        )
    )
    return [
        evidence_entry(item, with_image=embed is None or item.id in embed)
        for item in (*chosen, *others)
    ]


def finding_problems(index: StudyIndex, findings: Iterable[Finding]) -> list[IntegrityProblem]:
    """Check the citations of the given findings."""
    problems: list[IntegrityProblem] = []
    for finding in findings:
        problems.extend(
            check_citations(
                finding.citations, index.evidence, field=f"findings[{finding.id}].citations"
            )
        )
    return problems


def _findings_of(index: StudyIndex, visits: Iterable[Visit]) -> list[Finding]:
    seen: dict[str, Finding] = {}
    for visit in visits:
        for finding in index.findings_by_visit.get(visit.id, []):
            seen.setdefault(finding.id, finding)
    return list(seen.values())


def _checklist(index: StudyIndex, visit: Visit) -> list[dict[str, Any]]:
    return [
        {
            "question_id": answer.question_id,
            "question": answer.question,
            "score": float(answer.score),
            "max_score": float(answer.max_score),
            **statement(index, answer.citations),
        }
        for answer in visit.checklist
    ]


def _web_steps(index: StudyIndex, visit: Visit) -> list[dict[str, Any]]:
    return [
        {
            "number": step.number,
            "action": step.action,
            "url": step.url,
            "duration_s": float(step.duration_s),
            "error": step.error,
            **statement(index, [Citation(step.screenshot_evidence_id)]),
        }
        for step in index.web_steps_by_visit.get(visit.id, [])
    ]


def visit_body(index: StudyIndex, visit: Visit) -> dict[str, Any]:
    """Return the body of a visit journal, without study or problem lists."""
    moments = index.moments_by_visit.get(visit.id, [])
    return {
        "visit": visit_entry(visit),
        "metrics": [m.to_dict(index) for m in visit_metrics(index, visit)],
        "checklist": _checklist(index, visit),
        "timeline": [moment_entry(index, moment, visit) for moment in moments],
        "web_steps": _web_steps(index, visit),
    }


@without_collector
def compile_visit_journal(source: StudyRecord | StudyIndex, visit_id: str) -> Journal:
    """Compile the journal of one visit: its metrics, checklist, timeline and evidence."""
    index = index_of(source)
    visit = index.visits.get(visit_id)
    if visit is None:
        raise KeyError(f"visit {visit_id!r} is not in study {index.study.id!r}")
    findings = _findings_of(index, [visit])
    problems = check_visit_citations(index, visit.id) + finding_problems(index, findings)
    body: dict[str, Any] = {
        "study": study_entry(index),
        **visit_body(index, visit),
        "findings": finding_entries(index, findings),
        "problems": [p.to_dict() for p in problems],
        "gaps": gaps_of(index, [visit]),
    }
    body["evidence"] = evidence_catalog(index, [visit])
    channel = CHANNEL_NAMES[visit.channel]
    title = f"{visit.target_name} — {channel} visit, {visit.started_at.date().isoformat()}"
    return Journal("visit", visit.id, title, body)


@without_collector
def compile_journey_journal(source: StudyRecord | StudyIndex, journey_id: str) -> Journal:
    """Compile one journey as a single timeline across its in-person, phone and web visits."""
    index = index_of(source)
    journey = index.journeys.get(journey_id)
    if journey is None:
        raise KeyError(f"journey {journey_id!r} is not in study {index.study.id!r}")
    visits = index.visits_by_journey.get(journey.id, [])
    timeline: list[tuple[Any, ...]] = []
    contacts: list[dict[str, Any]] = []
    problems: list[IntegrityProblem] = []
    for order, visit in enumerate(visits):
        contact = {
            "position": order + 1,
            **visit_entry(visit),
            "metrics": [m.to_dict(index) for m in visit_metrics(index, visit)],
        }
        contacts.append(contact)
        timeline.append((visit.started_at, 0, order, visit.id, {"type": "contact", **contact}))
        for moment in index.moments_by_visit.get(visit.id, []):
            entry = {"type": "moment", **moment_entry(index, moment, visit)}
            timeline.append((moment.time_in(visit), 1, order, moment.id, entry))
        problems.extend(check_visit_citations(index, visit.id))
    timeline.sort(key=lambda row: row[:4])
    findings = _findings_of(index, visits)
    problems.extend(finding_problems(index, findings))
    body: dict[str, Any] = {
        "study": study_entry(index),
        "journey": {
            "id": journey.id,
            "title": journey.title,
            "scenario": journey.scenario,
            "resolved_at": iso_time(journey.resolved_at) if journey.resolved_at else None,
        },
        "metrics": [m.to_dict(index) for m in journey_metrics(index, journey)],
        "contacts": contacts,
        "timeline": [row[-1] for row in timeline],
        "findings": finding_entries(index, findings),
        "problems": [p.to_dict() for p in problems],
        "gaps": gaps_of(index, visits),
    }
    body["evidence"] = evidence_catalog(index, visits)
    return Journal("journey", journey.id, journey.title, body)
