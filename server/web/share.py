"""The shared, read-only journal view for people without an account."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from server.api.journals import JOURNAL_CSP
from server.services import journals

bp = Blueprint("share", __name__)


@bp.get("/share/<token>")
def view(token: str) -> Any:
    """Show a published journal through a live share link; redacted evidence only."""
    journal = journals.shared_journal(token)
    body, _ = journals.render(journal, "html")
    response = Response(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = JOURNAL_CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
