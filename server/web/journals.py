"""Making, previewing, publishing and sharing experience journals from the viewer."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, render_template, url_for

from server.api.journals import JournalInSchema, ShareInSchema
from server.errors import AppError
from server.extensions import db
from server.models import Role, ShareLink, Study, utcnow
from server.services import access, journals
from server.web.pages import back_to, form_data, refused, require_sign_in, signed_in

bp = Blueprint("journal_pages", __name__)
bp.before_request(require_sign_in)

SUBJECT_PAGES = {
    "visit": "visit_pages.show",
    "journey": "journey_pages.show",
    "study": "study_pages.dashboard",
}
SUBJECT_ARGS = {"visit": "visit_id", "journey": "journey_id", "study": "study_id"}


@bp.get("/studies/<uuid:study_id>/journals")
def index(study_id: uuid.UUID) -> Any:
    """List a study's journal versions, newest first."""
    user = signed_in()
    study = access.get(Study, study_id, user)
    rows = list(db.session.scalars(journals.list_query(user, study.id).limit(200)))
    role = access.role_in(user, study.id)
    return render_template(
        "journals/index.html",
        study=study,
        journals=rows,
        can_make=role in (Role.reviewer, Role.manager),
    )


@bp.post("/journals")
def create() -> Any:
    """Compile a new draft journal of a visit, a journey or a study."""
    user = signed_in()
    try:
        data = form_data(JournalInSchema())
        journal = journals.create_draft(user, data["scope"], data["subject_id"])
    except AppError as error:
        if error.status == 404:
            raise
        refused(error)
        return back_to("study_pages.index")
    flash(f"Draft version {journal.version} compiled.", "success")
    return back_to("journal_pages.show", journal_id=journal.id)


@bp.get("/journals/<uuid:journal_id>")
def show(journal_id: uuid.UUID) -> Any:
    """Show a journal version with its downloads, publishing and share links."""
    return _journal_page(journal_id)


def _journal_page(journal_id: uuid.UUID, new_link: str | None = None, status: int = 200) -> Any:
    user = signed_in()
    journal = journals.get(user, journal_id)
    study = access.get(Study, journal.study_id, user)
    reviewer = access.role_in(user, study.id) in (Role.reviewer, Role.manager)
    links = journals.share_links_of(user, journal.id) if reviewer else []
    subject_args: dict[str, Any] = {SUBJECT_ARGS[journal.scope]: journal.subject_id}
    subject = url_for(SUBJECT_PAGES[journal.scope], **subject_args)
    page = render_template(
        "journals/journal.html",
        study=study,
        journal=journal,
        subject_url=subject,
        links=links,
        can_publish=reviewer and journal.published_at is None,
        can_share=reviewer and journal.published_at is not None,
        new_link=new_link,
        now=utcnow(),
    )
    return page, status


@bp.post("/journals/<uuid:journal_id>/publish")
def publish(journal_id: uuid.UUID) -> Any:
    """Publish a draft: sealed, signed and never changed again."""
    user = signed_in()
    journals.get(user, journal_id)
    try:
        journal = journals.publish(user, journal_id)
    except AppError as error:
        if error.status == 404:
            raise
        refused(error)
    else:
        flash(f"Version {journal.version} is published.", "success")
    return back_to("journal_pages.show", journal_id=journal_id)


@bp.post("/journals/<uuid:journal_id>/share-links")
def share(journal_id: uuid.UUID) -> Any:
    """Make an expiring read-only link; its address is shown this once."""
    user = signed_in()
    journals.get(user, journal_id)
    try:
        data = form_data(ShareInSchema())
        _, token = journals.create_share_link(user, journal_id, data["expires_in_hours"])
    except AppError as error:
        if error.status == 404:
            raise
        refused(error)
        return back_to("journal_pages.show", journal_id=journal_id)
    # rendered, not redirected: the address must not end up in a URL or the session
    return _journal_page(journal_id, url_for("share.view", token=token, _external=True), 201)


@bp.post("/share-links/<uuid:link_id>/revoke")
def revoke(link_id: uuid.UUID) -> Any:
    """Revoke a share link at once."""
    user = signed_in()
    link = access.get(ShareLink, link_id, user)
    try:
        journals.revoke_share_link(user, link.id)
    except AppError as error:
        if error.status == 404:
            raise
        refused(error)
    else:
        flash("The link no longer works.", "success")
    return back_to("journal_pages.show", journal_id=link.journal_id)
