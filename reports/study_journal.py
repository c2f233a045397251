"""Compile the study journal: ranked findings, scores, the effort curve and the action plan."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from reports.catalog import StudyIndex
from reports.citations import check_study_citations
from reports.collector import without_collector
from reports.compiler import evidence_catalog, gaps_of, index_of, study_entry
from reports.data import CHANNELS, Moment, StudyRecord, Visit
from reports.entries import (
    action_entry,
    finding_entries,
    moment_stage,
    ranked_findings,
    visit_entry,
)
from reports.evidence import Citation, WebStep, joined_citations, ordered_citations
from reports.journal import Journal, iso_time
from reports.metrics import (
    ChecklistTotal,
    Metric,
    calls_of,
    channels_used,
    checklist_entry,
    checklist_total,
    contacts_needed,
    elapsed_to_resolution,
    hold_and_wait_time,
    journey_contacts,
    mean_metric,
    metric_entry,
    repeats,
    transfers,
    web_errors,
    web_steps,
)


def _dict(metric: Metric | None, index: StudyIndex) -> dict[str, Any] | None:
    return metric.to_dict(index) if metric is not None else None


def ordered_stages(configured: Sequence[str], seen: Iterable[str]) -> list[str]:
    """Return the study's stages in journey order, then any others met, unnamed last."""
    extra = sorted(set(seen) - set(configured) - {""})
    tail = [""] if "" in set(seen) else []
    return [*configured, *extra, *tail]


class _Ratings:
    """The cited moments of one journey stage and their effort and sentiment, visit by visit.

    Each visit's citations are put in order once; the stage's figures join those groups
    in visit order, so the curve never sorts a large study's citations as a whole.
    """

    def __init__(self) -> None:
        self.moments = 0
        self.effort: list[int] = []
        self.sentiment: list[int] = []
        self.effort_cited: list[tuple[Citation, ...]] = []
        self.sentiment_cited: list[tuple[Citation, ...]] = []
        # while every moment is rated for both or neither, both figures cite the same
        self.same_moments = True

    def add_visit(self, moments: Iterable[Moment]) -> None:
        """Count the cited moments one visit had at this stage."""
        effort_cited: list[Citation] = []
        sentiment_cited: list[Citation] = []
        same = True
        for moment in moments:
            self.moments += 1
            if moment.effort is not None:
                self.effort.append(moment.effort)
                effort_cited.extend(moment.citations)
            if moment.sentiment is not None:
                self.sentiment.append(moment.sentiment)
                sentiment_cited.extend(moment.citations)
            same = same and (moment.effort is None) == (moment.sentiment is None)
        self.same_moments = self.same_moments and same
        efforts = ordered_citations(effort_cited)
        sentiments = efforts if same else ordered_citations(sentiment_cited)
        if efforts:
            self.effort_cited.append(efforts)
        if sentiments:
            self.sentiment_cited.append(sentiments)

    def entry(self, index: StudyIndex, stage: str) -> dict[str, Any]:
        """Return the stage's point on the effort curve."""
        effort = _mean("effort", self.effort, self.effort_cited)
        sentiment = _mean("sentiment", self.sentiment, self.sentiment_cited)
        effort_entry = _dict(effort, index)
        sentiment_entry: dict[str, Any] | None
        if effort_entry is not None and sentiment is not None and self.same_moments:
            # the same moments back both figures: their citations are listed once
            sentiment_entry = metric_entry(
                sentiment.name,
                sentiment.value,
                sentiment.unit,
                sentiment.basis,
                effort_entry["citations"],
            )
        else:
            sentiment_entry = _dict(sentiment, index)
        return {
            "stage": stage,
            "moments": self.moments,
            "effort": effort_entry,
            "sentiment": sentiment_entry,
        }


def _mean(name: str, values: Sequence[int], cited: Iterable[tuple[Citation, ...]]) -> Metric | None:
    if not values:
        return None
    mean = round(float(sum(values) / len(values)), 2)
    return Metric(name, mean, name, joined_citations(cited), "mean per moment")


