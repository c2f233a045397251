"""The processing job of one evidence item: read its metadata, make derived copies, flag doubts.

Photos get EXIF metadata, a display copy and a thumbnail without GPS, a perceptual hash
and trust flags; audio and video are probed by a decoder that can open nothing but the
item's own bytes. A file that cannot be read fails its item with a clear reason; a
passing fault (storage) is retried by the job runner.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from server.extensions import db
from server.jobs import FAILURE_HOOKS, JobContext, PermanentJobError, register
from server.media.errors import MediaRejected
from server.media.photos import inspect_photo, make_derivatives, perceptual_hash
from server.media.trust import looks_reused, trust_flags
from server.models import Evidence, EvidenceKind, EvidenceStatus, Job, Target, Visit
from server.services.evidence import store
from server.services.transcripts import request_transcript
from transcription.audio import probe
from transcription.errors import TranscriptionError

PHOTO_KINDS = frozenset({EvidenceKind.photo, EvidenceKind.screenshot})
MEDIA_KINDS = frozenset({EvidenceKind.audio, EvidenceKind.video})
OPEN_VISIT = timedelta(hours=12)


def display_name(sha256: str) -> str:
    """Name of the GPS-free display copy of a photo blob."""
    return f"display/{sha256}.jpg"


def thumbnail_name(sha256: str) -> str:
    """Name of the thumbnail of a photo blob."""
    return f"thumb/{sha256}.jpg"


@register("evidence.process")
def process_evidence(ctx: JobContext) -> None:
    """Process one evidence item and mark it ready."""
    item = db.session.get_one(Evidence, ctx.job.subject_id_uuid)
    if item.blob_sha256 is None:
        raise PermanentJobError("the item has no stored bytes")
    with tempfile.NamedTemporaryFile(prefix="fieldbook-", suffix=".bin") as local:
        with store().open(item.blob_sha256) as original:
            shutil.copyfileobj(original, local, 1024 * 1024)
        local.flush()
        ctx.progress(0.3)
        try:
            if item.kind in PHOTO_KINDS:
                _process_photo(item, local.name)
            elif item.kind in MEDIA_KINDS:
                _process_media(item, local.name)
        except MediaRejected as rejected:
            raise PermanentJobError(f"{rejected.code}: {rejected.message}") from rejected
        except TranscriptionError as error:
            raise PermanentJobError(f"{error.code}: {error.message}") from error
    item.status = EvidenceStatus.ready
    item.failure_code = item.failure_reason = None
    if item.kind == EvidenceKind.audio and current_app.config["AUTO_TRANSCRIBE"]:
        request_transcript(item)


def _process_photo(item: Evidence, path: str) -> None:
    config = current_app.config
    info = inspect_photo(path, max_pixels=int(config["PHOTO_MAX_PIXELS"]))
    display, thumb = make_derivatives(path, max_pixels=int(config["PHOTO_MAX_PIXELS"]))
    assert item.blob_sha256 is not None  # noqa: S101 - checked by the caller
    store().put_derived(display_name(item.blob_sha256), display, "image/jpeg")
    store().put_derived(thumbnail_name(item.blob_sha256), thumb, "image/jpeg")
    item.derived = {
        "display": display_name(item.blob_sha256),
        "thumbnail": thumbnail_name(item.blob_sha256),
    }
    item.width, item.height = info.width, info.height
    item.media_info = {**item.media_info, "photo": info.as_metadata()}
    if item.captured_at is None and info.captured_at is not None and info.captured_at.tzinfo:
        item.captured_at = info.captured_at.astimezone(UTC)
    if info.gps is not None and item.latitude is None:
        item.latitude, item.longitude = info.gps.latitude, info.gps.longitude
        item.location_accuracy_m = info.gps.accuracy_m
    item.perceptual_hash = perceptual_hash(path)
    visit = db.session.get_one(Visit, item.visit_id)
    target = db.session.get(Target, visit.target_id) if visit.target_id else None
    window = _visit_window(visit)
    point = (
        (target.latitude, target.longitude)
        if target is not None and target.latitude is not None and target.longitude is not None
        else None
    )
    flags: list[dict[str, object]] = [
        {"code": f.code, "message": f.message, "details": f.details}
        for f in trust_flags(
            info,
            visit_window=window,
            target_point=point,
            max_distance_m=float(config["TARGET_DISTANCE_M"]),
        )
    ]
    flags.extend(_reuse_flags(item))
    item.trust_flags = flags


def _visit_window(visit: Visit) -> tuple[datetime, datetime] | None:
    if visit.started_at is None:
        return None
    # a visit still open counts as lasting until its ending is recorded, up to half a day
    return visit.started_at, visit.ended_at or visit.started_at + OPEN_VISIT


def _reuse_flags(item: Evidence) -> list[dict[str, object]]:
    """Flag a photo that shows the same picture as one in another visit of the study."""
    assert item.perceptual_hash is not None  # noqa: S101 - set just before
    others = db.session.execute(
        sa.select(Evidence.id, Evidence.visit_id, Evidence.perceptual_hash).where(
            Evidence.study_id == item.study_id,
            Evidence.visit_id != item.visit_id,
            Evidence.perceptual_hash.is_not(None),
        )
    )
    bits = int(current_app.config["PHOTO_REUSE_BITS"])
    return [
        {
            "code": "photo.reused",
            "message": "the same picture is evidence of another visit",
            "details": {"evidence_id": str(other_id), "visit_id": str(visit_id)},
        }
        for other_id, visit_id, other_hash in others
        if other_hash is not None
        and looks_reused(item.perceptual_hash, other_hash, max_distance=bits)
    ]


def _process_media(item: Evidence, path: str) -> None:
    info = probe(path)
    if item.kind == EvidenceKind.audio and not info.has_audio:
        raise PermanentJobError("audio.no_stream: the file has no audio")
    item.duration_s = info.duration
    item.width, item.height = info.width, info.height
    item.media_info = {**item.media_info, "media": info.to_dict()}


def _fail_item(job: Job, error: BaseException) -> None:
    """Mark the item failed with a reason the researcher and reviewer can read."""
    item = db.session.get(Evidence, job.subject_id_uuid)
    if item is None:
        return
    text = str(error)
    code, _, reason = text.partition(": ")
    item.status = EvidenceStatus.failed
    item.failure_code = code if reason else "evidence.processing_failed"
    item.failure_reason = reason or text


FAILURE_HOOKS["evidence.process"] = _fail_item
