"""What the viewer's pages read, always through ``access.scoped`` so studies stay apart.

The services answer one object at a time; pages need tallies and batches (every item of
a visit with its jobs and transcript in a few queries, not one per photo). Those reads
live here. The one write, a review comment, waits here for a home in the visit service.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa

from server.extensions import db
from server.models import (
    Action,
    AuditEvent,
    Citation,
    Evidence,
    EvidenceKind,
    EvidenceStatus,
    Finding,
    Job,
    JobStatus,
    Journey,
    Moment,
    ReviewComment,
    Role,
    Study,
    Target,
    Transcript,
    User,
    Visit,
    VisitStatus,
)
from server.services import access, audit, transcripts, visits

CHANNELS = ("in_person", "phone", "web")
PHOTO_KINDS = frozenset({EvidenceKind.photo, EvidenceKind.screenshot})
OPEN_ACTION_STATES = ("open", "in_progress")
JOB_NAMES = {"evidence.process": "Processing", "transcription.transcribe": "Transcribing"}
SCALE_MAX = 5  # scale questions are answered 1 (worst) to 5 (best)


# ----------------------------------------------------------------------------- studies


@dataclass
class StudyCard:
    """A study on the studies list, with what waits in it."""

    study: Study
    role: Role | None
    visits: int
    to_review: int
    open_findings: int


def study_cards(user: User) -> list[StudyCard]:
    """List the user's studies with their visit and finding counts."""
    studies = list(
        db.session.scalars(
            access.scoped(Study, user)
            .where(Study.archived_at.is_(None))
            .order_by(Study.name, Study.id)
        )
    )
    ids = [s.id for s in studies]
    visit_counts = _count_by(
        access.scoped(Visit, user).where(Visit.study_id.in_(ids)), Visit.study_id
    )
    waiting = _count_by(
        access.scoped(Visit, user).where(
            Visit.study_id.in_(ids),
            Visit.status.in_([VisitStatus.submitted, VisitStatus.in_review]),
        ),
        Visit.study_id,
    )
    findings = _count_by(
        access.scoped(Finding, user).where(Finding.study_id.in_(ids), Finding.status == "open"),
        Finding.study_id,
    )
    return [
        StudyCard(
            s,
            access.role_in(user, s.id),
            visit_counts.get(s.id, 0),
            waiting.get(s.id, 0),
            findings.get(s.id, 0),
        )
        for s in studies
    ]


def _count_by(query: sa.Select[Any], column: Any, distinct: Any = None) -> dict[Any, int]:
    counted = sa.func.count(sa.distinct(distinct)) if distinct is not None else sa.func.count()
    rows = db.session.execute(query.with_only_columns(column, counted).group_by(column))
    return {key: int(count) for key, count in rows}


@dataclass
class Tallies:
    """Visits of a study counted three ways."""

    by_channel: dict[str, int]
    by_status: dict[str, int]
    by_stage: list[tuple[str, int]]
    total: int


def visit_tallies(user: User, study: Study) -> Tallies:
    """Count the visible visits of a study by channel, status and journey stage.

    A visit counts toward a stage when one of its moments is marked with that stage.
    """
    visible = access.scoped(Visit, user).where(Visit.study_id == study.id)
    by_channel = {str(k): v for k, v in _count_by(visible, Visit.channel).items()}
    by_status = {str(k): v for k, v in _count_by(visible, Visit.status).items()}
    staged = _count_by(
        access.scoped(Moment, user).where(Moment.study_id == study.id, Moment.stage != ""),
        Moment.stage,
        distinct=Moment.visit_id,
    )
    order = list(study.journey_stages or [])
    stages = [(s, staged.pop(s, 0)) for s in order] + sorted(staged.items())
    return Tallies(by_channel, by_status, stages, sum(by_channel.values()))


# ----------------------------------------------------------------------------- checklist


