"""Resumable uploads over the tus 1.0 protocol at ``/api/v1/uploads``.

tus is a protocol of headers rather than JSON bodies, so these routes are a plain Flask
blueprint; errors still leave in the shared JSON error shape. Real tus clients (tuspy,
tus-js-client) work unchanged.
"""

from __future__ import annotations

import uuid
from email.utils import format_datetime
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from server.errors import AppError
from server.extensions import caller_key, db, limiter, upload_limit
from server.services import access, uploads

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,checksum,termination,expiration"

bp = Blueprint("uploads", __name__)


@bp.before_request
def require_tus_version() -> None:
    """Refuse clients that speak another tus version (OPTIONS is exempt)."""
    if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise AppError(
            f"Send Tus-Resumable: {TUS_VERSION}.",
            status=412,
            code="upload.tus_version",
            headers={"Tus-Version": TUS_VERSION},
        )


@bp.after_request
def tus_headers(response: Response) -> Response:
    """Every tus answer names the protocol version and is never cached."""
    response.headers["Tus-Resumable"] = TUS_VERSION
    response.headers["Cache-Control"] = "no-store"
    response.headers["Access-Control-Expose-Headers"] = (
        "Upload-Offset, Upload-Length, Upload-Expires, Location, Tus-Resumable, "
        "Fieldbook-Evidence-Id"
    )
    return response


def _max_size() -> int:
    return max(int(v) for v in current_app.config["UPLOAD_LIMITS"].values())


@bp.route("/uploads", methods=["OPTIONS"])
def options() -> Response:
    """Describe what this server supports."""
    response = Response(status=204)
    response.headers.update(
        {
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(_max_size()),
            "Tus-Checksum-Algorithm": ",".join(uploads.CHECKSUMS),
        }
    )
    return response


def _int_header(name: str) -> int | None:
    value = request.headers.get(name)
    if value is None:
        return None
    # isdigit() admits digits such as '²' that int() refuses, and int() refuses more than
    # 4300 digits: a byte count has at most 20 ASCII digits
    if not (value.isascii() and value.isdigit()) or len(value) > 20:
        raise AppError(
            f"{name} must be a whole number of bytes.",
            code="upload.header_invalid",
            errors={name: ["Not a non-negative integer."]},
        )
    return int(value)


def _progress_headers(response: Response, progress: uploads.Progress) -> Response:
    upload = progress.upload
    response.headers["Upload-Offset"] = str(progress.offset)
    response.headers["Upload-Length"] = str(upload.length)
    if upload.completed_at is None:
        response.headers["Upload-Expires"] = format_datetime(upload.expires_at, usegmt=True)
    if progress.evidence_id is not None:
        response.headers["Fieldbook-Evidence-Id"] = str(progress.evidence_id)
    return response


def _patch_body(progress_in: uploads.Upload, offset: int) -> uploads.Progress:
    if request.mimetype != "application/offset+octet-stream":
        raise AppError(
            "PATCH bodies must be application/offset+octet-stream.",
            status=415,
            code="upload.content_type",
            errors={"Content-Type": ["Use application/offset+octet-stream."]},
        )
    return uploads.append(
        access.current_user(),
        progress_in,
        offset,
        request.stream,
        request.content_length,
        uploads.parse_checksum(request.headers.get("Upload-Checksum")),
    )


@bp.post("/uploads")
@limiter.limit(upload_limit, key_func=caller_key)
def create() -> Response:
    """Create an upload (tus creation); the body may carry its first bytes."""
    user = access.current_user()
    length = _int_header("Upload-Length")
    if length is not None and length > _max_size():
        raise AppError(
            "Too large for any evidence kind.",
            status=413,
            code="upload.too_large",
            errors={"Upload-Length": [f"At most {_max_size()}."]},
        )
    upload = uploads.create(user, length, request.headers.get("Upload-Metadata", ""))
    db.session.commit()
    progress = uploads.status(upload)
    if request.content_length:
        progress = _patch_body(upload, 0)
    response = Response(status=201)
    response.headers["Location"] = url_for("uploads.upload", upload_id=upload.id, _external=True)
    return _progress_headers(response, progress)


@bp.route("/uploads/<uuid:upload_id>", methods=["HEAD"])
def upload(upload_id: uuid.UUID) -> Response:
    """Tell how many bytes of an upload the server holds."""
    progress = uploads.status(uploads.load(access.current_user(), upload_id))
    return _progress_headers(Response(status=200), progress)


@bp.patch("/uploads/<uuid:upload_id>")
def patch(upload_id: uuid.UUID) -> Response:
    """Append bytes at Upload-Offset; the last byte turns the upload into evidence."""
    offset = _int_header("Upload-Offset")
    if offset is None:
        raise AppError(
            "Send Upload-Offset.",
            code="upload.header_invalid",
            errors={"Upload-Offset": ["Required."]},
        )
    upload = uploads.load(access.current_user(), upload_id)
    progress = _patch_body(upload, offset)
    return _progress_headers(Response(status=204), progress)


@bp.delete("/uploads/<uuid:upload_id>")
def delete(upload_id: uuid.UUID) -> Any:
    """Cancel an unfinished upload and free its space (tus termination)."""
    uploads.terminate(uploads.load(access.current_user(), upload_id))
    return Response(status=204)
