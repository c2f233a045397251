"""Studies and what belongs to them: members, targets, journeys, assignments."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from server.errors import Conflict, NotFound, field_error
from server.extensions import db
from server.models import Assignment, Journey, Membership, Role, Study, Target, User
from server.services import access, audit
from server.services.idempotency import create_once


def create_study(user: User, data: dict[str, Any]) -> Study:
    """Create a study; its creator becomes a manager of it."""
    access.require_admin(user)
    study = Study(created_by_id=user.id, **data)
    db.session.add(study)
    db.session.flush()
    db.session.add(Membership(study_id=study.id, user_id=user.id, role=Role.manager))
    audit.record("study.create", study_id=study.id, object_type="study", object_id=study.id)
    return study


def update(user: User, row: Any, data: dict[str, Any], action: str) -> Any:
    """Apply validated changes to a study-owned row and audit them."""
    changed = {k: v for k, v in data.items() if getattr(row, k) != v}
    for key, value in changed.items():
        setattr(row, key, value)
    if changed:
        audit.record(
            action,
            study_id=_study_id(row),
            object_type=type(row).__tablename__,
            object_id=row.id,
            detail={"fields": sorted(changed)},
        )
    return row


def _study_id(row: Any) -> uuid.UUID:
    return row.id if isinstance(row, Study) else row.study_id


def list_members(study: Study) -> list[Membership]:
    """List a study's members with their roles."""
    return list(
        db.session.scalars(
            sa.select(Membership)
            .where(Membership.study_id == study.id)
            .order_by(Membership.created_at, Membership.id)
        )
    )


def add_member(study: Study, user_id: uuid.UUID, role: Role) -> Membership:
    """Give a user a role in a study."""
    member = db.session.get(User, user_id)
    if member is None or not member.is_active:
        raise field_error("user_id", "No active user with this id.", code="member.unknown_user")
    exists = db.session.scalar(
        sa.select(Membership).where(Membership.study_id == study.id, Membership.user_id == user_id)
    )
    if exists is not None:
        raise Conflict("This user is already a member.", code="member.exists")
    membership = Membership(study_id=study.id, user_id=user_id, role=role)
    db.session.add(membership)
    db.session.flush()
    audit.record(
        "member.add",
        study_id=study.id,
        object_type="membership",
        object_id=membership.id,
        detail={"user_id": str(user_id), "role": role.value},
    )
    return membership


def get_membership(study: Study, user_id: uuid.UUID) -> Membership:
    """Return one membership of the study or raise 404."""
    membership = db.session.scalar(
        sa.select(Membership).where(Membership.study_id == study.id, Membership.user_id == user_id)
    )
    if membership is None:
        raise NotFound("No such member.")
    return membership


def remove_member(study: Study, user_id: uuid.UUID) -> None:
    """Take a user out of a study."""
    membership = get_membership(study, user_id)
    db.session.delete(membership)
    audit.record(
        "member.remove",
        study_id=study.id,
        object_type="membership",
        object_id=membership.id,
        detail={"user_id": str(user_id)},
    )


def _check_in_study(
    model: type[Any], object_id: uuid.UUID | None, study_id: uuid.UUID, field: str
) -> None:
    if object_id is None:
        return
    found = db.session.scalar(
        sa.select(model.id).where(model.id == object_id, model.study_id == study_id)
    )
    if found is None:
        raise field_error(field, "Not found in this study.", code="reference.not_in_study")


def create_target(study: Study, data: dict[str, Any]) -> Target:
    """Add a store, phone line or website to a study."""
    target = Target(study_id=study.id, **data)
    db.session.add(target)
    db.session.flush()
    audit.record("target.create", study_id=study.id, object_type="target", object_id=target.id)
    return target


def create_journey(study: Study, data: dict[str, Any]) -> Journey:
    """Add a customer journey to a study."""
    journey = Journey(study_id=study.id, **data)
    db.session.add(journey)
    db.session.flush()
    audit.record("journey.create", study_id=study.id, object_type="journey", object_id=journey.id)
    return journey


def create_assignment(user: User, study: Study, data: dict[str, Any]) -> tuple[Assignment, bool]:
    """Plan a visit for a researcher of the study."""
    if access.role_in_study_exact(data["researcher_id"], study.id) != Role.researcher:
        raise field_error(
            "researcher_id", "Not a researcher of this study.", code="assignment.not_researcher"
        )
    _check_in_study(Target, data.get("target_id"), study.id, "target_id")
    _check_in_study(Journey, data.get("journey_id"), study.id, "journey_id")
    client_uuid = data.pop("client_uuid", None)

    def build() -> Assignment:
        return Assignment(study_id=study.id, **data)

    assignment, created = create_once(
        Assignment,
        client_uuid,
        data,
        build,
        visible=lambda a: a.study_id == study.id,
    )
    if created:
        audit.record(
            "assignment.create",
            study_id=study.id,
            object_type="assignment",
            object_id=assignment.id,
        )
    return assignment, created


def check_references(study_id: uuid.UUID, data: dict[str, Any]) -> None:
    """Refuse target, journey or assignment ids that are not of this study."""
    _check_in_study(Target, data.get("target_id"), study_id, "target_id")
    _check_in_study(Journey, data.get("journey_id"), study_id, "journey_id")
    _check_in_study(Assignment, data.get("assignment_id"), study_id, "assignment_id")


def require_own_assignment(user: User, assignment: Assignment) -> None:
    """Hide other researchers' assignments from a researcher."""
    role = access.role_in(user, assignment.study_id)
    if role == Role.researcher and assignment.researcher_id != user.id:
        audit.record_now(
            "access.denied",
            study_id=assignment.study_id,
            object_type="assignment",
            object_id=assignment.id,
        )
        raise NotFound()
