"""Studies and their members."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask.views import MethodView

from server.api.common import ApiBlueprint, InSchema, OutSchema, SelectPage, for_changes, text
from server.models import Role, Study
from server.services import access, studies

blp = ApiBlueprint("studies", __name__, description="Studies and their members")


class ChecklistItemSchema(ma.Schema):
    key = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[a-z0-9_]{1,80}$"))
    question = text(500, required=True)
    kind = ma.fields.String(
        load_default="yes_no", validate=ma.validate.OneOf(["yes_no", "scale", "text"])
    )
    weight = ma.fields.Float(load_default=1.0, validate=ma.validate.Range(min=0, max=100))


class StudyInSchema(InSchema):
    name = text(200, min_length=1, required=True)
    company = text(200, load_default="")
    description = text(10_000, load_default="")
    goals = ma.fields.List(text(500), load_default=list, validate=ma.validate.Length(max=50))
    journey_stages = ma.fields.List(
        text(100), load_default=list, validate=ma.validate.Length(max=30)
    )
    channels = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(["in_person", "phone", "web"])),
        load_default=list,
    )
    checklist = ma.fields.List(
        ma.fields.Nested(ChecklistItemSchema),
        load_default=list,
        validate=ma.validate.Length(max=200),
    )
    consent_text = text(10_000, load_default="")
    retention_days = ma.fields.Integer(
        allow_none=True, load_default=None, validate=ma.validate.Range(min=1, max=36500)
    )


class StudyPatchSchema(StudyInSchema):
    """The same fields, each optional, for changes."""


class StudyOutSchema(OutSchema):
    id = ma.fields.UUID()
    name = ma.fields.String()
    company = ma.fields.String()
    description = ma.fields.String()
    goals = ma.fields.List(ma.fields.String())
    journey_stages = ma.fields.List(ma.fields.String())
    channels = ma.fields.List(ma.fields.String())
    checklist = ma.fields.List(ma.fields.Nested(ChecklistItemSchema))
    consent_text = ma.fields.String()
    retention_days = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class MemberInSchema(InSchema):
    user_id = ma.fields.UUID(required=True)
    role = ma.fields.Enum(Role, required=True)


class MemberOutSchema(OutSchema):
    user_id = ma.fields.UUID()
    email = ma.fields.String(attribute="user.email")
    name = ma.fields.String(attribute="user.name")
    role = ma.fields.Enum(Role)
    created_at = ma.fields.DateTime()


@blp.route("/studies")
class Studies(MethodView):
    @blp.response(200, StudyOutSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self) -> Any:
        """List the studies you are a member of."""
        user = access.current_user()
        return access.scoped(Study, user).order_by(Study.created_at.desc(), Study.id)

    @blp.arguments(StudyInSchema)
    @blp.response(201, StudyOutSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a study (admins); you become its manager."""
        return studies.create_study(access.current_user(), data)


@blp.route("/studies/<uuid:study_id>")
class StudyById(MethodView):
    @blp.response(200, StudyOutSchema)
    def get(self, study_id: uuid.UUID) -> Any:
        """Show a study."""
        return access.get(Study, study_id, access.current_user())

    @blp.arguments(for_changes(StudyPatchSchema))
    @blp.response(200, StudyOutSchema)
    def patch(self, data: dict[str, Any], study_id: uuid.UUID) -> Any:
        """Change a study (managers)."""
        user = access.current_user()
        study = access.get(Study, study_id, user, access.MANAGERS)
        return studies.update(user, study, data, "study.update")


@blp.route("/studies/<uuid:study_id>/members")
class Members(MethodView):
    @blp.response(200, MemberOutSchema(many=True))
    def get(self, study_id: uuid.UUID) -> Any:
        """List the members of a study with their roles."""
        return studies.list_members(access.get(Study, study_id, access.current_user()))

    @blp.arguments(MemberInSchema)
    @blp.response(201, MemberOutSchema)
    def post(self, data: dict[str, Any], study_id: uuid.UUID) -> Any:
        """Add a member with a role (managers)."""
        study = access.get(Study, study_id, access.current_user(), access.MANAGERS)
        return studies.add_member(study, data["user_id"], data["role"])


@blp.route("/studies/<uuid:study_id>/members/<uuid:user_id>")
class MemberById(MethodView):
    @blp.response(204)
    def delete(self, study_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """Remove a member (managers)."""
        study = access.get(Study, study_id, access.current_user(), access.MANAGERS)
        studies.remove_member(study, user_id)
