"""Compile the study journal: ranked findings, scores, the effort curve and the action plan."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from reports.catalog import StudyIndex
from reports.citations import check_study_citations
from reports.collector import without_collector
from reports.compiler import evidence_catalog, gaps_of, index_of, study_entry
from reports.data import CHANNELS, ChecklistAnswer, StudyRecord, Visit
from reports.entries import (
    action_entry,
    finding_entries,
    moment_stage,
    ranked_findings,
    visit_entry,
)
from reports.evidence import Citation, WebStep
from reports.journal import Journal, iso_time
from reports.metrics import (
    Metric,
    calls_of,
    channels_used,
    checklist_score,
    contacts_needed,
    elapsed_to_resolution,
    hold_and_wait_time,
    journey_contacts,
    mean_metric,
    mean_of_values,
    repeats,
    transfers,
    web_errors,
    web_steps,
)

Cited = tuple[float, Sequence[Citation]]


def _dict(metric: Metric | None, index: StudyIndex) -> dict[str, Any] | None:
    return metric.to_dict(index) if metric is not None else None


def ordered_stages(configured: Sequence[str], seen: Iterable[str]) -> list[str]:
    """Return the study's stages in journey order, then any others met, unnamed last."""
    extra = sorted(set(seen) - set(configured) - {""})
    tail = [""] if "" in set(seen) else []
    return [*configured, *extra, *tail]


class _Tally:
    """Group checklist answers and moment ratings by channel and stage in one pass."""

    def __init__(self) -> None:
        self.answers_by_channel: defaultdict[str, list[ChecklistAnswer]] = defaultdict(list)
        self.answers_by_stage: defaultdict[str, list[ChecklistAnswer]] = defaultdict(list)
        self.effort: defaultdict[str, list[Cited]] = defaultdict(list)
        self.sentiment: defaultdict[str, list[Cited]] = defaultdict(list)
        self.moments: defaultdict[str, int] = defaultdict(int)
        self.steps_by_web_visit: list[list[WebStep]] = []

    def add(self, index: StudyIndex, visit: Visit) -> None:
        """Count one visit's answers, ratings and website steps."""
        self.answers_by_channel[visit.channel].extend(visit.checklist)
        self.answers_by_stage[visit.stage].extend(visit.checklist)
        steps = index.web_steps_by_visit.get(visit.id)
        if steps:
            self.steps_by_web_visit.append(steps)
        for moment in index.moments_by_visit.get(visit.id, []):
            if not moment.citations:
                continue
            stage = moment_stage(moment, visit)
            self.moments[stage] += 1
            if moment.effort is not None:
                self.effort[stage].append((moment.effort, moment.citations))
            if moment.sentiment is not None:
                self.sentiment[stage].append((moment.sentiment, moment.citations))


def _same_moments(first: list[Cited], second: list[Cited]) -> bool:
    return len(first) == len(second) and all(
        a[1] is b[1] for a, b in zip(first, second, strict=True)
    )


def _effort_curve(index: StudyIndex, tally: _Tally, stages: list[str]) -> list[dict[str, Any]]:
    curve = []
    for stage in stages:
        if not tally.moments.get(stage):
            continue
        efforts, sentiments = tally.effort.get(stage, []), tally.sentiment.get(stage, [])
        effort = mean_of_values("effort", "effort", efforts, "mean per moment")
        if effort is not None and _same_moments(efforts, sentiments):
            # Usually every moment is rated for both; share the sorted citations then.
            mean = sum(value for value, _ in sentiments) / len(sentiments)
            sentiment: Metric | None = replace(
                effort, name="sentiment", unit="sentiment", value=round(float(mean), 2)
            )
        else:
            sentiment = mean_of_values("sentiment", "sentiment", sentiments, "mean per moment")
        curve.append(
            {
                "stage": stage,
                "moments": tally.moments[stage],
                "effort": _dict(effort, index),
                "sentiment": _dict(sentiment, index),
            }
        )
    return curve


