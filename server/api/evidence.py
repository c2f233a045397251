"""Evidence of a visit: files in one request, notes, listing and downloads.

Large files go through resumable uploads (``/api/v1/uploads``, tus); both paths end in
the same ingest.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import marshmallow as ma
from flask import Response, redirect, stream_with_context
from flask.views import MethodView

from server.api.common import (
    FilePart,
    InSchema,
    MultipartBlueprint,
    OutSchema,
    SelectPage,
    created_or_existing,
    text,
)
from server.errors import field_error
from server.extensions import caller_key, limiter, upload_limit
from server.models import EvidenceKind, EvidenceStatus
from server.services import evidence as evidence_service
from server.services import evidence_access
from server.services.access import current_user
from server.services.evidence import Capture

blp = MultipartBlueprint("evidence", __name__, description="Evidence items of visits")

HEX64 = ma.validate.Regexp(r"^[0-9a-fA-F]{64}$", error="Not a sha256 in hex.")


class FlagSchema(OutSchema):
    code = ma.fields.String()
    message = ma.fields.String()
    details = ma.fields.Dict()


class EvidenceOutSchema(OutSchema):
    id = ma.fields.UUID()
    study_id = ma.fields.UUID()
    visit_id = ma.fields.UUID()
    client_uuid = ma.fields.UUID(allow_none=True)
    uploader_id = ma.fields.UUID()
    kind = ma.fields.Enum(EvidenceKind)
    status = ma.fields.Enum(EvidenceStatus)
    failure_code = ma.fields.String(allow_none=True)
    failure_reason = ma.fields.String(allow_none=True)
    sha256 = ma.fields.String(attribute="blob_sha256", allow_none=True)
    size = ma.fields.Integer(allow_none=True)
    mime = ma.fields.String()
    original_name = ma.fields.String()
    text = ma.fields.String(allow_none=True)
    captured_at = ma.fields.DateTime(allow_none=True)
    received_at = ma.fields.DateTime(allow_none=True)
    device = ma.fields.String()
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    location_accuracy_m = ma.fields.Float(allow_none=True)
    duration_s = ma.fields.Float(allow_none=True)
    width = ma.fields.Integer(allow_none=True)
    height = ma.fields.Integer(allow_none=True)
    trust_flags = ma.fields.List(ma.fields.Nested(FlagSchema))
    media_info = ma.fields.Dict()
    created_at = ma.fields.DateTime()


class FileFormSchema(InSchema):
    file = FilePart(required=True)
    kind = ma.fields.Enum(EvidenceKind, required=True)
    client_uuid = ma.fields.UUID(allow_none=True, load_default=None)
    captured_at = ma.fields.AwareDateTime(allow_none=True, load_default=None)
    sha256 = ma.fields.String(allow_none=True, load_default=None, validate=HEX64)
    device = text(200, load_default="")
    latitude = ma.fields.Float(
        allow_none=True, load_default=None, validate=ma.validate.Range(min=-90, max=90)
    )
    longitude = ma.fields.Float(
        allow_none=True, load_default=None, validate=ma.validate.Range(min=-180, max=180)
    )
    accuracy_m = ma.fields.Float(
        allow_none=True, load_default=None, validate=ma.validate.Range(min=0, max=1e7)
    )
    metadata = text(100_000, load_default=None, allow_none=True)

    @ma.validates("metadata")
    def metadata_is_object(self, value: str | None, **kwargs: Any) -> None:
        if value is None:
            return
        try:
            parsed = json.loads(value)
        except ValueError as error:
            raise ma.ValidationError("Not JSON.") from error
        if not isinstance(parsed, dict):
            raise ma.ValidationError("Must be a JSON object.")


class NoteInSchema(InSchema):
    client_uuid = ma.fields.UUID(allow_none=True, load_default=None)
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=1_000_000))
    captured_at = ma.fields.AwareDateTime(allow_none=True, load_default=None)


@blp.route("/visits/<uuid:visit_id>/evidence")
class VisitEvidence(MethodView):
    @blp.response(200, EvidenceOutSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, visit_id: uuid.UUID) -> Any:
        """List a visit's evidence in capture order."""
        return evidence_service.list_query(current_user(), visit_id)

    @blp.arguments(FileFormSchema, location="form_and_files")
    @blp.response(201, EvidenceOutSchema)
    @blp.alt_response(200, schema=EvidenceOutSchema, description="The same item sent again")
    @limiter.limit(upload_limit, key_func=caller_key)
    def post(self, form: dict[str, Any], visit_id: uuid.UUID) -> Any:
        """Add a file (up to the multipart limit) to your visit; send large files with tus."""
        user = current_user()
        visit = evidence_service.visit_for_capture(user, visit_id)
        upload = form["file"]
        capture = Capture(
            kind=form["kind"],
            client_uuid=form["client_uuid"],
            filename=upload.filename or "",
            captured_at=form["captured_at"],
            expected_sha256=(form["sha256"] or "").lower() or None,
            device=form["device"],
            latitude=form["latitude"],
            longitude=form["longitude"],
            accuracy_m=form["accuracy_m"],
            metadata=json.loads(form["metadata"]) if form["metadata"] else None,
        )
        return created_or_existing(*evidence_service.ingest(user, visit, upload.stream, capture))