def answer_score(kind: str, value: Any) -> float | None:
    """Score one checklist answer from 0 to 1; None when it does not score.

    Yes/no questions score 1 for yes and 0 for no; scale questions run from 1 (0) to
    ``SCALE_MAX`` (1); free-text questions never score.
    """
    if kind == "yes_no":
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        if isinstance(value, str) and value.strip().lower() in {"yes", "y", "true"}:
            return 1.0
        if isinstance(value, str) and value.strip().lower() in {"no", "n", "false"}:
            return 0.0
        return None
    if kind == "scale" and isinstance(value, int | float) and not isinstance(value, bool):
        clipped = min(max(float(value), 1.0), float(SCALE_MAX))
        return (clipped - 1.0) / (SCALE_MAX - 1)
    return None


@dataclass
class Score:
    """A weighted mean score (0-100) and how many visits it rests on."""

    total: float = 0.0
    weight: float = 0.0
    visits: set[uuid.UUID] = field(default_factory=set)

    def add(self, visit_id: uuid.UUID, score: float, weight: float) -> None:
        """Count one scored answer."""
        self.total += score * weight
        self.weight += weight
        self.visits.add(visit_id)

    @property
    def percent(self) -> float | None:
        """Return the score in percent, or None when nothing was scored."""
        return None if self.weight <= 0 else 100.0 * self.total / self.weight


@dataclass
class ChecklistTable:
    """Checklist scores by channel: one row per question and an overall row."""

    channels: list[str]
    questions: list[dict[str, Any]]
    cells: dict[tuple[str, str], Score]
    overall: dict[str, Score]


def checklist_scores(user: User, study: Study) -> ChecklistTable:
    """Score each checklist question by channel over the visible visits of a study."""
    questions = [q for q in study.checklist or [] if q.get("kind", "yes_no") != "text"]
    rows = db.session.execute(
        access.scoped(Visit, user)
        .where(Visit.study_id == study.id)
        .with_only_columns(Visit.id, Visit.channel, Visit.checklist_answers)
    )
    cells: dict[tuple[str, str], Score] = defaultdict(Score)
    overall: dict[str, Score] = defaultdict(Score)
    for visit_id, channel, answers in rows:
        for question in questions:
            if question["key"] not in (answers or {}):
                continue
            score = answer_score(question.get("kind", "yes_no"), answers[question["key"]])
            if score is None:
                continue
            weight = float(question.get("weight", 1.0))
            cells[(question["key"], str(channel))].add(visit_id, score, weight)
            overall[str(channel)].add(visit_id, score, weight)
    channels = [c for c in CHANNELS if c in (study.channels or CHANNELS) or c in overall]
    return ChecklistTable(channels, questions, dict(cells), dict(overall))


# ----------------------------------------------------------------------------- visit lists


def visit_list(user: User, study: Study, filters: dict[str, Any]) -> list[Visit]:
    """List the visible visits of a study with the dashboard's filters applied.

    ``stage`` keeps visits with a moment at that stage; ``answered`` keeps visits that
    answered that checklist question with a scoring answer (``any``: any question).
    """
    query = visits.list_query(user, study, filters)
    if filters.get("stage"):
        staged = access.scoped(Moment, user).where(
            Moment.study_id == study.id, Moment.stage == filters["stage"]
        )
        query = query.where(Visit.id.in_(staged.with_only_columns(Moment.visit_id)))
    rows = cast(list[Visit], list(db.session.scalars(query.limit(1000))))
    wanted = filters.get("answered")
    if not wanted:
        return rows
    kinds = {q["key"]: q.get("kind", "yes_no") for q in study.checklist or []}
    keys = set(kinds) if wanted == "any" else {wanted}
    return [
        v
        for v in rows
        if any(
            k in (v.checklist_answers or {})
            and answer_score(kinds.get(k, ""), v.checklist_answers[k]) is not None
            for k in keys
        )
    ]


