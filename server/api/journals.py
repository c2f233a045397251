"""Journals: compile versions, publish them sealed and signed, render and share them."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import Response, url_for
from flask.views import MethodView

from server.api.common import ApiBlueprint, InSchema, OutSchema, SelectPage
from server.services import journals
from server.services.access import current_user
from server.storage import content_disposition

blp = ApiBlueprint("journals", __name__, description="Experience journals")

FORMATS = {"html": "html", "pdf": "pdf", "markdown": "md", "json": "json"}
# a journal is self-contained: its own inline styles and data: images, nothing else
JOURNAL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


class JournalInSchema(InSchema):
    scope = ma.fields.String(required=True, validate=ma.validate.OneOf(journals.SCOPES))
    subject_id = ma.fields.UUID(required=True)


class JournalOutSchema(OutSchema):
    id = ma.fields.UUID()
    study_id = ma.fields.UUID()
    scope = ma.fields.String()
    subject_id = ma.fields.UUID()
    version = ma.fields.Integer()
    title = ma.fields.String()
    content_sha256 = ma.fields.String(allow_none=True)
    published_at = ma.fields.DateTime(allow_none=True)
    published_by_id = ma.fields.UUID(allow_none=True)
    created_at = ma.fields.DateTime()


class ShareInSchema(InSchema):
    expires_in_hours = ma.fields.Integer(load_default=72, validate=ma.validate.Range(1, 24 * 90))


class ShareOutSchema(OutSchema):
    id = ma.fields.UUID()
    journal_id = ma.fields.UUID()
    url = ma.fields.String(metadata={"description": "Shown once, when the link is made"})
    expires_at = ma.fields.DateTime()
    revoked_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()


@blp.route("/journals")
class Journals(MethodView):
    @blp.arguments(JournalInSchema)
    @blp.response(201, JournalOutSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Compile a new journal version of a visit, a journey or a study (reviewers)."""
        return journals.create_draft(current_user(), data["scope"], data["subject_id"])


@blp.route("/studies/<uuid:study_id>/journals")
class StudyJournals(MethodView):
    @blp.response(200, JournalOutSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, study_id: uuid.UUID) -> Any:
        """List a study's journal versions, newest first."""
        return journals.list_query(current_user(), study_id)


@blp.route("/journals/<uuid:journal_id>")
class JournalById(MethodView):
    @blp.response(200, JournalOutSchema)
    def get(self, journal_id: uuid.UUID) -> Any:
        """Show a journal version."""
        return journals.get(current_user(), journal_id)


@blp.route("/journals/<uuid:journal_id>/publish")
class JournalPublish(MethodView):
    @blp.response(200, JournalOutSchema)
    def post(self, journal_id: uuid.UUID) -> Any:
        """Publish a version: sealed with the evidence hashes and signed; never changed after."""
        return journals.publish(current_user(), journal_id)


@blp.route("/journals/<uuid:journal_id>/<any(html,pdf,markdown,json):fmt>")
class JournalRendering(MethodView):
    @blp.response(200, description="The journal in the asked format")
    def get(self, journal_id: uuid.UUID, fmt: str) -> Any:
        """Download a journal as HTML, PDF, Markdown or (signed, once published) JSON."""
        journal = journals.get(current_user(), journal_id)
        body, mimetype = journals.render(journal, fmt)
        disposition = "inline" if fmt == "html" else "attachment"
        name = f"journal-{journal.scope}-v{journal.version}.{FORMATS[fmt]}"
        response = Response(body, mimetype=mimetype.split(";")[0])
        response.headers["Content-Type"] = mimetype
        response.headers["Content-Disposition"] = content_disposition(disposition, name)
        if fmt == "html":
            response.headers["Content-Security-Policy"] = JOURNAL_CSP
        return response


@blp.route("/journals/<uuid:journal_id>/share-links")
class JournalShareLinks(MethodView):
    @blp.response(200, ShareOutSchema(many=True))
    def get(self, journal_id: uuid.UUID) -> Any:
        """List a journal's share links (their URLs are not shown again)."""
        return journals.share_links_of(current_user(), journal_id)

    @blp.arguments(ShareInSchema)
    @blp.response(201, ShareOutSchema)
    def post(self, data: dict[str, Any], journal_id: uuid.UUID) -> Any:
        """Make an expiring, read-only link to a published journal for people without accounts."""
        link, token = journals.create_share_link(
            current_user(), journal_id, data["expires_in_hours"]
        )
        shown = {
            name: getattr(link, name)
            for name in ("id", "journal_id", "expires_at", "revoked_at", "created_at")
        }
        return {**shown, "url": url_for("share.view", token=token, _external=True)}


@blp.route("/share-links/<uuid:link_id>")
class ShareLinkById(MethodView):
    @blp.response(204)
    def delete(self, link_id: uuid.UUID) -> None:
        """Revoke a share link; it stops working at once."""
        journals.revoke_share_link(current_user(), link_id)
