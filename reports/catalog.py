"""One pass over a study record that indexes everything by id, so compiling stays linear."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, TypeVar

from reports.data import Action, Finding, Moment, StudyRecord, Visit
from reports.evidence import (
    CallMetrics,
    Citation,
    EvidenceItem,
    TextSpan,
    TimeSpan,
    Transcript,
    TranscriptSegment,
    WebStep,
    span_to_dict,
)


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Identified)


def _by_id(items: Iterable[T], what: str) -> dict[str, T]:
    table: dict[str, T] = {}
    for item in items:
        key = item.id
        if key in table:
            raise ValueError(f"duplicate {what} id {key!r}")
        table[key] = item
    return table


@dataclass(frozen=True, slots=True)
class Excerpt:
    """Words taken from a transcript or note, with the recording time they start at."""

    text: str
    speaker: str | None
    at: float | None


class TranscriptView:
    """Find the segments and characters of one transcript by time or by character range."""

    def __init__(self, transcript: Transcript) -> None:
        self.segments: list[TranscriptSegment] = sorted(
            transcript.segments, key=lambda s: (s.start, s.end)
        )
        self.text = "\n".join(segment.text for segment in transcript.segments)
        # Character offsets follow the order the segments were given in (that is the text).
        self._offsets: list[int] = []
        offset = 0
        for segment in transcript.segments:
            self._offsets.append(offset)
            offset += len(segment.text) + 1
        self._by_offset = list(transcript.segments)
        self._starts = [segment.start for segment in self.segments]
        # A running maximum of segment ends lets one bisection find the first overlap.
        self._reach: list[float] = []
        reach = -math.inf
        for segment in self.segments:
            reach = max(reach, segment.end)
            self._reach.append(reach)

    def at_time(self, span: TimeSpan) -> Excerpt | None:
        """Return the words spoken during a time span, or None when nothing was said."""
        low = bisect_right(self._reach, span.start)
        high = bisect_left(self._starts, span.end)
        hits = [s for s in self.segments[low:high] if s.end > span.start]
        if not hits:
            return None
        return Excerpt(" ".join(s.text.strip() for s in hits), hits[0].speaker, span.start)

    def at_text(self, span: TextSpan) -> Excerpt | None:
        """Return a character range of the transcript text with the time it was spoken."""
        text = self.text[span.start : span.end]
        if not text.strip() or not self._by_offset:
            return None
        index = max(bisect_right(self._offsets, span.start) - 1, 0)
        segment = self._by_offset[index]
        return Excerpt(text.strip(), segment.speaker, segment.start)


class StudyIndex:
    """Everything in a study record, indexed by id and grouped by visit and journey."""

    def __init__(self, record: StudyRecord) -> None:
        self.record = record
        self.study = record.study
        self.visits = _by_id(record.visits, "visit")
        self.journeys = _by_id(record.journeys, "journey")
        self.findings = _by_id(record.findings, "finding")
        # Evidence of visits outside this study is left out, so citing it is caught.
        self.evidence = _by_id(
            (item for item in record.evidence if item.visit_id in self.visits), "evidence"
        )
        self.transcripts: dict[str, Transcript] = {t.evidence_id: t for t in record.transcripts}
        self.call_metrics: dict[str, CallMetrics] = {
            m.evidence_id: m for m in record.call_metrics if m.evidence_id in self.evidence
        }
        self._transcript_views: dict[str, TranscriptView] = {}
        self._citation_entries: dict[Citation, dict[str, Any]] = {}

        evidence_by_visit: defaultdict[str, list[EvidenceItem]] = defaultdict(list)
        for item in self.evidence.values():
            evidence_by_visit[item.visit_id].append(item)
        for items in evidence_by_visit.values():
            items.sort(key=lambda item: (item.captured_at, item.id))
        self.evidence_by_visit: dict[str, list[EvidenceItem]] = dict(evidence_by_visit)

        # Each visit's analysed calls in capture order, found from the few calls rather
        # than by looking every item of the study up.
        calls: defaultdict[str, list[CallMetrics]] = defaultdict(list)
        for call in self.call_metrics.values():
            calls[self.evidence[call.evidence_id].visit_id].append(call)
        for visit_calls in calls.values():
            visit_calls.sort(key=self._capture_order)
        self.calls_by_visit: dict[str, list[CallMetrics]] = dict(calls)

        steps: defaultdict[str, list[WebStep]] = defaultdict(list)
        for step in record.web_steps:
            if step.visit_id in self.visits:
                steps[step.visit_id].append(step)
        for visit_steps in steps.values():
            visit_steps.sort(key=lambda step: (step.number, step.screenshot_evidence_id))
        self.web_steps_by_visit: dict[str, list[WebStep]] = dict(steps)

        moments: defaultdict[str, list[Moment]] = defaultdict(list)
        for moment in record.moments:
            if moment.visit_id in self.visits:
                moments[moment.visit_id].append(moment)
        for visit_id, visit_moments in moments.items():
            visit = self.visits[visit_id]
            visit_moments.sort(key=lambda m: (m.time_in(visit), m.id))
        self.moments_by_visit: dict[str, list[Moment]] = dict(moments)

        journey_visits: defaultdict[str, list[Visit]] = defaultdict(list)
        for visit in self.visits.values():
            if visit.journey_id is not None:
                journey_visits[visit.journey_id].append(visit)
        for members in journey_visits.values():
            members.sort(key=_journey_order)
        self.visits_by_journey: dict[str, list[Visit]] = dict(journey_visits)

        findings_by_visit: defaultdict[str, list[Finding]] = defaultdict(list)
        for finding in self.findings.values():
            for visit_id in dict.fromkeys(finding.visit_ids):
                findings_by_visit[visit_id].append(finding)
        self.findings_by_visit: dict[str, list[Finding]] = dict(findings_by_visit)

        actions: defaultdict[str, list[Action]] = defaultdict(list)
        for action in record.actions:
            actions[action.finding_id].append(action)
        for finding_actions in actions.values():
            finding_actions.sort(key=lambda a: (a.due_on is None, a.due_on or date.min, a.id))
        self.actions_by_finding: dict[str, list[Action]] = dict(actions)

    def start_journal(self) -> None:
        """Begin compiling a journal: forget the citations earlier journals made."""
        self._citation_entries = {}

    def cited_evidence_ids(self) -> set[str]:
        """Return the ids of the evidence cited since the journal began.

        Every citation a journal shows is made by ``citation_entry``, so this is the set a
        walk over the finished journal would find, without walking it.
        """
        return {citation.evidence_id for citation in self._citation_entries}

    def _capture_order(self, call: CallMetrics) -> tuple[object, str]:
        item = self.evidence[call.evidence_id]
        return (item.captured_at, item.id)

    def ordered_visits(self) -> list[Visit]:
        """Return the study's visits by start time."""
        return sorted(self.visits.values(), key=lambda v: (v.started_at, v.id))

    def visit_evidence(self, visit_id: str) -> list[EvidenceItem]:
        """Return a visit's evidence by capture time."""
        return self.evidence_by_visit.get(visit_id, [])

    def citation_entry(self, citation: Citation) -> dict[str, Any]:
        """Return the journal form of a citation, naming the kind of item it points at.

        Entries are shared between the places that cite the same span, so a study journal
        does not hold thousands of copies; journal bodies are never modified after compiling.
        """
        entry = self._citation_entries.get(citation)
        if entry is None:
            item = self.evidence.get(citation.evidence_id)
            entry = self._citation_entries[citation] = {
                "evidence_id": citation.evidence_id,
                "kind": item.kind if item is not None else None,
                "span": span_to_dict(citation.span),
            }
        return entry

    def transcript_view(self, evidence_id: str) -> TranscriptView | None:
        """Return the searchable transcript of an audio item, built once."""
        view = self._transcript_views.get(evidence_id)
        if view is None:
            transcript = self.transcripts.get(evidence_id)
            if transcript is None:
                return None
            view = self._transcript_views[evidence_id] = TranscriptView(transcript)
        return view


def _journey_order(visit: Visit) -> tuple[bool, int, object, str]:
    position = visit.journey_position
    return (position is None, position or 0, visit.started_at, visit.id)