def users_by_id(ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, User]:
    """Load the named users (authors, researchers) in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(wanted)))}


def visit_scores(study: Study, rows: Sequence[Visit]) -> dict[uuid.UUID, float | None]:
    """Return each visit's weighted checklist score in percent."""
    questions = [q for q in study.checklist or [] if q.get("kind", "yes_no") != "text"]
    scores: dict[uuid.UUID, float | None] = {}
    for visit in rows:
        score = Score()
        for question in questions:
            value = (visit.checklist_answers or {}).get(question["key"])
            points = answer_score(question.get("kind", "yes_no"), value)
            if points is not None:
                score.add(visit.id, points, float(question.get("weight", 1.0)))
        scores[visit.id] = score.percent
    return scores


# ----------------------------------------------------------------------------- findings


@dataclass
class FindingView:
    """A finding with its citations and actions."""

    finding: Finding
    citations: list[Citation]
    actions: list[Action]


def finding_views(user: User, study: Study, *, open_only: bool = False) -> list[FindingView]:
    """List a study's findings, most severe first, with citations and actions batched."""
    query = access.scoped(Finding, user).where(Finding.study_id == study.id)
    if open_only:
        query = query.where(Finding.status == "open")
    rows = list(
        db.session.scalars(query.order_by(Finding.severity.desc(), Finding.created_at, Finding.id))
    )
    ids = [f.id for f in rows]
    citations: dict[uuid.UUID, list[Citation]] = defaultdict(list)
    actions: dict[uuid.UUID, list[Action]] = defaultdict(list)
    if ids:
        for citation in db.session.scalars(
            sa.select(Citation)
            .where(Citation.finding_id.in_(ids))
            .order_by(Citation.created_at, Citation.id)
        ):
            citations[citation.finding_id].append(citation)  # type: ignore[index]
        for action in db.session.scalars(
            sa.select(Action).where(Action.finding_id.in_(ids)).order_by(Action.created_at)
        ):
            actions[action.finding_id].append(action)
    return [FindingView(f, citations[f.id], actions[f.id]) for f in rows]


def open_actions(user: User, study: Study) -> list[tuple[Action, Finding]]:
    """List the actions still to do, soonest due first, with their findings."""
    rows = db.session.execute(
        access.scoped(Action, user)
        .where(Action.study_id == study.id, Action.status.in_(OPEN_ACTION_STATES))
        .join(Finding, Finding.id == Action.finding_id)
        .add_columns(Finding)
        .order_by(Action.due_on.is_(None), Action.due_on, Action.created_at)
    )
    return [(action, finding) for action, finding in rows]


def recent_activity(study: Study, limit: int = 15) -> list[AuditEvent]:
    """Return the study's newest audit events."""
    return list(db.session.scalars(audit.events(study_id=study.id).limit(limit)))


@dataclass
class JourneyCard:
    """A journey with how many visits it has so far."""

    journey: Journey
    visits: int
    channels: list[str]


def journey_cards(user: User, study: Study) -> list[JourneyCard]:
    """List a study's journeys with their visible visits counted."""
    journeys = list(
        db.session.scalars(
            access.scoped(Journey, user)
            .where(Journey.study_id == study.id)
            .order_by(Journey.created_at, Journey.id)
        )
    )
    rows = db.session.execute(
        access.scoped(Visit, user)
        .where(Visit.study_id == study.id, Visit.journey_id.is_not(None))
        .with_only_columns(Visit.journey_id, Visit.channel)
    )
    counts: dict[uuid.UUID, int] = defaultdict(int)
    channels: dict[uuid.UUID, set[str]] = defaultdict(set)
    for journey_id, channel in rows:
        if journey_id is None:
            continue
        counts[journey_id] += 1
        channels[journey_id].add(str(channel))
    return [
        JourneyCard(j, counts[j.id], [c for c in CHANNELS if c in channels[j.id]]) for j in journeys
    ]


# ----------------------------------------------------------------------------- evidence


