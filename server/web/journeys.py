"""One journey as one timeline across its in-person, phone and web visits."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, render_template

from server.models import Journey, Study
from server.services import access
from server.web import queries
from server.web.pages import require_sign_in, signed_in
from server.web.visits import page_roles

bp = Blueprint("journey_pages", __name__)
bp.before_request(require_sign_in)


@bp.get("/journeys/<uuid:journey_id>")
def show(journey_id: uuid.UUID) -> Any:
    """Show a journey's visits in order, each with its evidence, moments and checklist."""
    user = signed_in()
    journey = access.get(Journey, journey_id, user)
    study = access.get(Study, journey.study_id, user)
    visits = queries.journey_visits(user, journey)
    ids = [v.id for v in visits]
    evidence = queries.evidence_by_visit(user, ids)
    views = queries.item_views(user, [item for v in visits for item in evidence[v.id]])
    by_visit: dict[uuid.UUID, list[queries.ItemView]] = {v.id: [] for v in visits}
    for view in views:
        by_visit[view.item.visit_id].append(view)
    return render_template(
        "journeys/journey.html",
        study=study,
        journey=journey,
        visits=visits,
        blocks={visit_id: queries.blocks(rows) for visit_id, rows in by_visit.items()},
        moments=queries.moment_views(user, ids),
        researchers=queries.users_by_id(v.researcher_id for v in visits),
        **page_roles(user, study),
    )
