"""Reading the audit log."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask.views import MethodView

from server.api.common import ApiBlueprint, InSchema, OutSchema, SelectPage
from server.models import Study
from server.services import access, audit

blp = ApiBlueprint("audit", __name__, description="The audit log")


class AuditEventSchema(OutSchema):
    id = ma.fields.UUID()
    at = ma.fields.DateTime()
    actor_id = ma.fields.UUID(allow_none=True)
    actor_email = ma.fields.String()
    action = ma.fields.String()
    outcome = ma.fields.String()
    study_id = ma.fields.UUID(allow_none=True)
    object_type = ma.fields.String()
    object_id = ma.fields.String()
    ip = ma.fields.String()
    user_agent = ma.fields.String()
    detail = ma.fields.Dict()


class AuditFilterSchema(InSchema):
    action = ma.fields.String(validate=ma.validate.Length(max=80))
    study_id = ma.fields.UUID()

    class Meta:
        unknown = ma.EXCLUDE


@blp.route("/audit")
class AuditLog(MethodView):
    @blp.arguments(AuditFilterSchema, location="query")
    @blp.response(200, AuditEventSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters: dict[str, Any]) -> Any:
        """List audit events, newest first (admins)."""
        access.require_admin(access.current_user())
        return audit.events(study_id=filters.get("study_id"), action=filters.get("action"))


@blp.route("/studies/<uuid:study_id>/audit")
class StudyAuditLog(MethodView):
    @blp.arguments(AuditFilterSchema, location="query")
    @blp.response(200, AuditEventSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters: dict[str, Any], study_id: uuid.UUID) -> Any:
        """List a study's audit events, newest first (managers)."""
        study = access.get(Study, study_id, access.current_user(), access.MANAGERS)
        return audit.events(study_id=study.id, action=filters.get("action"))
