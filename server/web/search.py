"""Search across a study's call transcripts and notes; each hit opens at its second or line."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, render_template, request

from server.models import Study
from server.services import access, search
from server.web import queries
from server.web.pages import require_sign_in, signed_in

bp = Blueprint("search_pages", __name__)
bp.before_request(require_sign_in)

MAX_QUERY = 200


@bp.get("/studies/<uuid:study_id>/search")
def results(study_id: uuid.UUID) -> Any:
    """Find words in the study's transcripts (redacted) and notes."""
    user = signed_in()
    study = access.get(Study, study_id, user)
    text = request.args.get("q", "").strip()[:MAX_QUERY]
    hits = search.search(user, study, text) if text else []
    return render_template(
        "studies/search.html",
        study=study,
        q=text,
        hits=hits,
        visits=queries.visit_titles(user, {h.visit_id for h in hits}),
    )
