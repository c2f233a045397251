"""Visits: what researchers did, and their review."""

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
    for_changes,
    text,
)
from server.models import Channel, EvidenceKind, Study, Visit, VisitStatus
from server.services import access, visits

blp = ApiBlueprint("visits", __name__, description="Visits and their review workflow")


class ManifestEntrySchema(InSchema):
    client_uuid = ma.fields.UUID(required=True)
    kind = ma.fields.Enum(EvidenceKind, required=True)
    filename = text(255, load_default="")


class ManifestEntryOutSchema(OutSchema):
    client_uuid = ma.fields.String()
    kind = ma.fields.String()
    filename = ma.fields.String()


class VisitInSchema(InSchema):
    client_uuid = ma.fields.UUID(
        allow_none=True,
        load_default=None,
        metadata={"description": "Generated on the phone; repeats with it are safe"},
    )
    channel = ma.fields.Enum(Channel, required=True)
    assignment_id = ma.fields.UUID(allow_none=True, load_default=None)
    journey_id = ma.fields.UUID(allow_none=True, load_default=None)
    journey_position = ma.fields.Integer(
        allow_none=True, load_default=None, validate=ma.validate.Range(min=0, max=10_000)
    )
    target_id = ma.fields.UUID(allow_none=True, load_default=None)
    title = text(200, load_default="")
    summary = text(20_000, load_default="")
    started_at = ma.fields.AwareDateTime(allow_none=True, load_default=None)
    ended_at = ma.fields.AwareDateTime(allow_none=True, load_default=None)
    latitude = ma.fields.Float(
        allow_none=True, load_default=None, validate=ma.validate.Range(min=-90, max=90)
    )
    longitude = ma.fields.Float(
        allow_none=True, load_default=None, validate=ma.validate.Range(min=-180, max=180)
    )
    device = text(200, load_default="")
    checklist_answers = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(max=80)),
        values=ma.fields.Raw(),
        load_default=dict,
    )
    evidence_manifest = ma.fields.List(
        ma.fields.Nested(ManifestEntrySchema),
        load_default=list,
        validate=ma.validate.Length(max=2000),
        metadata={"description": "The items captured for this visit, sent before their files"},
    )

    @ma.validates_schema
    def ends_after_start(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("started_at"), data.get("ended_at")
        if start and end and end < start:
            raise ma.ValidationError("Must not be before started_at.", "ended_at")


class VisitUpdateSchema(VisitInSchema):
    class Meta:
        exclude = ("client_uuid", "channel")


class VisitOutSchema(OutSchema):
    id = ma.fields.UUID()
    study_id = ma.fields.UUID()
    client_uuid = ma.fields.UUID(allow_none=True)
    researcher_id = ma.fields.UUID()
    assignment_id = ma.fields.UUID(allow_none=True)
    journey_id = ma.fields.UUID(allow_none=True)
    journey_position = ma.fields.Integer(allow_none=True)
    target_id = ma.fields.UUID(allow_none=True)
    channel = ma.fields.Enum(Channel)
    status = ma.fields.Enum(VisitStatus)
    title = ma.fields.String()
    summary = ma.fields.String()
    started_at = ma.fields.DateTime(allow_none=True)
    ended_at = ma.fields.DateTime(allow_none=True)
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    device = ma.fields.String()
    checklist_answers = ma.fields.Dict()
    evidence_manifest = ma.fields.List(ma.fields.Nested(ManifestEntryOutSchema))
    missing_evidence = ma.fields.Method(
        "get_missing",
        metadata={"description": "Client UUIDs of manifest items whose files have not arrived"},
    )
    submitted_at = ma.fields.DateTime(allow_none=True)
    reviewed_by_id = ma.fields.UUID(allow_none=True)
    reviewed_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()

    def get_missing(self, visit: Visit) -> list[str]:
        return [str(u) for u in visits.missing_evidence(visit)]


class VisitFilterSchema(InSchema):
    status = ma.fields.Enum(VisitStatus)
    channel = ma.fields.Enum(Channel)
    researcher_id = ma.fields.UUID()
    journey_id = ma.fields.UUID()
    target_id = ma.fields.UUID()
    assignment_id = ma.fields.UUID()
    started_after = ma.fields.AwareDateTime()
    started_before = ma.fields.AwareDateTime()

    class Meta:
        # the pagination arguments share the query string
        unknown = ma.EXCLUDE


class TransitionSchema(InSchema):
    to = ma.fields.Enum(VisitStatus, required=True)
    comment = text(20_000, load_default="")


@blp.route("/studies/<uuid:study_id>/visits")
class Visits(MethodView):
    @blp.arguments(VisitFilterSchema, location="query")
    @blp.response(200, VisitOutSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters: dict[str, Any], study_id: uuid.UUID) -> Any:
        """List the visits of a study you may see, newest first, with filters."""
        user = access.current_user()
        study = access.get(Study, study_id, user)
        return visits.list_query(user, study, filters)

    @blp.arguments(VisitInSchema)
    @blp.response(201, VisitOutSchema)
    @blp.alt_response(200, schema=VisitOutSchema, description="The same create repeated")
    def post(self, data: dict[str, Any], study_id: uuid.UUID) -> Any:
        """Start a visit (researchers); send a client UUID so retries never duplicate it."""
        return created_or_existing(*visits.create_visit(access.current_user(), study_id, data))


@blp.route("/visits/<uuid:visit_id>")
class VisitById(MethodView):
    @blp.response(200, VisitOutSchema)
    def get(self, visit_id: uuid.UUID) -> Any:
        """Show a visit."""
        return access.get(Visit, visit_id, access.current_user())

    @blp.arguments(for_changes(VisitUpdateSchema))
    @blp.response(200, VisitOutSchema)
    def patch(self, data: dict[str, Any], visit_id: uuid.UUID) -> Any:
        """Change your visit while it is a draft or returned."""
        return visits.update_visit(access.current_user(), visit_id, data)


@blp.route("/visits/<uuid:visit_id>/transitions")
class VisitTransitions(MethodView):
    @blp.arguments(TransitionSchema)
    @blp.response(200, VisitOutSchema)
    def post(self, data: dict[str, Any], visit_id: uuid.UUID) -> Any:
        """Move a visit: submit (its researcher); take in review, approve or return (reviewers)."""
        return visits.transition(access.current_user(), visit_id, data["to"], data["comment"])
