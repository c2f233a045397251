"""Moments on visits, findings across visits, their citations and the actions they lead to."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask.views import MethodView

from server.api.common import (
    ApiBlueprint,
    InSchema,
    OutSchema,
    SelectPage,
    created_or_existing,
    text,
)
from server.models import Finding, FindingKind, SpanKind, Study
from server.services import access, findings
from server.services.access import current_user

blp = ApiBlueprint("findings", __name__, description="Moments, findings, citations and actions")


class SpanSchema(InSchema):
    type = ma.fields.String(required=True, validate=ma.validate.OneOf(["time", "region", "text"]))
    start = ma.fields.Float(
        allow_nan=False, metadata={"description": "seconds (time) or character (text)"}
    )
    end = ma.fields.Float(allow_nan=False)
    x = ma.fields.Float(allow_nan=False)
    y = ma.fields.Float(allow_nan=False)
    w = ma.fields.Float(allow_nan=False)
    h = ma.fields.Float(allow_nan=False)

    @ma.validates_schema
    def has_its_fields(self, data: dict[str, Any], **kwargs: Any) -> None:
        needed = {
            "time": ("start", "end"),
            "text": ("start", "end"),
            "region": ("x", "y", "w", "h"),
        }
        missing = [name for name in needed[data["type"]] if name not in data]
        if missing:
            raise ma.ValidationError({name: ["Required for this span type."] for name in missing})
        if data["type"] == "text" and any(float(data[k]) != int(data[k]) for k in ("start", "end")):
            raise ma.ValidationError("Character positions are whole numbers.", "start")


class CitationInSchema(InSchema):
    evidence_id = ma.fields.UUID(required=True)
    span = ma.fields.Nested(SpanSchema, allow_none=True, load_default=None)
    quote = text(5000, load_default="")


class CitationOutSchema(OutSchema):
    id = ma.fields.UUID()
    evidence_id = ma.fields.UUID()
    span = ma.fields.Method("get_span")
    quote = ma.fields.String()

    def get_span(self, row: Any) -> dict[str, Any] | None:
        if row.span_kind == SpanKind.time:
            return {"type": "time", "start": row.start_s, "end": row.end_s}
        if row.span_kind == SpanKind.region:
            return {"type": "region", "x": row.x, "y": row.y, "w": row.w, "h": row.h}
        if row.span_kind == SpanKind.text:
            return {"type": "text", "start": row.char_start, "end": row.char_end}
        return None


class MomentInSchema(InSchema):
    client_uuid = ma.fields.UUID(allow_none=True, load_default=None)
    occurred_at = ma.fields.AwareDateTime(allow_none=True, load_default=None)
    offset_s = ma.fields.Float(
        allow_none=True,
        load_default=None,
        # as long as the longest recording (a journal adds it to the visit's start)
        validate=ma.validate.Range(min=0, max=1e7),
        allow_nan=False,
    )
    stage = text(100, load_default="")
    what_happened = text(20_000, min_length=1, required=True)
    sentiment = ma.fields.Integer(
        allow_none=True, load_default=None, validate=ma.validate.Range(-2, 2)
    )
    effort = ma.fields.Integer(allow_none=True, load_default=None, validate=ma.validate.Range(1, 5))
    checklist_answers = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Raw(), load_default=dict
    )
    citations = ma.fields.List(
        ma.fields.Nested(CitationInSchema), load_default=list, validate=ma.validate.Length(max=50)
    )


class MomentOutSchema(OutSchema):
    id = ma.fields.UUID()
    visit_id = ma.fields.UUID()
    author_id = ma.fields.UUID()
    occurred_at = ma.fields.DateTime(allow_none=True)
    offset_s = ma.fields.Float(allow_none=True)
    stage = ma.fields.String()
    what_happened = ma.fields.String()
    sentiment = ma.fields.Integer(allow_none=True)
    effort = ma.fields.Integer(allow_none=True)
    checklist_answers = ma.fields.Dict()
    citations = ma.fields.Method("get_citations")
    created_at = ma.fields.DateTime()

    def get_citations(self, moment: Any) -> list[dict[str, Any]]:
        return CitationOutSchema(many=True).dump(findings.citations_of(moment_id=moment.id))


class FindingInSchema(InSchema):
    client_uuid = ma.fields.UUID(allow_none=True, load_default=None)
    kind = ma.fields.Enum(FindingKind, required=True)
    severity = ma.fields.Integer(load_default=2, validate=ma.validate.Range(1, 4))
    title = text(300, min_length=1, required=True)
    body = text(50_000, load_default="")
    journey_id = ma.fields.UUID(allow_none=True, load_default=None)
    citations = ma.fields.List(
        ma.fields.Nested(CitationInSchema), load_default=list, validate=ma.validate.Length(max=200)
    )


class FindingPatchSchema(InSchema):
    kind = ma.fields.Enum(FindingKind)
    severity = ma.fields.Integer(validate=ma.validate.Range(1, 4))
    title = text(300, min_length=1)
    body = text(50_000)
    status = ma.fields.String(
        validate=ma.validate.OneOf(["open", "accepted", "dismissed", "resolved"])
    )


class FindingOutSchema(OutSchema):
    id = ma.fields.UUID()
    study_id = ma.fields.UUID()
    journey_id = ma.fields.UUID(allow_none=True)
    author_id = ma.fields.UUID()
    kind = ma.fields.Enum(FindingKind)
    severity = ma.fields.Integer()
    title = ma.fields.String()
    body = ma.fields.String()
    status = ma.fields.String()
    citations = ma.fields.Method("get_citations")
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()

    def get_citations(self, finding: Any) -> list[dict[str, Any]]:
        return CitationOutSchema(many=True).dump(findings.citations_of(finding_id=finding.id))


class CitationListSchema(InSchema):
    citations = ma.fields.List(
        ma.fields.Nested(CitationInSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=200),
    )


class ActionInSchema(InSchema):
    title = text(300, min_length=1, required=True)
    owner = text(200, load_default="")
    due_on = ma.fields.Date(allow_none=True, load_default=None)
    status = ma.fields.String(
        load_default="open", validate=ma.validate.OneOf(["open", "in_progress", "done", "dropped"])
    )
    outcome = text(20_000, load_default="")


class ActionPatchSchema(ActionInSchema):
    """The same fields, each optional, for changes."""


class ActionOutSchema(OutSchema):
    id = ma.fields.UUID()
    finding_id = ma.fields.UUID()
    title = ma.fields.String()
    owner = ma.fields.String()
    due_on = ma.fields.Date(allow_none=True)
    status = ma.fields.String()
    outcome = ma.fields.String()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


@blp.route("/visits/<uuid:visit_id>/moments")
class VisitMoments(MethodView):
    @blp.response(200, MomentOutSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, visit_id: uuid.UUID) -> Any:
        """List a visit's moments along its timeline."""
        return findings.moments_query(current_user(), visit_id)

    @blp.arguments(MomentInSchema)
    @blp.response(201, MomentOutSchema)
    @blp.alt_response(200, schema=MomentOutSchema, description="The same moment sent again")
    def post(self, data: dict[str, Any], visit_id: uuid.UUID) -> Any:
        """Mark a moment: what happened, how it felt, what it cost, and its evidence."""
        return created_or_existing(*findings.create_moment(current_user(), visit_id, data))


