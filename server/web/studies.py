"""The studies list, a study's dashboard, and its visits filtered the dashboard's ways."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, render_template, request

from server.models import Channel, Role, Study, VisitStatus
from server.services import access
from server.web import queries
from server.web.pages import require_sign_in, signed_in

bp = Blueprint("study_pages", __name__)
bp.before_request(require_sign_in)


@bp.get("/studies")
def index() -> Any:
    """List the studies you are a member of."""
    return render_template("studies/index.html", cards=queries.study_cards(signed_in()))


@bp.get("/studies/<uuid:study_id>")
def dashboard(study_id: uuid.UUID) -> Any:
    """Show a study at a glance: visits, checklist scores, findings, actions, activity."""
    user = signed_in()
    study = access.get(Study, study_id, user)
    role = access.role_in(user, study.id)
    reviewer = role in (Role.reviewer, Role.manager)
    return render_template(
        "studies/dashboard.html",
        study=study,
        role=role,
        tallies=queries.visit_tallies(user, study),
        checklist=queries.checklist_scores(user, study),
        findings=queries.finding_views(user, study, open_only=True),
        actions=queries.open_actions(user, study),
        journeys=queries.journey_cards(user, study),
        # who did what and when, for the review team; addresses and agents stay in the
        # managers' audit log
        activity=queries.recent_activity(study) if reviewer else [],
        show_activity=reviewer,
    )


@bp.get("/studies/<uuid:study_id>/visits")
def visits(study_id: uuid.UUID) -> Any:
    """List a study's visits by channel, status, stage, journey or answered question."""
    user = signed_in()
    study = access.get(Study, study_id, user)
    filters = _visit_filters(study)
    rows = queries.visit_list(user, study, filters)
    return render_template(
        "studies/visits.html",
        study=study,
        visits=rows,
        filters=filters,
        scores=queries.visit_scores(study, rows),
        researchers=queries.users_by_id(v.researcher_id for v in rows),
        journeys={c.journey.id: c.journey for c in queries.journey_cards(user, study)},
    )


def _visit_filters(study: Study) -> dict[str, Any]:
    """Read the list's filters from the query string; unknown values are ignored."""
    args = request.args
    filters: dict[str, Any] = {}
    if args.get("channel") in set(Channel):
        filters["channel"] = Channel(args["channel"])
    if args.get("status") in set(VisitStatus):
        filters["status"] = VisitStatus(args["status"])
    if args.get("stage"):
        filters["stage"] = args["stage"][:100]
    keys = {q["key"] for q in study.checklist or []}
    if args.get("answered") == "any" or args.get("answered") in keys:
        filters["answered"] = args["answered"]
    try:
        if args.get("journey"):
            filters["journey_id"] = uuid.UUID(args["journey"])
    except ValueError:
        pass
    return filters