class _Scores:
    """Checklist totals of several visits, each with its citations in journal form."""

    def __init__(self) -> None:
        self.score = self.maximum = 0.0
        self.citations: list[list[dict[str, Any]]] = []

    def add(self, total: ChecklistTotal, citations: list[dict[str, Any]]) -> None:
        """Count one visit's total, whose citations its own row already lists."""
        self.score += total.score
        self.maximum += total.maximum
        self.citations.append(citations)

    def entry(self) -> dict[str, Any] | None:
        """Return the combined score, citing each visit's answers in visit order.

        Each visit's citations are in order and in journal form already; they are joined
        as they are, the first of any repeat kept (one entry stands for one citation).
        """
        if self.maximum == 0:
            return None
        joined = {id(entry): entry for part in self.citations for entry in part}
        return checklist_entry(self.score, self.maximum, list(joined.values()))


class _Tally:
    """Group checklist totals and moment ratings by channel and stage in one pass."""

    def __init__(self) -> None:
        self.stages: dict[str, None] = {}
        self.scores = _Scores()
        self.scores_by_channel: defaultdict[str, _Scores] = defaultdict(_Scores)
        self.scores_by_stage: defaultdict[str, _Scores] = defaultdict(_Scores)
        self.ratings: defaultdict[str, _Ratings] = defaultdict(_Ratings)
        self.steps_by_web_visit: list[list[WebStep]] = []

    def add(self, index: StudyIndex, visit: Visit) -> dict[str, Any] | None:
        """Count one visit's checklist, moment ratings and website steps; return its score."""
        self.stages[visit.stage] = None
        total = checklist_total(visit.checklist)
        score = None
        if total is not None:
            citations = [index.citation_entry(c) for c in total.citations]
            score = checklist_entry(total.score, total.maximum, citations)
            for scores in (
                self.scores,
                self.scores_by_channel[visit.channel],
                self.scores_by_stage[visit.stage],
            ):
                scores.add(total, citations)
        steps = index.web_steps_by_visit.get(visit.id)
        if steps:
            self.steps_by_web_visit.append(steps)
        by_stage: defaultdict[str, list[Moment]] = defaultdict(list)
        for moment in index.moments_by_visit.get(visit.id, []):
            if moment.citations:
                by_stage[moment_stage(moment, visit)].append(moment)
        for stage, moments in by_stage.items():
            self.ratings[stage].add_visit(moments)
        return score


def _effort_curve(index: StudyIndex, tally: _Tally, stages: list[str]) -> list[dict[str, Any]]:
    return [tally.ratings[stage].entry(index, stage) for stage in stages if stage in tally.ratings]


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
) -> list[dict[str, Any]]:
    calls = calls_of(index, visits)
    per_call = [m for m in (hold_and_wait_time([call]) for call in calls) if m is not None]
    per_web_visit = [m for m in map(web_steps, tally.steps_by_web_visit) if m is not None]
    all_steps = [step for steps in tally.steps_by_web_visit for step in steps]
    candidates = (
        mean_metric(needed, "mean per resolved journey"),
        mean_metric(elapsed, "mean per resolved journey"),
        mean_metric(per_call, "mean per call"),
        transfers(calls),
        repeats(calls),
        mean_metric(per_web_visit, "mean per website visit"),
        web_errors(all_steps),
    )
    metrics = [metric.to_dict(index) for metric in candidates if metric is not None]
    checklist = tally.scores.entry()
    return metrics if checklist is None else [*metrics, checklist]


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
        visit_rows.append({**visit_entry(visit), "score": tally.add(index, visit)})

    stages = ordered_stages(index.study.stages, [*tally.stages, *tally.ratings])
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
        "metrics": _headline(index, visits, tally, needed, elapsed),
        "findings": finding_rows,
        "effort_curve": _effort_curve(index, tally, stages),
        "scores_by_channel": [
            {"channel": channel, "score": score}
            for channel in CHANNELS
            if channel in tally.scores_by_channel
            and (score := tally.scores_by_channel[channel].entry()) is not None
        ],
        "scores_by_stage": [
            {"stage": stage, "score": score}
            for stage in stages
            if stage in tally.scores_by_stage
            and (score := tally.scores_by_stage[stage].entry()) is not None
        ],
        "action_plan": action_plan,
        "journeys": journeys,
        "visits": visit_rows,
        "problems": [p.to_dict() for p in check_study_citations(index)],
        "gaps": gaps_of(index, visits),
    }
    # Only the photos findings cite are embedded, so a large study stays a small file.
    shown = {c.evidence_id for finding in findings for c in finding.citations}
    body["evidence"] = evidence_catalog(index, visits, cited_only=True, embed=shown)
    return Journal("study", index.study.id, index.study.name, body)