@blp.route("/visits/<uuid:visit_id>/notes")
class VisitNotes(MethodView):
    @blp.arguments(NoteInSchema)
    @blp.response(201, EvidenceOutSchema)
    @blp.alt_response(200, schema=EvidenceOutSchema, description="The same note sent again")
    def post(self, data: dict[str, Any], visit_id: uuid.UUID) -> Any:
        """Add a Markdown note to your visit; it is kept exactly as written."""
        user = current_user()
        visit = evidence_service.visit_for_capture(user, visit_id)
        if not data["text"].strip():
            raise field_error("text", "The note is empty.", "note.empty")
        return created_or_existing(
            *evidence_service.add_note(
                user, visit, data["text"], data["client_uuid"], data["captured_at"]
            )
        )


@blp.route("/evidence/<uuid:evidence_id>")
class EvidenceById(MethodView):
    @blp.response(200, EvidenceOutSchema)
    def get(self, evidence_id: uuid.UUID) -> Any:
        """Show an evidence item with its metadata, processing status and trust flags."""
        return evidence_service.get(current_user(), evidence_id)


@blp.route("/evidence/<uuid:evidence_id>/original")
class EvidenceOriginal(MethodView):
    @blp.response(200, description="The original bytes, as an attachment")
    @blp.alt_response(302, description="A short-lived download URL (S3)")
    def get(self, evidence_id: uuid.UUID) -> Any:
        """Download the original, bit-identical; every access is audited."""
        download = evidence_access.original(current_user(), evidence_id)
        return _send(download)


@blp.route("/evidence/<uuid:evidence_id>/display")
class EvidenceDisplay(MethodView):
    @blp.response(200, description="A JPEG without GPS or other personal metadata")
    def get(self, evidence_id: uuid.UUID) -> Any:
        """Show a photo's display copy (orientation applied, no GPS)."""
        return _send(evidence_access.derived(current_user(), evidence_id, "display"))


@blp.route("/evidence/<uuid:evidence_id>/thumbnail")
class EvidenceThumbnail(MethodView):
    @blp.response(200, description="A small JPEG without GPS or other personal metadata")
    def get(self, evidence_id: uuid.UUID) -> Any:
        """Show a photo's thumbnail."""
        return _send(evidence_access.derived(current_user(), evidence_id, "thumbnail"))


def _send(download: evidence_access.Download) -> Response:
    if download.url is not None:
        return redirect(download.url, code=302)  # type: ignore[return-value]
    assert download.stream is not None  # noqa: S101 - one of url and stream is set

    def chunks() -> Any:
        with download.stream as stream:  # type: ignore[union-attr]
            while data := stream.read(256 * 1024):
                yield data

    response = Response(stream_with_context(chunks()), mimetype=download.content_type)
    response.headers["Content-Disposition"] = download.disposition
    if download.size is not None:
        response.headers["Content-Length"] = str(download.size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