def _journeys(index: StudyIndex) -> tuple[list[dict[str, Any]], list[Metric], list[Metric]]:
    rows: list[dict[str, Any]] = []
    needed: list[Metric] = []
    elapsed: list[Metric] = []
    for journey in sorted(index.journeys.values(), key=lambda j: (j.title, j.id)):
        contacts = journey_contacts(index, journey)
        count = contacts_needed(index, contacts)
        took = elapsed_to_resolution(index, contacts)
        if count is not None and count.name == "contacts_needed":
            needed.append(count)
        if took is not None:
            elapsed.append(took)
        metrics = [count, channels_used(index, contacts), took]
        rows.append(
            {
                "id": journey.id,
                "title": journey.title,
                "resolved_at": iso_time(journey.resolved_at) if journey.resolved_at else None,
                "metrics": [m.to_dict(index) for m in metrics if m is not None],
            }
        )
    return rows, needed, elapsed


def _headline(
    index: StudyIndex,
    visits: list[Visit],
    tally: _Tally,
    needed: list[Metric],
    elapsed: list[Metric],
) -> list[Metric]:
    calls = calls_of(index, visits)
    per_call = [m for m in (hold_and_wait_time([call]) for call in calls) if m is not None]
    per_web_visit = [m for m in map(web_steps, tally.steps_by_web_visit) if m is not None]
    all_steps = [step for steps in tally.steps_by_web_visit for step in steps]
    all_answers = (answer for visit in visits for answer in visit.checklist)
    candidates = (
        mean_metric(needed, "mean per resolved journey"),
        mean_metric(elapsed, "mean per resolved journey"),
        mean_metric(per_call, "mean per call"),
        transfers(calls),
        repeats(calls),
        mean_metric(per_web_visit, "mean per website visit"),
        web_errors(all_steps),
        checklist_score(all_answers),
    )
    return [metric for metric in candidates if metric is not None]


@without_collector
def compile_study_journal(source: StudyRecord | StudyIndex) -> Journal:
    """Compile the study journal from the whole record in one linear pass.

    Runs with the cycle collector paused (``reports.collector``), which otherwise walks
    the whole record again and again as a large journal grows.
    """
    index = index_of(source)
    visits = index.ordered_visits()
    tally = _Tally()
    visit_rows = []
    for visit in visits:
        tally.add(index, visit)
        score = checklist_score(visit.checklist)
        visit_rows.append({**visit_entry(visit), "score": _dict(score, index)})

    stages = ordered_stages(index.study.stages, [*tally.answers_by_stage, *tally.moments])
    journeys, needed, elapsed = _journeys(index)
    findings = ranked_findings(index.findings.values())
    finding_rows = finding_entries(index, findings)
    action_plan = [
        {
            **action_entry(action),
            "finding_rank": row["rank"],
            "finding_title": row["title"],
            "severity": row["severity"],
        }
        for row in finding_rows
        for action in index.actions_by_finding.get(row["id"], [])
    ]
    body: dict[str, Any] = {
        "study": study_entry(index),
        "metrics": [m.to_dict(index) for m in _headline(index, visits, tally, needed, elapsed)],
        "findings": finding_rows,
        "effort_curve": _effort_curve(index, tally, stages),
        "scores_by_channel": [
            {"channel": channel, "score": _dict(score, index)}
            for channel in CHANNELS
            if (score := checklist_score(tally.answers_by_channel.get(channel, []))) is not None
        ],
        "scores_by_stage": [
            {"stage": stage, "score": _dict(score, index)}
            for stage in stages
            if (score := checklist_score(tally.answers_by_stage.get(stage, []))) is not None
        ],
        "action_plan": action_plan,
        "journeys": journeys,
        "visits": visit_rows,
        "problems": [p.to_dict() for p in check_study_citations(index)],
        "gaps": gaps_of(index, visits),
    }
    # Only the photos findings cite are embedded, so a large study stays a small file.
    shown = {c.evidence_id for finding in findings for c in finding.citations}
    body["evidence"] = evidence_catalog(index, body, visits, cited_only=True, embed=shown)
    return Journal("study", index.study.id, index.study.name, body)