@dataclass
class ItemView:
    """One evidence item as a page shows it: its jobs, its transcript, where it stands."""

    item: Evidence
    jobs: list[Job]
    transcript: dict[str, Any] | None
    number: int = 0

    @property
    def is_photo(self) -> bool:
        """Tell whether the item shows as a picture."""
        return self.item.kind in PHOTO_KINDS

    @property
    def pending(self) -> bool:
        """Tell whether work on the item is still to come (the page keeps asking)."""
        waiting = {EvidenceStatus.receiving, EvidenceStatus.stored, EvidenceStatus.processing}
        running = {JobStatus.queued, JobStatus.running}
        return self.item.status in waiting or any(j.status in running for j in self.jobs)

    @property
    def status_text(self) -> str:
        """Say where the item stands, e.g. "Transcribing 40%"."""
        for job in self.jobs:
            if job.status in (JobStatus.queued, JobStatus.running):
                name = JOB_NAMES.get(job.kind, job.kind)
                if job.status == JobStatus.queued:
                    return f"{name}: queued"
                return f"{name} {round(100 * (job.progress or 0))}%"
        if self.item.status == EvidenceStatus.failed:
            return f"Failed: {self.item.failure_reason or self.item.failure_code or 'unknown'}"
        failed = [j for j in self.jobs if j.status == JobStatus.failed]
        if failed:
            return f"{JOB_NAMES.get(failed[-1].kind, failed[-1].kind)} failed"
        if self.item.status != EvidenceStatus.ready:
            return "Processing: waiting"
        return "Ready"

    @property
    def progress(self) -> float | None:
        """Return the running job's progress (0-1), or None when nothing runs."""
        for job in self.jobs:
            if job.status == JobStatus.running:
                return float(job.progress or 0)
        return None

    @property
    def duration(self) -> float | None:
        """Return a recording's length in seconds, from probing or else from its transcript."""
        if self.item.duration_s:
            return float(self.item.duration_s)
        if self.transcript and self.transcript["segments"]:
            return float(self.transcript["segments"][-1]["end"])
        return None

    @property
    def has_display(self) -> bool:
        """Tell whether the GPS-free display copy and thumbnail exist."""
        return bool(self.item.derived.get("display") and self.item.derived.get("thumbnail"))


@dataclass
class Block:
    """Consecutive items shown together: a run of photos as one grid, anything else alone."""

    kind: str
    items: list[ItemView]


def item_views(user: User, items: Sequence[Evidence]) -> list[ItemView]:
    """Attach jobs and the newest redacted transcript to items, in three queries."""
    ids = [str(i.id) for i in items]
    jobs: dict[str, list[Job]] = defaultdict(list)
    if ids:
        for job in db.session.scalars(
            sa.select(Job)
            .where(Job.subject_type == "evidence", Job.subject_id.in_(ids))
            .order_by(Job.created_at, Job.id)
        ):
            jobs[job.subject_id].append(job)
    shas = {i.blob_sha256 for i in items if i.kind == EvidenceKind.audio and i.blob_sha256}
    newest: dict[str, Transcript] = {}
    if shas:
        for transcript in db.session.scalars(
            sa.select(Transcript)
            .where(Transcript.blob_sha256.in_(shas))
            .order_by(Transcript.created_at.desc(), Transcript.id)
        ):
            newest.setdefault(transcript.blob_sha256, transcript)
    views = []
    photos = 0
    for item in items:
        found = newest.get(item.blob_sha256 or "")
        view = ItemView(item, jobs[str(item.id)], transcripts.as_view(found) if found else None)
        if view.is_photo:
            photos += 1
            view.number = photos
        views.append(view)
    return views


def blocks(views: Sequence[ItemView]) -> list[Block]:
    """Group runs of photos into grids; every other item stands alone."""
    grouped: list[Block] = []
    for view in views:
        if view.is_photo and grouped and grouped[-1].kind == "photos":
            grouped[-1].items.append(view)
        else:
            grouped.append(Block("photos" if view.is_photo else view.item.kind.value, [view]))
    return grouped


