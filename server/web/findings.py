"""A study's findings with the evidence they cite, and the actions taken on them."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, render_template

from server.api.findings import ActionInSchema, ActionPatchSchema, FindingPatchSchema
from server.errors import AppError
from server.models import Action, Finding, Role, Study
from server.services import access, findings
from server.web import queries
from server.web.pages import back_to, form_data, refused, require_sign_in, signed_in

bp = Blueprint("finding_pages", __name__)
bp.before_request(require_sign_in)


@bp.get("/studies/<uuid:study_id>/findings")
def index(study_id: uuid.UUID) -> Any:
    """List a study's findings, most severe first, with citations and actions."""
    user = signed_in()
    study = access.get(Study, study_id, user)
    rows = queries.finding_views(user, study)
    cited = [c.evidence_id for row in rows for c in row.citations]
    items = queries.evidence_by_id(user, cited)
    role = access.role_in(user, study.id)
    return render_template(
        "findings/index.html",
        study=study,
        findings=rows,
        items=items,
        visits=queries.visit_titles(user, [i.visit_id for i in items.values()]),
        can_edit=role in (Role.reviewer, Role.manager),
        can_act=role == Role.manager,
    )


@bp.post("/findings/<uuid:finding_id>")
def update(finding_id: uuid.UUID) -> Any:
    """Change a finding's title, kind, severity, status or text."""
    user = signed_in()
    finding = access.get(Finding, finding_id, user)
    try:
        findings.update_finding(user, finding.id, form_data(FindingPatchSchema()))
    except AppError as error:
        if error.status == 404:
            raise
        refused(error)
    else:
        flash("Finding saved.", "success")
    return back_to("finding_pages.index", f"finding-{finding.id}", study_id=finding.study_id)


@bp.post("/findings/<uuid:finding_id>/actions")
def add_action(finding_id: uuid.UUID) -> Any:
    """Plan an action on a finding, with an owner and a due date."""
    user = signed_in()
    finding = access.get(Finding, finding_id, user)
    try:
        findings.create_action(user, finding.id, form_data(ActionInSchema(), blanks=("due_on",)))
    except AppError as error:
        if error.status == 404:
            raise
        refused(error)
    else:
        flash("Action added.", "success")
    return back_to("finding_pages.index", f"finding-{finding.id}", study_id=finding.study_id)


@bp.post("/actions/<uuid:action_id>")
def update_action(action_id: uuid.UUID) -> Any:
    """Change an action's owner, due date, status or outcome."""
    user = signed_in()
    action = access.get(Action, action_id, user)
    try:
        findings.update_action(
            user, action.id, form_data(ActionPatchSchema(partial=True), blanks=("due_on",))
        )
    except AppError as error:
        if error.status == 404:
            raise
        refused(error)
    else:
        flash("Action saved.", "success")
    return back_to("finding_pages.index", f"finding-{action.finding_id}", study_id=action.study_id)
