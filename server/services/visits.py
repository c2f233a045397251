"""Visits: creation from phones, edits by their researcher, and the review workflow."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from server.errors import Conflict, Forbidden, field_error
from server.extensions import db
from server.models import (
    Assignment,
    Evidence,
    ReviewComment,
    Role,
    Study,
    User,
    Visit,
    VisitStatus,
    utcnow,
)
from server.services import access, audit, studies
from server.services.idempotency import create_once

# (from, to) -> the roles that may make the move; "owner" is the visit's researcher
TRANSITIONS: dict[tuple[VisitStatus, VisitStatus], frozenset[str]] = {
    (VisitStatus.draft, VisitStatus.submitted): frozenset({"owner"}),
    (VisitStatus.returned, VisitStatus.submitted): frozenset({"owner"}),
    (VisitStatus.submitted, VisitStatus.in_review): frozenset({"reviewer", "manager"}),
    (VisitStatus.submitted, VisitStatus.returned): frozenset({"reviewer", "manager"}),
    (VisitStatus.in_review, VisitStatus.approved): frozenset({"reviewer", "manager"}),
    (VisitStatus.in_review, VisitStatus.returned): frozenset({"reviewer", "manager"}),
}
EDITABLE = frozenset({VisitStatus.draft, VisitStatus.returned})


def create_visit(user: User, study_id: uuid.UUID, data: dict[str, Any]) -> tuple[Visit, bool]:
    """Start a visit for the calling researcher; repeats with the same client UUID are safe."""
    # the caller's membership is all a create needs to know of the study
    access.require_role(user, study_id, {Role.researcher})
    studies.check_references(study_id, data)
    assignment_id = data.get("assignment_id")
    if assignment_id is not None:
        assignment = db.session.get(Assignment, assignment_id)
        if assignment is None or assignment.researcher_id != user.id:
            raise field_error(
                "assignment_id", "Not one of your assignments.", code="visit.not_your_assignment"
            )
    client_uuid = data.pop("client_uuid", None)
    _normalise_manifest(data)

    def build() -> Visit:
        return Visit(study_id=study_id, researcher_id=user.id, **data)

    visit, created = create_once(
        Visit,
        client_uuid,
        {**data, "study_id": study_id},
        build,
        visible=lambda v: v.researcher_id == user.id,
    )
    if created:
        audit.record("visit.create", study_id=study_id, object_type="visit", object_id=visit.id)
    return visit, created


def list_query(user: User, study: Study, filters: dict[str, Any]) -> sa.Select[tuple[Visit]]:
    """Select the study's visits the user may see, filtered and newest first."""
    query = access.scoped(Visit, user).where(Visit.study_id == study.id)
    for name in ("status", "channel", "researcher_id", "journey_id", "target_id", "assignment_id"):
        if filters.get(name) is not None:
            query = query.where(getattr(Visit, name) == filters[name])
    if filters.get("started_after") is not None:
        query = query.where(Visit.started_at >= filters["started_after"])
    if filters.get("started_before") is not None:
        query = query.where(Visit.started_at < filters["started_before"])
    return query.order_by(Visit.created_at.desc(), Visit.id)


def update_visit(user: User, visit_id: uuid.UUID, data: dict[str, Any]) -> Visit:
    """Change a visit's details; only its researcher, and only while draft or returned."""
    visit = access.get(Visit, visit_id, user)
    if visit.researcher_id != user.id:
        audit.record_now(
            "access.denied",
            study_id=visit.study_id,
            object_type="visit",
            object_id=visit.id,
            detail={"reason": "not_owner"},
        )
        raise Forbidden("Only the visit's researcher may change it.", code="visit.not_owner")
    if visit.status not in EDITABLE:
        raise Conflict(
            f"A {visit.status.value} visit cannot be changed.", code="visit.not_editable"
        )
    studies.check_references(visit.study_id, data)
    # the request's schema compares the two only when both are sent
    started = data.get("started_at", visit.started_at)
    ended = data.get("ended_at", visit.ended_at)
    if started is not None and ended is not None and ended < started:
        raise field_error("ended_at", "Must not be before started_at.")
    _normalise_manifest(data)
    return studies.update(user, visit, data, "visit.update")


