"""Who is asking, and the headers every response carries.

API calls authenticate with ``Authorization: Bearer`` device tokens and are not bound to
CSRF; browser sessions are, for forms and for API calls alike. Every response gets a
strict Content-Security-Policy and ``nosniff``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request, session

from server.errors import Unauthorized
from server.extensions import csrf, db
from server.jobs import jobs
from server.services import accounts
from server.services.evidence import store
from server.storage import StorageError

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# reads that leave an audit row behind, so their transaction writes
AUDITED_READS = frozenset(
    {
        "evidence.EvidenceOriginal",
        "share.view",
        "transcripts.TranscriptById",
        "visit_pages.evidence",
        "visit_pages.recording",
    }
)


def content_security_policy(media_origin: str | None = None) -> str:
    """Return the pages' policy; ``media_origin`` may serve recordings (an object store)."""
    media = f"media-src 'self' blob: {media_origin}" if media_origin else "media-src 'self' blob:"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            media,
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


CSP = content_security_policy()
_POLICY = "fieldbook.content_security_policy"


def limit_body() -> None:
    """Cap request bodies before they are read; tus uploads check their own lengths."""
    if request.path.startswith("/api/v1/uploads"):
        return
    if request.method == "POST" and request.path.endswith("/evidence"):
        request.max_content_length = int(current_app.config["MULTIPART_MAX_BYTES"])
    else:
        request.max_content_length = int(current_app.config["MAX_JSON_BYTES"])


def mark_read_only() -> None:
    """Let reads that write nothing share the database (see ``extensions._sqlite_begin``)."""
    g.read_only = request.method in SAFE_METHODS and request.endpoint not in AUDITED_READS


def authenticate() -> None:
    """Find the caller from a bearer token or a browser session; refuse a bad token."""
    g.user = None
    g.auth = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthorized("Use 'Authorization: Bearer TOKEN'.", code="auth.bad_header")
        user = accounts.user_for_token(secret.strip(), request.remote_addr)
        if user is None:
            raise Unauthorized(
                "The token is unknown, expired or revoked.", code="auth.invalid_token"
            )
        g.user, g.auth = user, "token"
        return
    key = session.get("key")
    if key:
        user = accounts.user_for_web_session(key)
        if user is None:
            session.clear()
        else:
            g.user, g.auth = user, "session"
    if (
        request.path.startswith("/api/")
        and request.method in UNSAFE_METHODS
        and g.auth == "session"
    ):
        # a browser session must prove the call comes from our own pages
        csrf.protect()


def finish_transaction(response: Response) -> Response:
    """Commit what a successful request changed; roll back anything else."""
    if response.status_code < 400:
        db.session.commit()
        jobs.dispatch()
    else:
        db.session.rollback()
    return response


def _policy() -> str:
    """Return the app's policy, naming the object store that recordings are played from.

    On S3 the viewer's player is sent to a presigned URL of the store; the policy must
    allow that origin, and only it. The origin is read from a URL signed for nothing in
    particular (signing is local), once; while the store cannot sign (no credentials
    found yet), pages keep the strict policy and the next response asks again.
    """
    policy: str | None = current_app.extensions.get(_POLICY)
    if policy is not None:
        return policy
    try:
        url = store().presigned_url(
            "0" * 64,
            filename="probe",
            content_type="application/octet-stream",
            disposition="attachment",
            expires=60,
        )
    except StorageError:
        return CSP
    parts = urlsplit(url) if url else None
    policy = content_security_policy(f"{parts.scheme}://{parts.netloc}" if parts else None)
    current_app.extensions[_POLICY] = policy
    return policy


def security_headers(response: Response) -> Response:
    """Add the headers that make the browser strict with our responses."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", _policy())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")
    return response


def install_security(app: Flask) -> None:
    """Register authentication, transaction and header hooks on the app."""
    app.before_request(mark_read_only)
    app.before_request(limit_body)
    app.before_request(authenticate)
    app.after_request(finish_transaction)
    app.after_request(security_headers)
