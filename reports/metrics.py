"""Experience metrics computed from evidence; every number keeps the citations it came from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reports.catalog import StudyIndex
from reports.data import ChecklistAnswer, Journey, Visit
from reports.evidence import (
    CallMetrics,
    Citation,
    EvidenceItem,
    TimeSpan,
    WebStep,
    joined_citations,
    ordered_citations,
    seconds_after,
    span_to_dict,
)


@dataclass(frozen=True, slots=True)
class Metric:
    """A number with its unit and the evidence it was computed from."""

    name: str
    value: float
    unit: str
    citations: tuple[Citation, ...]
    basis: str = ""

    def to_dict(self, index: StudyIndex | None = None) -> dict[str, Any]:
        """Return the journal form; with an index, citations also name the item's kind."""
        citations = [citation_to_dict(c, index) for c in self.citations]
        return metric_entry(self.name, self.value, self.unit, self.basis, citations)


def metric_entry(
    name: str, value: float, unit: str, basis: str, citations: list[dict[str, Any]]
) -> dict[str, Any]:
    """Return the journal form of a number whose citations are in journal form already."""
    return {"name": name, "value": value, "unit": unit, "basis": basis, "citations": citations}


def citation_to_dict(citation: Citation, index: StudyIndex | None = None) -> dict[str, Any]:
    """Return the journal form of a citation; with an index it also names the item's kind."""
    if index is not None:
        return index.citation_entry(citation)
    return {"evidence_id": citation.evidence_id, "kind": None, "span": span_to_dict(citation.span)}


def _metric(
    name: str, value: float, unit: str, citations: Iterable[Citation], basis: str = ""
) -> Metric:
    return Metric(name, round(float(value), 2), unit, ordered_citations(citations), basis)


def _whole(item: EvidenceItem) -> Citation:
    return Citation(item.id)


def _call_metric(
    name: str, unit: str, calls: Sequence[CallMetrics], spans_of: str, *, timed: bool
) -> Metric | None:
    """Sum what call analysis found; cite each occurrence, or the whole call when none."""
    if not calls:
        return None
    total = 0.0
    citations: list[Citation] = []
    for call in calls:
        found = getattr(call, spans_of)
        for occurrence in found:
            total += (occurrence.end - occurrence.start) if timed else 1
            citations.append(Citation(call.evidence_id, TimeSpan(occurrence.start, occurrence.end)))
        if not found:
            citations.append(Citation(call.evidence_id))
    return _metric(name, total, unit, citations)


def hold_and_wait_time(calls: Sequence[CallMetrics]) -> Metric | None:
    """Return the seconds spent on hold or queuing across calls."""
    return _call_metric("hold_and_wait_time", "seconds", calls, "holds", timed=True)


def transfers(calls: Sequence[CallMetrics]) -> Metric | None:
    """Return how many times calls were handed on."""
    return _call_metric("transfers", "count", calls, "transfers", timed=False)


def repeats(calls: Sequence[CallMetrics]) -> Metric | None:
    """Return how many times the customer had to repeat information."""
    return _call_metric("repeats", "count", calls, "repeats", timed=False)


def web_steps(steps: Sequence[WebStep]) -> Metric | None:
    """Return how many steps a website visit took, citing each step's screenshot."""
    if not steps:
        return None
    return _metric(
        "web_steps", len(steps), "steps", (Citation(s.screenshot_evidence_id) for s in steps)
    )


def web_errors(steps: Sequence[WebStep]) -> Metric | None:
    """Return how many website steps failed; with none, cite every step that was checked."""
    if not steps:
        return None
    failed = [s for s in steps if s.error]
    cited = failed or steps
    return _metric(
        "web_errors", len(failed), "errors", (Citation(s.screenshot_evidence_id) for s in cited)
    )


@dataclass(frozen=True, slots=True)
class ChecklistTotal:
    """Points scored and possible on cited checklist answers, with their citations in order."""

    score: float
    maximum: float
    citations: tuple[Citation, ...]

    @property
    def percent(self) -> float:
        """Return the score as a percentage of the maximum, rounded like every metric."""
        return _percent(self.score, self.maximum)


def _percent(score: float, maximum: float) -> float:
    return round(100 * score / maximum, 2)


def checklist_entry(
    score: float, maximum: float, citations: list[dict[str, Any]]
) -> dict[str, Any]:
    """Return the journal form of a checklist score whose citations are in journal form."""
    return metric_entry("checklist_score", _percent(score, maximum), "percent", "", citations)


def checklist_total(answers: Iterable[ChecklistAnswer]) -> ChecklistTotal | None:
    """Add up the cited answers; uncited answers do not count. None when none is cited."""
    score = maximum = 0.0
    citations: list[Citation] = []
    for answer in answers:
        if answer.citations:
            score += answer.score
            maximum += answer.max_score
            citations.extend(answer.citations)
    if maximum == 0:
        return None
    return ChecklistTotal(score, maximum, ordered_citations(citations))


