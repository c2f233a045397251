"""Moments, findings, actions and the citations that tie them to evidence.

Citations are checked with the same integrity rules that publishing uses: evidence of
another study, or a span outside the item, is a 422 naming the offending citation.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

import reports
from server.errors import Forbidden, ValidationFailed
from server.extensions import db
from server.models import (
    Action,
    Citation,
    Finding,
    Moment,
    Role,
    SpanKind,
    Study,
    User,
    Visit,
    VisitStatus,
)
from server.services import access, audit, journal_data, studies
from server.services.idempotency import create_once

EDITABLE = frozenset({VisitStatus.draft, VisitStatus.returned})


def _citation_rows(study_id: uuid.UUID, specs: list[dict[str, Any]], field: str) -> list[Citation]:
    """Build citation rows from API input after checking them against the study's evidence."""
    rows = []
    for spec in specs:
        span = spec.get("span") or {}
        kind = SpanKind(span.get("type", "whole"))
        rows.append(
            Citation(
                study_id=study_id,
                evidence_id=spec["evidence_id"],
                span_kind=kind,
                start_s=span.get("start") if kind == SpanKind.time else None,
                end_s=span.get("end") if kind == SpanKind.time else None,
                x=span.get("x"),
                y=span.get("y"),
                w=span.get("w"),
                h=span.get("h"),
                char_start=span.get("start") if kind == SpanKind.text else None,
                char_end=span.get("end") if kind == SpanKind.text else None,
                quote=spec.get("quote", ""),
            )
        )
    evidence = journal_data.study_evidence(study_id, [r.evidence_id for r in rows])
    problems = reports.check_citations(
        [journal_data.citation(r) for r in rows], evidence, field=field
    )
    if problems:
        raise ValidationFailed(
            "Some citations do not point inside evidence of this study.",
            code=problems[0].code,
            errors={p.field: [f"{p.message} ({p.code})"] for p in problems},
        )
    return rows


def _may_mark(user: User, visit: Visit) -> None:
    """Moments are marked by the visit's researcher (while editable) or by reviewers."""
    role = access.role_in(user, visit.study_id)
    if role in (Role.reviewer, Role.manager):
        return
    if visit.researcher_id == user.id and visit.status in EDITABLE:
        return
    audit.record_now(
        "access.denied", study_id=visit.study_id, object_type="visit", object_id=visit.id
    )
    raise Forbidden("You may not mark moments on this visit.", code="moment.forbidden")


def create_moment(user: User, visit_id: uuid.UUID, data: dict[str, Any]) -> tuple[Moment, bool]:
    """Mark a moment on a visit's timeline, with its citations."""
    visit = access.get(Visit, visit_id, user)
    _may_mark(user, visit)
    specs = data.pop("citations", [])
    client_uuid = data.pop("client_uuid", None)
    rows = _citation_rows(visit.study_id, specs, "citations")

    def build() -> Moment:
        return Moment(study_id=visit.study_id, visit_id=visit.id, author_id=user.id, **data)

    moment, created = create_once(
        Moment,
        client_uuid,
        {**data, "citations": specs, "visit_id": str(visit.id)},
        build,
        visible=lambda m: m.visit_id == visit.id,
    )
    if created:
        for row in rows:
            row.moment_id = moment.id
            db.session.add(row)
        audit.record(
            "moment.create", study_id=visit.study_id, object_type="moment", object_id=moment.id
        )
    return moment, created


def citations_of(
    *, moment_id: uuid.UUID | None = None, finding_id: uuid.UUID | None = None
) -> list[Citation]:
    """List the citations of a moment or a finding."""
    column = Citation.moment_id if moment_id is not None else Citation.finding_id
    return list(
        db.session.scalars(
            sa.select(Citation)
            .where(column == (moment_id or finding_id))
            .order_by(Citation.created_at, Citation.id)
        )
    )


def moments_query(user: User, visit_id: uuid.UUID) -> sa.Select[Any]:
    """Select a visible visit's moments in time order."""
    visit = access.get(Visit, visit_id, user)
    return (
        access.scoped(Moment, user)
        .where(Moment.visit_id == visit.id)
        .order_by(Moment.offset_s.is_(None), Moment.offset_s, Moment.occurred_at, Moment.created_at)
    )


def create_finding(user: User, study_id: uuid.UUID, data: dict[str, Any]) -> tuple[Finding, bool]:
    """Write a finding (reviewers and managers); citations are checked, not yet required."""
    study = access.get(Study, study_id, user, access.REVIEWERS)
    studies.check_references(study.id, data)
    specs = data.pop("citations", [])
    client_uuid = data.pop("client_uuid", None)
    rows = _citation_rows(study.id, specs, "citations")

    def build() -> Finding:
        return Finding(study_id=study.id, author_id=user.id, **data)

    finding, created = create_once(
        Finding,
        client_uuid,
        {**data, "citations": specs},
        build,
        visible=lambda f: f.study_id == study.id,
    )
    if created:
        for row in rows:
            row.finding_id = finding.id
            db.session.add(row)
        audit.record(
            "finding.create", study_id=study.id, object_type="finding", object_id=finding.id
        )
    return finding, created


def add_citations(user: User, finding_id: uuid.UUID, specs: list[dict[str, Any]]) -> Finding:
    """Cite more evidence for a finding."""
    finding = access.get(Finding, finding_id, user, access.REVIEWERS)
    for row in _citation_rows(finding.study_id, specs, "citations"):
        row.finding_id = finding.id
        db.session.add(row)
    audit.record(
        "finding.cite", study_id=finding.study_id, object_type="finding", object_id=finding.id
    )
    return finding


def remove_citation(user: User, citation_id: uuid.UUID) -> None:
    """Remove a citation from its moment or finding (reviewers and managers)."""
    row = access.get(Citation, citation_id, user, access.REVIEWERS)
    db.session.delete(row)
    audit.record("citation.delete", study_id=row.study_id, object_type="citation", object_id=row.id)


def update_finding(user: User, finding_id: uuid.UUID, data: dict[str, Any]) -> Finding:
    """Change a finding's text, kind, severity or status."""
    finding = access.get(Finding, finding_id, user, access.REVIEWERS)
    return studies.update(user, finding, data, "finding.update")


def create_action(user: User, finding_id: uuid.UUID, data: dict[str, Any]) -> Action:
    """Plan what will be done about a finding (managers)."""
    finding = access.get(Finding, finding_id, user, access.MANAGERS)
    action = Action(study_id=finding.study_id, finding_id=finding.id, **data)
    db.session.add(action)
    db.session.flush()
    audit.record(
        "action.create", study_id=finding.study_id, object_type="action", object_id=action.id
    )
    return action


def update_action(user: User, action_id: uuid.UUID, data: dict[str, Any]) -> Action:
    """Change an action's owner, due date, status or outcome (managers)."""
    action = access.get(Action, action_id, user, access.MANAGERS)
    return studies.update(user, action, data, "action.update")


def get_finding(user: User, finding_id: uuid.UUID) -> Finding:
    """Return a finding the user may see."""
    return access.get(Finding, finding_id, user)


def actions_of(user: User, finding_id: uuid.UUID) -> list[Action]:
    """List what will be done about a finding, oldest first."""
    finding = access.get(Finding, finding_id, user)
    return list(
        db.session.scalars(
            sa.select(Action)
            .where(Action.finding_id == finding.id)
            .order_by(Action.created_at, Action.id)
        )
    )
