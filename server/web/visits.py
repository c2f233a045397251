"""A visit's page (evidence timeline, call player, review), one item's page, review moves."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request
from werkzeug.wsgi import wrap_file

from server.api.visits import TransitionSchema
from server.errors import AppError, NotFound
from server.models import Evidence, EvidenceKind, Role, Study, Visit
from server.services import access, evidence_access, transcripts, visits
from server.web import queries
from server.web.notes import anchor_prefix
from server.web.pages import (
    back_to,
    begin_writing,
    form_data,
    refused,
    require_sign_in,
    signed_in,
)

bp = Blueprint("visit_pages", __name__)
bp.before_request(require_sign_in)

PLAYABLE = frozenset({EvidenceKind.audio, EvidenceKind.video})
MOVE_MESSAGES = {
    "in_review": "The visit is now in review.",
    "approved": "The visit is approved.",
    "returned": "The visit went back to its researcher.",
}


def page_roles(user: Any, study: Study) -> dict[str, bool]:
    """Say what the user may do on evidence pages: cite as moments, write findings."""
    role = access.role_in(user, study.id)
    reviewer = role in (Role.reviewer, Role.manager)
    return {"can_mark": reviewer, "can_find": reviewer, "is_manager": role == Role.manager}


@bp.get("/visits/<uuid:visit_id>")
def show(visit_id: uuid.UUID) -> Any:
    """Show a visit: its evidence in capture order, moments, checklist, comments, review."""
    user = signed_in()
    visit = access.get(Visit, visit_id, user)
    study = access.get(Study, visit.study_id, user)
    views = queries.item_views(user, queries.evidence_by_visit(user, [visit.id])[visit.id])
    comments = queries.comments_of(visit)
    people = queries.users_by_id([visit.researcher_id, *(c.author_id for c in comments)])
    return render_template(
        "visits/visit.html",
        study=study,
        visit=visit,
        researcher=people.get(visit.researcher_id),
        target=queries.target_of(visit),
        journey=queries.journey_of(visit),
        blocks=queries.blocks(views),
        moments=queries.moment_views(user, [visit.id])[visit.id],
        comments=comments,
        people=people,
        moves=queries.next_states(user, visit),
        **page_roles(user, study),
    )


@bp.get("/evidence/<uuid:evidence_id>")
def evidence(evidence_id: uuid.UUID) -> Any:
    """Show one item alone: a call at ``#t=SECONDS`` or a note at ``#line-N``."""
    user = signed_in()
    item = access.get(Evidence, evidence_id, user)
    visit = access.get(Visit, item.visit_id, user)
    study = access.get(Study, item.study_id, user)
    view = queries.item_views(user, [item])[0]
    original = request.args.get("view") == "original"
    if original and view.transcript is not None:
        begin_writing()
        # managers only; refused (403) for anyone else, audited for managers
        view.transcript = transcripts.view(user, item.id, view.transcript["id"], original=True)
    return render_template(
        "visits/evidence.html",
        study=study,
        visit=visit,
        view=view,
        original=original and view.transcript is not None,
        **page_roles(user, study),
    )


@bp.get("/evidence/<uuid:evidence_id>/recording")
def recording(evidence_id: uuid.UUID) -> Any:
    """Stream a recording with byte ranges so the player can seek; audited like any original."""
    begin_writing()
    user = signed_in()
    item = access.get(Evidence, evidence_id, user)
    if item.kind not in PLAYABLE:
        raise NotFound("Only recordings play here.", code="evidence.not_playable")
    download = evidence_access.original(user, item.id)
    if download.url is not None:
        # object stores answer byte ranges themselves
        return redirect(download.url, code=302)
    assert download.stream is not None  # noqa: S101 - one of url and stream is set
    response = Response(
        wrap_file(request.environ, download.stream),
        mimetype=download.content_type,
        direct_passthrough=True,
    )
    size = download.size if download.size is not None else item.size
    if size is not None:
        response.content_length = size
        response.make_conditional(request, accept_ranges=True, complete_length=size)
    response.headers["Content-Disposition"] = download.disposition
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/evidence/<uuid:evidence_id>/block")
def block(evidence_id: uuid.UUID) -> Any:
    """Render one item's block again, for pages that watched it being processed."""
    user = signed_in()
    item = access.get(Evidence, evidence_id, user)
    study = access.get(Study, item.study_id, user)
    view = queries.item_views(user, [item])[0]
    view.number = request.args.get("number", 0, type=int)
    alone = request.args.get("alone") == "1"
    return render_template(
        "visits/block.html",
        view=view,
        study=study,
        anchor="" if alone else anchor_prefix(item.id),
        alone=alone,
        **page_roles(user, study),
    )


@bp.post("/visits/<uuid:visit_id>/transition")
def transition(visit_id: uuid.UUID) -> Any:
    """Take a visit into review, approve it, or return it with a comment."""
    user = signed_in()
    access.get(Visit, visit_id, user)
    try:
        data = form_data(TransitionSchema())
        moved = visits.transition(user, visit_id, data["to"], data["comment"])
    except AppError as error:
        if error.status == 404:
            raise
        refused(error)
        return back_to("visit_pages.show", "review", visit_id=visit_id)
    flash(MOVE_MESSAGES.get(moved.status.value, "The visit moved on."), "success")
    return back_to("visit_pages.show", "review", visit_id=visit_id)


@bp.post("/visits/<uuid:visit_id>/comments")
def comment(visit_id: uuid.UUID) -> Any:
    """Comment on a visit."""
    user = signed_in()
    try:
        visits.add_comment(user, visit_id, request.form.get("body", ""))
    except AppError as error:
        if error.status == 404:
            raise
        refused(error)
        return back_to("visit_pages.show", "comments", visit_id=visit_id)
    flash("Comment added.", "success")
    return back_to("visit_pages.show", "comments", visit_id=visit_id)
