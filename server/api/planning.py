"""What a study plans: targets to visit, customer journeys, and assignments."""

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
from server.models import Assignment, Channel, Journey, Role, Study, Target, TargetKind
from server.services import access, studies

blp = ApiBlueprint("planning", __name__, description="Targets, journeys and assignments")


class TargetInSchema(InSchema):
    kind = ma.fields.Enum(TargetKind, required=True)
    name = text(200, min_length=1, required=True)
    address = text(500, load_default="")
    latitude = ma.fields.Float(
        allow_none=True, load_default=None, validate=ma.validate.Range(min=-90, max=90)
    )
    longitude = ma.fields.Float(
        allow_none=True, load_default=None, validate=ma.validate.Range(min=-180, max=180)
    )
    phone = text(50, load_default="")
    url = ma.fields.URL(
        load_default="", schemes={"http", "https"}, validate=ma.validate.Length(max=2000)
    )


class TargetPatchSchema(TargetInSchema):
    """The same fields, each optional, for changes."""


class TargetOutSchema(OutSchema):
    id = ma.fields.UUID()
    study_id = ma.fields.UUID()
    kind = ma.fields.Enum(TargetKind)
    name = ma.fields.String()
    address = ma.fields.String()
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    phone = ma.fields.String()
    url = ma.fields.String()


class JourneyInSchema(InSchema):
    title = text(200, min_length=1, required=True)
    scenario = text(20_000, load_default="")
    resolved_at = ma.fields.AwareDateTime(allow_none=True, load_default=None)


class JourneyPatchSchema(JourneyInSchema):
    """The same fields, each optional, for changes."""


class JourneyOutSchema(OutSchema):
    id = ma.fields.UUID()
    study_id = ma.fields.UUID()
    title = ma.fields.String()
    scenario = ma.fields.String()
    resolved_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()


class AssignmentInSchema(InSchema):
    client_uuid = ma.fields.UUID(allow_none=True, load_default=None)
    researcher_id = ma.fields.UUID(required=True)
    target_id = ma.fields.UUID(allow_none=True, load_default=None)
    journey_id = ma.fields.UUID(allow_none=True, load_default=None)
    channel = ma.fields.Enum(Channel, required=True)
    scenario = text(20_000, load_default="")
    window_start = ma.fields.AwareDateTime(allow_none=True, load_default=None)
    window_end = ma.fields.AwareDateTime(allow_none=True, load_default=None)

    @ma.validates_schema
    def window_in_order(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("window_start"), data.get("window_end")
        if start and end and end <= start:
            raise ma.ValidationError("Must be after window_start.", "window_end")


class AssignmentOutSchema(OutSchema):
    id = ma.fields.UUID()
    study_id = ma.fields.UUID()
    client_uuid = ma.fields.UUID(allow_none=True)
    researcher_id = ma.fields.UUID()
    target_id = ma.fields.UUID(allow_none=True)
    journey_id = ma.fields.UUID(allow_none=True)
    channel = ma.fields.Enum(Channel)
    scenario = ma.fields.String()
    window_start = ma.fields.DateTime(allow_none=True)
    window_end = ma.fields.DateTime(allow_none=True)
    status = ma.fields.String()
    created_at = ma.fields.DateTime()


@blp.route("/studies/<uuid:study_id>/targets")
class Targets(MethodView):
    @blp.response(200, TargetOutSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, study_id: uuid.UUID) -> Any:
        """List a study's targets."""
        user = access.current_user()
        access.get(Study, study_id, user)
        return access.scoped(Target, user).where(Target.study_id == study_id).order_by(Target.name)

    @blp.arguments(TargetInSchema)
    @blp.response(201, TargetOutSchema)
    def post(self, data: dict[str, Any], study_id: uuid.UUID) -> Any:
        """Add a store, phone line or website to visit (managers)."""
        study = access.get(Study, study_id, access.current_user(), access.MANAGERS)
        return studies.create_target(study, data)


@blp.route("/targets/<uuid:target_id>")
class TargetById(MethodView):
    @blp.response(200, TargetOutSchema)
    def get(self, target_id: uuid.UUID) -> Any:
        """Show a target."""
        return access.get(Target, target_id, access.current_user())

    @blp.arguments(TargetPatchSchema(partial=True))
    @blp.response(200, TargetOutSchema)
    def patch(self, data: dict[str, Any], target_id: uuid.UUID) -> Any:
        """Change a target (managers)."""
        user = access.current_user()
        target = access.get(Target, target_id, user, access.MANAGERS)
        return studies.update(user, target, data, "target.update")


@blp.route("/studies/<uuid:study_id>/journeys")
class Journeys(MethodView):
    @blp.response(200, JourneyOutSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, study_id: uuid.UUID) -> Any:
        """List a study's customer journeys."""
        user = access.current_user()
        access.get(Study, study_id, user)
        return (
            access.scoped(Journey, user)
            .where(Journey.study_id == study_id)
            .order_by(Journey.created_at, Journey.id)
        )

    @blp.arguments(JourneyInSchema)
    @blp.response(201, JourneyOutSchema)
    def post(self, data: dict[str, Any], study_id: uuid.UUID) -> Any:
        """Add a customer journey (managers)."""
        study = access.get(Study, study_id, access.current_user(), access.MANAGERS)
        return studies.create_journey(study, data)


@blp.route("/journeys/<uuid:journey_id>")
class JourneyById(MethodView):
    @blp.response(200, JourneyOutSchema)
    def get(self, journey_id: uuid.UUID) -> Any:
        """Show a journey."""
        return access.get(Journey, journey_id, access.current_user())

    @blp.arguments(JourneyPatchSchema(partial=True))
    @blp.response(200, JourneyOutSchema)
    def patch(self, data: dict[str, Any], journey_id: uuid.UUID) -> Any:
        """Change a journey (managers)."""
        user = access.current_user()
        journey = access.get(Journey, journey_id, user, access.MANAGERS)
        return studies.update(user, journey, data, "journey.update")


@blp.route("/studies/<uuid:study_id>/assignments")
class Assignments(MethodView):
    @blp.response(200, AssignmentOutSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, study_id: uuid.UUID) -> Any:
        """List assignments: researchers see their own, reviewers and managers all."""
        user = access.current_user()
        role = access.require_role(user, study_id, access.EVERY_ROLE)
        query = access.scoped(Assignment, user).where(Assignment.study_id == study_id)
        if role == Role.researcher:
            query = query.where(Assignment.researcher_id == user.id)
        return query.order_by(Assignment.window_start, Assignment.created_at, Assignment.id)

    @blp.arguments(AssignmentInSchema)
    @blp.response(201, AssignmentOutSchema)
    @blp.alt_response(200, schema=AssignmentOutSchema, description="The same create repeated")
    def post(self, data: dict[str, Any], study_id: uuid.UUID) -> Any:
        """Plan a visit for a researcher (managers)."""
        user = access.current_user()
        study = access.get(Study, study_id, user, access.MANAGERS)
        return created_or_existing(*studies.create_assignment(user, study, data))


@blp.route("/assignments/<uuid:assignment_id>")
class AssignmentById(MethodView):
    @blp.response(200, AssignmentOutSchema)
    def get(self, assignment_id: uuid.UUID) -> Any:
        """Show an assignment."""
        user = access.current_user()
        assignment = access.get(Assignment, assignment_id, user)
        studies.require_own_assignment(user, assignment)
        return assignment