@blp.route("/studies/<uuid:study_id>/findings")
class StudyFindings(MethodView):
    @blp.response(200, FindingOutSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, study_id: uuid.UUID) -> Any:
        """List a study's findings, most severe first."""
        user = current_user()
        access.get(Study, study_id, user)
        return (
            access.scoped(Finding, user)
            .where(Finding.study_id == study_id)
            .order_by(Finding.severity.desc(), Finding.created_at, Finding.id)
        )

    @blp.arguments(FindingInSchema)
    @blp.response(201, FindingOutSchema)
    @blp.alt_response(200, schema=FindingOutSchema, description="The same finding sent again")
    def post(self, data: dict[str, Any], study_id: uuid.UUID) -> Any:
        """Write a finding that cites evidence (reviewers and managers)."""
        return created_or_existing(*findings.create_finding(current_user(), study_id, data))


@blp.route("/findings/<uuid:finding_id>")
class FindingById(MethodView):
    @blp.response(200, FindingOutSchema)
    def get(self, finding_id: uuid.UUID) -> Any:
        """Show a finding with its citations."""
        return findings.get_finding(current_user(), finding_id)

    @blp.arguments(FindingPatchSchema)
    @blp.response(200, FindingOutSchema)
    def patch(self, data: dict[str, Any], finding_id: uuid.UUID) -> Any:
        """Change a finding (reviewers and managers)."""
        return findings.update_finding(current_user(), finding_id, data)


@blp.route("/findings/<uuid:finding_id>/citations")
class FindingCitations(MethodView):
    @blp.arguments(CitationListSchema)
    @blp.response(201, FindingOutSchema)
    def post(self, data: dict[str, Any], finding_id: uuid.UUID) -> Any:
        """Cite more evidence for a finding."""
        return findings.add_citations(current_user(), finding_id, data["citations"])


@blp.route("/citations/<uuid:citation_id>")
class CitationById(MethodView):
    @blp.response(204)
    def delete(self, citation_id: uuid.UUID) -> None:
        """Remove a citation (reviewers and managers)."""
        findings.remove_citation(current_user(), citation_id)


@blp.route("/findings/<uuid:finding_id>/actions")
class FindingActions(MethodView):
    @blp.response(200, ActionOutSchema(many=True))
    def get(self, finding_id: uuid.UUID) -> Any:
        """List what will be done about a finding."""
        return findings.actions_of(current_user(), finding_id)

    @blp.arguments(ActionInSchema)
    @blp.response(201, ActionOutSchema)
    def post(self, data: dict[str, Any], finding_id: uuid.UUID) -> Any:
        """Plan an action with an owner and a due date (managers)."""
        return findings.create_action(current_user(), finding_id, data)


@blp.route("/actions/<uuid:action_id>")
class ActionById(MethodView):
    @blp.arguments(ActionPatchSchema(partial=True))
    @blp.response(200, ActionOutSchema)
    def patch(self, data: dict[str, Any], action_id: uuid.UUID) -> Any:
        """Change an action's owner, due date, status or outcome (managers)."""
        return findings.update_action(current_user(), action_id, data)
