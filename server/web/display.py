"""How the viewer writes times, durations, channels and notes (Jinja filters and globals)."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from flask import Blueprint
from flask.blueprints import BlueprintSetupState
from markupsafe import Markup

from server.models import User
from server.web.notes import render_note

bp = Blueprint("display", __name__)

CHANNEL_LABELS = {"in_person": "In person", "phone": "Phone", "web": "Web"}
STATUS_LABELS = {
    "draft": "Draft",
    "submitted": "Submitted",
    "in_review": "In review",
    "approved": "Approved",
    "returned": "Returned",
}
KIND_LABELS = {
    "pain_point": "Pain point",
    "root_cause": "Root cause",
    "bright_spot": "Bright spot",
}
SEVERITY_LABELS = {1: "Low", 2: "Medium", 3: "High", 4: "Critical"}
NOTHING = "\u2013"  # an en dash stands for "no value"


@bp.app_template_filter("clock")
def clock(seconds: float | None) -> str:
    """Write seconds into a recording as m:ss (or h:mm:ss)."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@bp.app_template_filter("when")
def when(moment: datetime | date | None) -> str:
    """Write a UTC time the same way everywhere, e.g. 2026-03-02 10:15 UTC."""
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.isoformat()


@bp.app_template_filter("iso")
def iso(moment: datetime | None) -> str:
    """Write a time for a ``<time datetime>`` attribute."""
    return moment.isoformat() if moment else ""


@bp.app_template_filter("note_html")
def note_html(text: str | None, prefix: str = "") -> Markup:
    """Render a note's Markdown as sanitised HTML with line anchors."""
    return render_note(text or "", prefix)


@bp.app_template_filter("percent")
def percent(value: float | None) -> str:
    """Write a score in whole percent."""
    return NOTHING if value is None else f"{round(value)}%"


@bp.app_template_filter("person")
def person(user: User | None) -> str:
    """Name a user by name, else by e-mail."""
    if user is None:
        return "someone"
    return user.name or user.email


@bp.app_template_filter("answer")
def answer(value: Any) -> str:
    """Write a checklist answer for people."""
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if value is None:
        return NOTHING
    return str(value)


@bp.record_once
def offer_labels(state: BlueprintSetupState) -> None:
    """Make the label tables globals, so that imported macros see them too."""
    state.app.jinja_env.globals.update(
        CHANNEL_LABELS=CHANNEL_LABELS,
        STATUS_LABELS=STATUS_LABELS,
        KIND_LABELS=KIND_LABELS,
        SEVERITY_LABELS=SEVERITY_LABELS,
    )
