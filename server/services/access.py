"""Study isolation, enforced here and nowhere else.

Every study-owned row carries ``study_id``. Views never query those tables directly:
they ask this module, which filters by the caller's memberships. A member of study A
asking for anything of study B gets 404, as if it did not exist; a member lacking the
role for an action gets 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from flask import g

from server.errors import Forbidden, NotFound, Unauthorized
from server.extensions import db
from server.models import Membership, Role, Study, User, Visit, VisitStatus
from server.services import audit

M = TypeVar("M")

EVERY_ROLE = frozenset(Role)
REVIEWERS = frozenset({Role.reviewer, Role.manager})
MANAGERS = frozenset({Role.manager})


def current_user() -> User:
    """Return the signed-in user or raise 401."""
    user: User | None = g.get("user")
    if user is None:
        raise Unauthorized()
    return user


# built once, in Core: every study-scoped request asks it
_MEMBERSHIPS = Membership.__table__
_ROLE = sa.select(_MEMBERSHIPS.c.role).where(
    _MEMBERSHIPS.c.study_id == sa.bindparam("study_id"),
    _MEMBERSHIPS.c.user_id == sa.bindparam("user_id"),
)


def role_in(user: User, study_id: uuid.UUID) -> Role | None:
    """Return the user's role in a study; admins count as managers everywhere."""
    if user.is_admin:
        return Role.manager
    return role_in_study_exact(user.id, study_id)


def role_in_study_exact(user_id: uuid.UUID, study_id: uuid.UUID) -> Role | None:
    """Return the role a membership row gives, ignoring admin rights."""
    params = {"study_id": study_id, "user_id": user_id}
    role: Role | None = db.session.connection().execute(_ROLE, params).scalar()
    return role


def member_study_ids(user: User, roles: Iterable[Role] = EVERY_ROLE) -> sa.Select[Any]:
    """Select the ids of the studies where the user holds one of ``roles``."""
    return sa.select(Membership.study_id).where(
        Membership.user_id == user.id, Membership.role.in_(list(roles))
    )


def study_column(model: type[Any]) -> Any:
    """Return the column naming the study a row belongs to."""
    return model.id if model is Study else model.study_id


def scoped(model: type[M], user: User) -> sa.Select[Any]:
    """Select rows of ``model`` that the user may see.

    Researchers see their own visits only; reviewers and managers see every visit of
    their studies but not other people's drafts.
    """
    query: sa.Select[Any] = sa.select(model)
    if user.is_admin:
        return query
    query = query.where(study_column(model).in_(member_study_ids(user)))
    if model is not Visit and hasattr(model, "visit_id"):
        # what belongs to a visit is visible exactly when the visit is
        visible_visits = scoped(Visit, user).with_only_columns(Visit.id)
        query = query.where(model.visit_id.in_(visible_visits))  # type: ignore[attr-defined]
    if model is Visit:
        reviewer_studies = member_study_ids(user, REVIEWERS)
        query = query.where(
            sa.or_(
                Visit.researcher_id == user.id,
                sa.and_(
                    Visit.study_id.in_(reviewer_studies),
                    Visit.status != VisitStatus.draft,
                ),
            )
        )
    return query


def get(model: type[M], object_id: uuid.UUID, user: User, roles: Iterable[Role] = EVERY_ROLE) -> M:
    """Load one row the user may see and act on with one of ``roles``.

    Unknown ids and rows of other studies are 404 alike; a member without the role is 403.
    Both refusals are audited.
    """
    query = scoped(model, user).where(model.id == object_id)  # type: ignore[attr-defined]
    row: M | None
    role: Role | None
    if user.is_admin:
        row, role = cast(M | None, db.session.scalar(query)), Role.manager
    else:
        # the row and the caller's role in its study, in one query
        member = sa.and_(Membership.study_id == study_column(model), Membership.user_id == user.id)
        found = db.session.execute(
            query.add_columns(Membership.role).join(Membership, member)
        ).first()
        row, role = (found[0], found[1]) if found is not None else (None, None)
    if row is None:
        audit.record_now(
            "access.denied",
            object_type=model.__tablename__,  # type: ignore[attr-defined]
            object_id=object_id,
            detail={"reason": "not_visible"},
        )
        raise NotFound()
    _check_role(row.id if model is Study else row.study_id, role, roles)  # type: ignore[attr-defined]
    return row


def require_role(user: User, study_id: uuid.UUID, roles: Iterable[Role]) -> Role:
    """Return the user's role in the study if it is one of ``roles``; else 404 or 403."""
    return _check_role(study_id, role_in(user, study_id), roles)


def _check_role(study_id: uuid.UUID, role: Role | None, roles: Iterable[Role]) -> Role:
    if role is None:
        audit.record_now(
            "access.denied", study_id=study_id, object_type="study", object_id=study_id
        )
        raise NotFound()
    if role not in set(roles):
        audit.record_now(
            "access.denied",
            study_id=study_id,
            object_type="study",
            object_id=study_id,
            detail={"reason": "role", "role": role.value},
        )
        raise Forbidden(f"This needs the role {' or '.join(sorted(r.value for r in roles))}.")
    return role


def require_admin(user: User) -> None:
    """Refuse anyone but a global admin."""
    if not user.is_admin:
        audit.record_now("access.denied", detail={"reason": "admin_only"})
        raise Forbidden("Only an admin may do this.")
