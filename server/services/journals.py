"""Journals: compile a version, publish it sealed and signed, render it, share it.

A published version never changes: it keeps its signed file, whose content hash and the
sha256 of every cited item anyone can check with ``fieldbook journals verify``. Share
links give people without accounts a read-only, expiring, revocable view made only of
redacted evidence (GPS-free thumbnails, redacted transcripts).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app

import reports
from reports.pdf import render_pdf
from server.errors import AppError, Conflict, NotFound, ValidationFailed
from server.extensions import db
from server.models import Evidence, Journal, Journey, ShareLink, Study, User, Visit, utcnow
from server.services import access, audit
from server.services.journal_record import build_record

SCOPES = ("visit", "journey", "study")
KEY_FILE = "journal-signing-key.pem"


def signing_key() -> Ed25519PrivateKey:
    """Return the install's journal signing key, made on first use and kept private."""
    path = Path(current_app.config["DATA_DIR"]) / KEY_FILE
    if not path.exists():
        reports.save_signing_key(reports.generate_signing_key(), path)
        path.chmod(0o600)
    return reports.read_signing_key(path)


def _study_of(user: User, scope: str, subject_id: uuid.UUID) -> Study:
    """Resolve what a journal is about to its study, refusing what the user may not see."""
    if scope == "study":
        return access.get(Study, subject_id, user, access.REVIEWERS)
    model = Visit if scope == "visit" else Journey
    row = access.get(model, subject_id, user, access.REVIEWERS)
    return db.session.get_one(Study, row.study_id)  # type: ignore[attr-defined]


def _compile(study: Study, scope: str, subject_id: uuid.UUID) -> reports.Journal:
    record = build_record(study, embed_photos=scope != "study")
    if scope == "visit":
        return reports.compile_visit_journal(record, str(subject_id))
    if scope == "journey":
        return reports.compile_journey_journal(record, str(subject_id))
    return reports.compile_study_journal(record)


def create_draft(user: User, scope: str, subject_id: uuid.UUID) -> Journal:
    """Compile a new version of the journal of a visit, journey or study."""
    study = _study_of(user, scope, subject_id)
    compiled = _compile(study, scope, subject_id)
    latest = db.session.scalar(
        sa.select(sa.func.max(Journal.version)).where(
            Journal.scope == scope, Journal.subject_id == subject_id
        )
    )
    journal = Journal(
        study_id=study.id,
        scope=scope,
        subject_id=subject_id,
        version=(latest or 0) + 1,
        title=compiled.title,
        document=compiled.to_dict(),
    )
    db.session.add(journal)
    db.session.flush()
    audit.record("journal.compile", study_id=study.id, object_type="journal", object_id=journal.id)
    return journal


def get(user: User, journal_id: uuid.UUID) -> Journal:
    """Return a journal version the user may see."""
    return access.get(Journal, journal_id, user)


def as_report(journal: Journal) -> reports.Journal:
    """Return the stored document as ``reports`` sees it."""
    return reports.Journal.from_dict(journal.document)


def publish(user: User, journal_id: uuid.UUID) -> Journal:
    """Seal and sign a version (reviewers and managers); refuse findings without evidence."""
    journal = access.get(Journal, journal_id, user, access.REVIEWERS)
    if journal.published_at is not None:
        raise Conflict("This version is already published.", code="journal.already_published")
    report = as_report(journal)
    cited = reports.journal.cited_evidence_ids(report)
    hashes = {
        str(e.id): e.blob_sha256 or ""
        for e in db.session.scalars(
            sa.select(Evidence).where(
                Evidence.study_id == journal.study_id,
                Evidence.id.in_([uuid.UUID(i) for i in cited]),
            )
        )
    }
    now = utcnow()
    try:
        sealed = reports.publish(report, hashes, signing_key(), published_at=now)
    except reports.PublishError as error:
        raise ValidationFailed(
            "The journal cannot be published yet.",
            code="journal.unpublishable",
            errors={p.field: [f"{p.message} ({p.code})"] for p in error.problems},
        ) from error
    journal.signature = sealed.to_json_bytes().decode("utf-8")
    journal.content_sha256 = sealed.content_hash
    journal.published_at = now
    journal.published_by_id = user.id
    audit.record(
        "journal.publish",
        study_id=journal.study_id,
        object_type="journal",
        object_id=journal.id,
        detail={"content_sha256": sealed.content_hash, "cited": len(cited)},
    )
    return journal


def render(journal: Journal, fmt: str) -> tuple[bytes, str]:
    """Render a version as html, pdf, markdown or json; a published one as its signed file."""
    report = as_report(journal)
    if fmt == "html":
        return reports.render_html(report).encode("utf-8"), "text/html; charset=utf-8"
    if fmt == "pdf":
        return render_pdf(report), "application/pdf"
    if fmt == "markdown":
        return reports.render_markdown(report).encode("utf-8"), "text/markdown; charset=utf-8"
    if fmt == "json":
        if journal.signature:
            return journal.signature.encode("utf-8"), "application/json"
        return reports.render_json(report), "application/json"
    raise NotFound(f"No format {fmt!r}.", code="journal.format_unknown")


def list_query(user: User, study_id: uuid.UUID) -> sa.Select[Any]:
    """Select a study's journal versions, newest first."""
    study = access.get(Study, study_id, user)
    return (
        access.scoped(Journal, user)
        .where(Journal.study_id == study.id)
        .order_by(Journal.created_at.desc(), Journal.id)
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_share_link(user: User, journal_id: uuid.UUID, hours: int) -> tuple[ShareLink, str]:
    """Make a read-only link to a published version; the token is shown once."""
    journal = access.get(Journal, journal_id, user, access.REVIEWERS)
    if journal.published_at is None:
        raise Conflict("Only published journals can be shared.", code="journal.not_published")
    token = secrets.token_urlsafe(24)
    link = ShareLink(
        study_id=journal.study_id,
        journal_id=journal.id,
        token_hash=_digest(token),
        created_by_id=user.id,
        expires_at=utcnow() + timedelta(hours=hours),
    )
    db.session.add(link)
    db.session.flush()
    audit.record(
        "share.create",
        study_id=journal.study_id,
        object_type="share_link",
        object_id=link.id,
        detail={"journal_id": str(journal.id), "hours": hours},
    )
    return link, token


def revoke_share_link(user: User, link_id: uuid.UUID) -> None:
    """Revoke a share link at once."""
    link = access.get(ShareLink, link_id, user, access.REVIEWERS)
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        audit.record(
            "share.revoke", study_id=link.study_id, object_type="share_link", object_id=link.id
        )


def shared_journal(token: str) -> Journal:
    """Return the journal behind a live share link (no account needed); audit the view."""
    link = db.session.scalar(sa.select(ShareLink).where(ShareLink.token_hash == _digest(token)))
    if link is None:
        raise NotFound("This link does not exist.", code="share.unknown")
    if link.revoked_at is not None:
        raise AppError("This link was revoked.", status=410, code="share.revoked")
    if link.expires_at <= utcnow():
        raise AppError("This link has expired.", status=410, code="share.expired")
    audit.record("share.view", study_id=link.study_id, object_type="share_link", object_id=link.id)
    return db.session.get_one(Journal, link.journal_id)


def share_links_of(user: User, journal_id: uuid.UUID) -> list[ShareLink]:
    """List the share links of a journal version."""
    journal = access.get(Journal, journal_id, user, access.REVIEWERS)
    return list(
        db.session.scalars(
            sa.select(ShareLink)
            .where(ShareLink.journal_id == journal.id)
            .order_by(ShareLink.created_at)
        )
    )
