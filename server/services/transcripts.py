"""Transcripts of audio evidence: the transcription job, the redacted and original views.

A transcript belongs to the audio's bytes and the engine and model that made it, so the
same recording is never transcribed twice with the same model, and re-transcribing with
another model keeps both. Everyone who may see the item reads the redacted view; the
original is for managers only, and every read of it is audited.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from typing import Any

import sqlalchemy as sa
from flask import current_app

from server.errors import NotFound
from server.extensions import db
from server.jobs import FAILURE_HOOKS, JobContext, PermanentJobError, jobs, register
from server.models import Evidence, EvidenceKind, Job, Role, Transcript, User
from server.services import access, audit, search
from server.services.evidence import store
from transcription import call_metrics, get_engine, redact, transcribe_call
from transcription.errors import TranscriptionError

CHANNEL_LABELS = ("caller", "agent")


def engine_choice(engine: str | None = None, model: str | None = None) -> tuple[str, str]:
    """Return the (engine, model) to use, defaulting to the configured ones."""
    config = current_app.config
    return (
        engine or str(config["WHISPER_ENGINE"]),
        model or str(config["WHISPER_MODEL"]),
    )


def request_transcript(item: Evidence, engine: str | None = None, model: str | None = None) -> Job:
    """Queue a transcription of an audio item unless that audio and model are done or queued."""
    if item.kind != EvidenceKind.audio or item.blob_sha256 is None:
        raise NotFound("Only stored audio can be transcribed.", code="transcript.not_audio")
    engine, model = engine_choice(engine, model)
    return jobs.submit(
        "transcription.transcribe",
        study_id=item.study_id,
        subject_type="evidence",
        subject_id=item.id,
        params={"engine": engine, "model": model},
        dedup_key=f"transcribe:{item.blob_sha256}:{engine}:{model}",
    )


@register("transcription.transcribe")
def transcribe_job(ctx: JobContext) -> None:
    """Transcribe one audio blob, measure the call, redact, store and index."""
    item = db.session.get_one(Evidence, ctx.job.subject_id_uuid)
    engine_name, model = ctx.job.params["engine"], ctx.job.params["model"]
    assert item.blob_sha256 is not None  # noqa: S101 - only stored audio is queued
    existing = _find(item.blob_sha256, engine_name, model)
    if existing is None:
        with tempfile.NamedTemporaryFile(prefix="fieldbook-", suffix=".audio") as local:
            with store().open(item.blob_sha256) as original:
                shutil.copyfileobj(original, local, 1024 * 1024)
            local.flush()
            ctx.progress(0.05)
            try:
                engine = get_engine(
                    engine_name, model, cpu_threads=int(current_app.config["WHISPER_THREADS"])
                )
                ctx.progress(0.1)
                transcript = transcribe_call(local.name, engine, CHANNEL_LABELS)
                ctx.progress(0.8)
                metrics = call_metrics(local.name, transcript, CHANNEL_LABELS)
            except TranscriptionError as error:
                raise PermanentJobError(f"{error.code}: {error.message}") from error
        redacted = redact(transcript)
        existing = Transcript(
            blob_sha256=item.blob_sha256,
            engine=engine_name,
            model=model,
            language=transcript.language or "",
            text=transcript.text,
            redacted_text=redacted.transcript.text,
            segments=transcript.to_dict()["segments"],
            redacted_segments=redacted.transcript.to_dict()["segments"],
            redacted_ranges=[
                {"start": r.start, "end": r.end, "kind": r.kind} for r in redacted.redacted_ranges
            ],
            metrics=metrics.to_dict(),
        )
        db.session.add(existing)
        db.session.flush()
    _index_all_items(existing)


def _index_all_items(transcript: Transcript) -> None:
    """Index the redacted segments for every item holding this audio."""
    items = db.session.scalars(
        sa.select(Evidence).where(Evidence.blob_sha256 == transcript.blob_sha256)
    )
    for item in items:
        search.index_segments(item, transcript.id, transcript.redacted_segments)


def _find(sha256: str, engine: str, model: str) -> Transcript | None:
    return db.session.scalar(
        sa.select(Transcript).where(
            Transcript.blob_sha256 == sha256, Transcript.engine == engine, Transcript.model == model
        )
    )


def transcripts_of(user: User, evidence_id: uuid.UUID) -> list[Transcript]:
    """List the transcripts of an item the user may see, newest first."""
    item = access.get(Evidence, evidence_id, user)
    if item.blob_sha256 is None:
        return []
    return list(
        db.session.scalars(
            sa.select(Transcript)
            .where(Transcript.blob_sha256 == item.blob_sha256)
            .order_by(Transcript.created_at.desc(), Transcript.id)
        )
    )


def view(
    user: User, evidence_id: uuid.UUID, transcript_id: uuid.UUID, original: bool
) -> dict[str, Any]:
    """Return one transcript as its redacted view, or (managers, audited) the original."""
    item = access.get(
        Evidence, evidence_id, user, access.MANAGERS if original else access.EVERY_ROLE
    )
    transcript = db.session.get(Transcript, transcript_id)
    if transcript is None or transcript.blob_sha256 != item.blob_sha256:
        raise NotFound("No such transcript of this item.")
    if original:
        audit.record(
            "transcript.original.read",
            study_id=item.study_id,
            object_type="transcript",
            object_id=transcript.id,
            detail={"evidence_id": str(item.id)},
        )
    return as_view(transcript, original)


def as_view(transcript: Transcript, original: bool = False) -> dict[str, Any]:
    """Shape a transcript for the API: redacted unless the original was asked for."""
    return {
        "id": transcript.id,
        "engine": transcript.engine,
        "model": transcript.model,
        "language": transcript.language,
        "view": "original" if original else "redacted",
        "text": transcript.text if original else transcript.redacted_text,
        "segments": transcript.segments if original else transcript.redacted_segments,
        "redacted_ranges": transcript.redacted_ranges,
        "metrics": transcript.metrics,
        "created_at": transcript.created_at,
    }


def may_read_original(user: User, item: Evidence) -> bool:
    """Tell whether the user may read unredacted transcripts of this item."""
    return access.role_in(user, item.study_id) == Role.manager


def _fail_item(job: Job, error: BaseException) -> None:
    """Keep the reason on the job; the evidence item itself stays ready."""
    job.error = str(error)[:2000]


FAILURE_HOOKS["transcription.transcribe"] = _fail_item


def job_for(user: User, job_id: uuid.UUID) -> Job:
    """Return a job the user may see; a job about an evidence item is as visible as the item."""
    job = access.get(Job, job_id, user)
    if job.subject_type == "evidence":
        access.get(Evidence, job.subject_id_uuid, user)
    return job


def jobs_of(user: User, evidence_id: uuid.UUID) -> list[Job]:
    """List the jobs about an item the user may see, oldest first."""
    item = access.get(Evidence, evidence_id, user)
    return list(
        db.session.scalars(
            sa.select(Job)
            .where(Job.subject_type == "evidence", Job.subject_id == str(item.id))
            .order_by(Job.created_at, Job.id)
        )
    )
