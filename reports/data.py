"""The research record as plain data: studies, journeys, visits, moments, findings, actions.

The server adapts its rows into these types; nothing here knows about a database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, get_args

from reports.evidence import (
    CallMetrics,
    Citation,
    EvidenceItem,
    Transcript,
    WebStep,
    require_utc,
    seconds_after,
)

Channel = Literal["in_person", "phone", "web"]
VisitStatus = Literal["draft", "submitted", "in_review", "approved", "returned"]
FindingKind = Literal["pain_point", "root_cause", "bright_spot"]
ActionStatus = Literal["open", "in_progress", "done", "dropped"]

CHANNELS: tuple[str, ...] = get_args(Channel)
SEVERITY_NAMES = {1: "minor", 2: "moderate", 3: "serious", 4: "severe", 5: "critical"}


def _require_choice(value: str, choices: tuple[str, ...], name: str) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, not {value!r}")


@dataclass(frozen=True, slots=True)
class Study:
    """One research programme; `stages` are the journey stages in the customer's order."""

    id: str
    name: str
    company: str = ""
    stages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Journey:
    """One customer case across channels; `resolved_at` is set once the case was resolved."""

    id: str
    title: str
    scenario: str = ""
    resolved_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.resolved_at is not None:
            require_utc(self.resolved_at, "resolved_at")


@dataclass(frozen=True, slots=True)
class ChecklistAnswer:
    """A researcher's answer to one checklist question, scored out of `max_score`."""

    question_id: str
    question: str
    score: float
    max_score: float
    citations: tuple[Citation, ...] = ()

    def __post_init__(self) -> None:
        if not (math.isfinite(self.score) and math.isfinite(self.max_score)):
            raise ValueError("checklist scores must be finite")
        if self.max_score <= 0 or not 0 <= self.score <= self.max_score:
            raise ValueError("checklist score must lie in 0..max_score with max_score > 0")


@dataclass(frozen=True, slots=True)
class Visit:
    """What happened when a researcher experienced the company through one channel."""

    id: str
    channel: Channel
    researcher: str
    target_name: str
    started_at: datetime
    ended_at: datetime | None = None
    status: VisitStatus = "draft"
    stage: str = ""
    journey_id: str | None = None
    journey_position: int | None = None
    checklist: tuple[ChecklistAnswer, ...] = ()

    def __post_init__(self) -> None:
        _require_choice(self.channel, CHANNELS, "channel")
        _require_choice(self.status, get_args(VisitStatus), "status")
        require_utc(self.started_at, "started_at")
        if self.ended_at is not None:
            require_utc(self.ended_at, "ended_at")
            if self.ended_at < self.started_at:
                raise ValueError("ended_at is before started_at")


@dataclass(frozen=True, slots=True)
class Moment:
    """A point on a visit's timeline, at `at` or `offset_s` seconds after the visit started."""

    id: str
    visit_id: str
    what_happened: str
    stage: str = ""
    at: datetime | None = None
    offset_s: float | None = None
    sentiment: int | None = None
    effort: int | None = None
    citations: tuple[Citation, ...] = ()

    def __post_init__(self) -> None:
        if self.at is not None:
            require_utc(self.at, "at")
        if self.sentiment is not None and not -2 <= self.sentiment <= 2:
            raise ValueError("sentiment must lie in -2..2")
        if self.effort is not None and not 1 <= self.effort <= 5:
            raise ValueError("effort must lie in 1..5")

    def time_in(self, visit: Visit) -> datetime:
        """Return when the moment happened, falling back to the visit's start."""
        if self.at is not None:
            return self.at
        return seconds_after(visit.started_at, self.offset_s or 0.0)


@dataclass(frozen=True, slots=True)
class Finding:
    """A claim across visits; severity runs from 1 (minor) to 5 (critical)."""

    id: str
    kind: FindingKind
    severity: int
    title: str
    body: str = ""
    citations: tuple[Citation, ...] = ()
    visit_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_choice(self.kind, get_args(FindingKind), "kind")
        if self.severity not in SEVERITY_NAMES:
            raise ValueError("severity must lie in 1..5")


@dataclass(frozen=True, slots=True)
class Action:
    """What will be done about a finding, by whom and by when."""

    id: str
    finding_id: str
    title: str
    owner: str = ""
    due_on: date | None = None
    status: ActionStatus = "open"
    outcome: str = ""

    def __post_init__(self) -> None:
        _require_choice(self.status, get_args(ActionStatus), "status")


@dataclass(frozen=True, slots=True)
class StudyRecord:
    """Everything recorded in one study, as the compilers take it."""

    study: Study
    visits: tuple[Visit, ...]
    evidence: tuple[EvidenceItem, ...] = ()
    journeys: tuple[Journey, ...] = ()
    transcripts: tuple[Transcript, ...] = ()
    call_metrics: tuple[CallMetrics, ...] = ()
    web_steps: tuple[WebStep, ...] = ()
    moments: tuple[Moment, ...] = ()
    findings: tuple[Finding, ...] = ()
    actions: tuple[Action, ...] = ()
