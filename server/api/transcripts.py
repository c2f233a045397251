"""Transcripts of calls, job progress, and search within a study."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask.views import MethodView

from server.api.common import ApiBlueprint, InSchema, OutSchema, text
from server.models import Evidence, JobStatus, Study
from server.services import access, search, transcripts
from server.services.access import current_user

blp = ApiBlueprint("transcripts", __name__, description="Transcripts, jobs and search")


class SegmentSchema(OutSchema):
    start = ma.fields.Float()
    end = ma.fields.Float()
    text = ma.fields.String()
    speaker = ma.fields.String(allow_none=True)
    channel = ma.fields.Integer(allow_none=True)
    confidence = ma.fields.Float(allow_none=True)
    words = ma.fields.List(ma.fields.Dict())


class RedactedRangeSchema(OutSchema):
    start = ma.fields.Float()
    end = ma.fields.Float()
    kind = ma.fields.String()


class TranscriptSchema(OutSchema):
    id = ma.fields.UUID()
    engine = ma.fields.String()
    model = ma.fields.String()
    language = ma.fields.String()
    view = ma.fields.String(metadata={"description": "redacted (default) or original"})
    text = ma.fields.String()
    segments = ma.fields.List(ma.fields.Nested(SegmentSchema))
    redacted_ranges = ma.fields.List(ma.fields.Nested(RedactedRangeSchema))
    metrics = ma.fields.Dict(
        metadata={
            "description": "Hold, silence, talk ratio, overtalk, first answer, "
            "transfers and repeated requests, each with its time ranges"
        }
    )
    created_at = ma.fields.DateTime()


class TranscriptViewArgs(InSchema):
    view = ma.fields.String(
        load_default="redacted", validate=ma.validate.OneOf(["redacted", "original"])
    )


class TranscribeSchema(InSchema):
    engine = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=ma.validate.OneOf(["faster-whisper", "openai-whisper"]),
    )
    model = text(300, load_default=None, allow_none=True)


class JobSchema(OutSchema):
    id = ma.fields.UUID()
    kind = ma.fields.String()
    subject_type = ma.fields.String()
    subject_id = ma.fields.String()
    status = ma.fields.Enum(JobStatus)
    progress = ma.fields.Float()
    attempts = ma.fields.Integer()
    error = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)


class SearchArgs(InSchema):
    q = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


class HitSchema(OutSchema):
    evidence_id = ma.fields.UUID()
    visit_id = ma.fields.UUID()
    kind = ma.fields.String(metadata={"description": "segment (of a transcript) or note"})
    start_s = ma.fields.Float(allow_none=True)
    end_s = ma.fields.Float(allow_none=True)
    line = ma.fields.Integer(allow_none=True)
    speaker = ma.fields.String()
    text = ma.fields.String()


@blp.route("/evidence/<uuid:evidence_id>/transcripts")
class Transcripts(MethodView):
    @blp.response(200, TranscriptSchema(many=True))
    def get(self, evidence_id: uuid.UUID) -> Any:
        """List an audio item's transcripts, redacted."""
        return [
            transcripts.as_view(t) for t in transcripts.transcripts_of(current_user(), evidence_id)
        ]

    @blp.arguments(TranscribeSchema)
    @blp.response(202, JobSchema)
    def post(self, data: dict[str, Any], evidence_id: uuid.UUID) -> Any:
        """Transcribe again, e.g. with another model (reviewers and managers); both are kept."""
        item = access.get(Evidence, evidence_id, current_user(), access.REVIEWERS)
        return transcripts.request_transcript(item, data["engine"], data["model"])


@blp.route("/evidence/<uuid:evidence_id>/transcripts/<uuid:transcript_id>")
class TranscriptById(MethodView):
    @blp.arguments(TranscriptViewArgs, location="query")
    @blp.response(200, TranscriptSchema)
    def get(self, args: dict[str, Any], evidence_id: uuid.UUID, transcript_id: uuid.UUID) -> Any:
        """Show a transcript: redacted, or the original (managers; audited)."""
        return transcripts.view(
            current_user(), evidence_id, transcript_id, original=args["view"] == "original"
        )


@blp.route("/jobs/<uuid:job_id>")
class JobById(MethodView):
    @blp.response(200, JobSchema)
    def get(self, job_id: uuid.UUID) -> Any:
        """Show a background job's status and progress."""
        return transcripts.job_for(current_user(), job_id)


@blp.route("/evidence/<uuid:evidence_id>/jobs")
class EvidenceJobs(MethodView):
    @blp.response(200, JobSchema(many=True))
    def get(self, evidence_id: uuid.UUID) -> Any:
        """List the jobs working on an evidence item (processing, transcription)."""
        return transcripts.jobs_of(current_user(), evidence_id)


@blp.route("/studies/<uuid:study_id>/search")
class StudySearch(MethodView):
    @blp.arguments(SearchArgs, location="query")
    @blp.response(200, HitSchema(many=True))
    def get(self, args: dict[str, Any], study_id: uuid.UUID) -> Any:
        """Search a study's transcripts and notes; hits give the second or the line."""
        user = current_user()
        study = access.get(Study, study_id, user)
        return search.search(user, study, args["q"])