def evidence_by_visit(
    user: User, visit_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Evidence]]:
    """Load the visible evidence of several visits in capture order, in one query."""
    grouped: dict[uuid.UUID, list[Evidence]] = defaultdict(list)
    if not visit_ids:
        return grouped
    for item in db.session.scalars(
        access.scoped(Evidence, user)
        .where(Evidence.visit_id.in_(list(visit_ids)))
        .order_by(Evidence.captured_at.is_(None), Evidence.captured_at, Evidence.created_at)
    ):
        grouped[item.visit_id].append(item)
    return grouped


# ----------------------------------------------------------------------------- visits


@dataclass
class MomentView:
    """A moment with its citations."""

    moment: Moment
    citations: list[Citation]


def moment_views(user: User, visit_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[MomentView]]:
    """Load the moments of visible visits in timeline order, with citations batched."""
    grouped: dict[uuid.UUID, list[MomentView]] = defaultdict(list)
    if not visit_ids:
        return grouped
    moments = list(
        db.session.scalars(
            access.scoped(Moment, user)
            .where(Moment.visit_id.in_(list(visit_ids)))
            .order_by(
                Moment.offset_s.is_(None), Moment.offset_s, Moment.occurred_at, Moment.created_at
            )
        )
    )
    citations: dict[uuid.UUID, list[Citation]] = defaultdict(list)
    if moments:
        for citation in db.session.scalars(
            sa.select(Citation)
            .where(Citation.moment_id.in_([m.id for m in moments]))
            .order_by(Citation.created_at, Citation.id)
        ):
            citations[citation.moment_id].append(citation)  # type: ignore[index]
    for moment in moments:
        grouped[moment.visit_id].append(MomentView(moment, citations[moment.id]))
    return grouped


def comments_of(visit: Visit) -> list[ReviewComment]:
    """List a visit's review comments, oldest first (the caller has access to the visit)."""
    return list(
        db.session.scalars(
            sa.select(ReviewComment)
            .where(ReviewComment.visit_id == visit.id)
            .order_by(ReviewComment.created_at, ReviewComment.id)
        )
    )


def next_states(user: User, visit: Visit) -> list[VisitStatus]:
    """Return the review moves the user may make on a visit now (reviewers' moves only)."""
    role = access.role_in(user, visit.study_id)
    if role not in (Role.reviewer, Role.manager):
        return []
    return [
        to
        for (before, to), roles in visits.TRANSITIONS.items()
        if before == visit.status and role.value in roles
    ]


def target_of(visit: Visit) -> Target | None:
    """Return the visit's target (a store, phone line or website), if any."""
    return db.session.get(Target, visit.target_id) if visit.target_id else None


def journey_of(visit: Visit) -> Journey | None:
    """Return the visit's journey, if any."""
    return db.session.get(Journey, visit.journey_id) if visit.journey_id else None


def journey_visits(user: User, journey: Journey) -> list[Visit]:
    """List a journey's visible visits in journey order, then by start time."""
    return list(
        db.session.scalars(
            access.scoped(Visit, user)
            .where(Visit.journey_id == journey.id)
            .order_by(
                Visit.journey_position.is_(None),
                Visit.journey_position,
                Visit.started_at.is_(None),
                Visit.started_at,
                Visit.created_at,
            )
        )
    )


def visit_titles(user: User, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Visit]:
    """Load the visible visits among ``ids`` (for labelling search hits and citations)."""
    wanted = set(ids)
    if not wanted:
        return {}
    return {
        v.id: v for v in db.session.scalars(access.scoped(Visit, user).where(Visit.id.in_(wanted)))
    }


def evidence_by_id(user: User, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Evidence]:
    """Load the visible evidence among ``ids``."""
    wanted = set(ids)
    if not wanted:
        return {}
    return {
        e.id: e
        for e in db.session.scalars(access.scoped(Evidence, user).where(Evidence.id.in_(wanted)))
    }