def checklist_score(answers: Iterable[ChecklistAnswer]) -> Metric | None:
    """Return the percentage scored on cited checklist answers; uncited answers do not count."""
    total = checklist_total(answers)
    if total is None:
        return None
    return Metric("checklist_score", total.percent, "percent", total.citations)


def calls_of(index: StudyIndex, visits: Iterable[Visit]) -> list[CallMetrics]:
    """Return the analysed calls recorded during the given visits, in capture order."""
    return [call for visit in visits for call in index.calls_by_visit.get(visit.id, ())]


def visit_metrics(index: StudyIndex, visit: Visit) -> list[Metric]:
    """Return the metrics of one visit that its evidence supports."""
    calls = calls_of(index, [visit])
    steps = index.web_steps_by_visit.get(visit.id, [])
    candidates = (
        hold_and_wait_time(calls),
        transfers(calls),
        repeats(calls),
        web_steps(steps),
        web_errors(steps),
        checklist_score(visit.checklist),
    )
    return [metric for metric in candidates if metric is not None]


@dataclass(frozen=True, slots=True)
class Contacts:
    """The evidenced contacts of a journey and the one that resolved it, if any."""

    visits: list[Visit]
    resolved_by: Visit | None


def journey_contacts(index: StudyIndex, journey: Journey) -> Contacts:
    """Return the journey's evidenced contacts, up to its resolution when it was resolved."""
    members = [v for v in index.visits_by_journey.get(journey.id, []) if index.visit_evidence(v.id)]
    if journey.resolved_at is None:
        return Contacts(members, None)
    resolved_at = journey.resolved_at
    before = [v for v in members if v.started_at <= resolved_at]
    return Contacts(before, before[-1] if before else None)


def contacts_needed(index: StudyIndex, contacts: Contacts) -> Metric | None:
    """Return how many contacts the case took, citing the first capture of each contact."""
    if not contacts.visits:
        return None
    name = "contacts_needed" if contacts.resolved_by is not None else "contacts_made"
    firsts = (_whole(index.visit_evidence(v.id)[0]) for v in contacts.visits)
    return _metric(name, len(contacts.visits), "contacts", firsts)


def channels_used(index: StudyIndex, contacts: Contacts) -> Metric | None:
    """Return how many channels the case went through, citing the first capture per channel."""
    first_by_channel: dict[str, EvidenceItem] = {}
    for visit in contacts.visits:
        first_by_channel.setdefault(visit.channel, index.visit_evidence(visit.id)[0])
    if not first_by_channel:
        return None
    return _metric(
        "channels_used", len(first_by_channel), "channels", map(_whole, first_by_channel.values())
    )


def elapsed_to_resolution(index: StudyIndex, contacts: Contacts) -> Metric | None:
    """Return the time from the first capture to the end of the last capture that resolved it."""
    if contacts.resolved_by is None:
        return None
    first = index.visit_evidence(contacts.visits[0].id)[0]
    last = max(index.visit_evidence(contacts.resolved_by.id), key=_capture_end)
    seconds = max((_capture_end(last) - first.captured_at).total_seconds(), 0.0)
    return _metric("elapsed_to_resolution", seconds, "seconds", (_whole(first), _whole(last)))


def _capture_end(item: EvidenceItem) -> datetime:
    return seconds_after(item.captured_at, item.duration_s or 0.0)


def journey_metrics(index: StudyIndex, journey: Journey) -> list[Metric]:
    """Return the metrics of one journey across all its channels."""
    contacts = journey_contacts(index, journey)
    visits = index.visits_by_journey.get(journey.id, [])
    calls = calls_of(index, visits)
    steps = [step for visit in visits for step in index.web_steps_by_visit.get(visit.id, [])]
    candidates = (
        contacts_needed(index, contacts),
        channels_used(index, contacts),
        elapsed_to_resolution(index, contacts),
        hold_and_wait_time(calls),
        transfers(calls),
        repeats(calls),
        web_steps(steps),
        web_errors(steps),
        checklist_score(answer for visit in visits for answer in visit.checklist),
    )
    return [metric for metric in candidates if metric is not None]


def mean_metric(metrics: Sequence[Metric], basis: str) -> Metric | None:
    """Return the mean of like metrics, keeping every citation behind them."""
    if not metrics:
        return None
    value = sum(metric.value for metric in metrics) / len(metrics)
    citations = joined_citations(metric.citations for metric in metrics)
    return Metric(metrics[0].name, round(float(value), 2), metrics[0].unit, citations, basis)