def _actor_roles(user: User, visit: Visit) -> set[str]:
    roles: set[str] = set()
    if visit.researcher_id == user.id:
        roles.add("owner")
    role = access.role_in(user, visit.study_id)
    if role in (Role.reviewer, Role.manager):
        roles.add(role.value)
    return roles


def transition(user: User, visit_id: uuid.UUID, to: VisitStatus, comment: str = "") -> Visit:
    """Move a visit along its review workflow if the caller may make that move."""
    visit = access.get(Visit, visit_id, user)
    allowed = TRANSITIONS.get((visit.status, to))
    if allowed is None:
        raise Conflict(
            f"A visit cannot go from {visit.status.value} to {to.value}.",
            code="visit.transition_invalid",
            errors={"to": [f"Not allowed from {visit.status.value}."]},
        )
    if not allowed & _actor_roles(user, visit):
        audit.record_now(
            "access.denied",
            study_id=visit.study_id,
            object_type="visit",
            object_id=visit.id,
            detail={"reason": "transition", "to": to.value},
        )
        raise Forbidden(
            f"You may not move this visit to {to.value}.", code="visit.transition_forbidden"
        )
    if to == VisitStatus.returned and not comment.strip():
        raise field_error(
            "comment", "Say why the visit is returned.", code="visit.comment_required"
        )
    before = visit.status
    visit.status = to
    now = utcnow()
    if to == VisitStatus.submitted:
        visit.submitted_at = now
    if to in (VisitStatus.approved, VisitStatus.returned, VisitStatus.in_review):
        visit.reviewed_by_id = user.id
        visit.reviewed_at = now
    if comment.strip():
        db.session.add(
            ReviewComment(
                study_id=visit.study_id, visit_id=visit.id, author_id=user.id, body=comment
            )
        )
    audit.record(
        "visit.transition",
        study_id=visit.study_id,
        object_type="visit",
        object_id=visit.id,
        detail={"from": before.value, "to": to.value},
    )
    return visit


def missing_evidence(visit: Visit) -> list[uuid.UUID]:
    """Return the client UUIDs of manifest items whose files have not arrived yet."""
    expected = [uuid.UUID(str(entry["client_uuid"])) for entry in visit.evidence_manifest or []]
    if not expected:
        return []
    arrived = set(
        db.session.scalars(
            sa.select(Evidence.client_uuid).where(
                Evidence.visit_id == visit.id, Evidence.client_uuid.in_(expected)
            )
        )
    )
    return [u for u in expected if u not in arrived]


def _normalise_manifest(data: dict[str, Any]) -> None:
    """Keep manifest entries as plain JSON: UUIDs and kinds as strings."""
    if "evidence_manifest" in data:
        data["evidence_manifest"] = [
            {
                "client_uuid": str(entry["client_uuid"]),
                "kind": str(
                    entry["kind"].value if hasattr(entry["kind"], "value") else entry["kind"]
                ),
                "filename": entry.get("filename", ""),
            }
            for entry in data["evidence_manifest"]
        ]


def add_comment(user: User, visit_id: uuid.UUID, body: str) -> ReviewComment:
    """Comment on a visit the user may see (reviewers, managers, or its researcher)."""
    visit = access.get(Visit, visit_id, user)
    if not body.strip():
        raise field_error("body", "Write something first.", code="comment.empty")
    if len(body) > 20_000:
        raise field_error("body", "At most 20,000 characters.", code="comment.too_long")
    comment = ReviewComment(
        study_id=visit.study_id, visit_id=visit.id, author_id=user.id, body=body
    )
    db.session.add(comment)
    db.session.flush()
    audit.record("visit.comment", study_id=visit.study_id, object_type="visit", object_id=visit.id)
    return comment
