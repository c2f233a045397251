"""Wording and safety shared by the renderers: labels, number formats, inert text, safe links."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reports.evidence import Span, span_from_dict

EvidenceUrl = Callable[[str, Span | None], str]

# Bidi embeddings, overrides (U+202A-U+202E) and isolates (U+2066-U+2069) can reorder what
# a reader sees; C0/C1 controls other than tab and newline have no business in a journal.
_INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Browsers drop tabs, newlines and other controls inside a URL before reading its scheme.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")

METRIC_LABELS = {
    "contacts_needed": "Contacts needed",
    "contacts_made": "Contacts so far (unresolved)",
    "channels_used": "Channels used",
    "elapsed_to_resolution": "Elapsed time to resolution",
    "hold_and_wait_time": "Hold and wait time",
    "transfers": "Transfers",
    "repeats": "Times the customer repeated information",
    "web_steps": "Website steps",
    "web_errors": "Website errors",
    "checklist_score": "Checklist score",
    "effort": "Effort (1-5)",
    "sentiment": "Sentiment (-2..2)",
}
_UNIT_WORDS = {
    "contacts": ("contact", "contacts"),
    "channels": ("channel", "channels"),
    "steps": ("step", "steps"),
    "errors": ("error", "errors"),
}
CHANNEL_LABELS = {"in_person": "In person", "phone": "Phone", "web": "Website"}
KIND_LABELS = {
    "pain_point": "Pain point",
    "root_cause": "Root cause",
    "bright_spot": "Bright spot",
}


def neutralise(text: object) -> str:
    """Return text with bidi overrides, isolates and control characters removed."""
    return _INVISIBLE.sub("", str(text))


def safe_href(url: object) -> str:
    """Return the link target if it is http(s), relative or a fragment; otherwise '#'."""
    if not isinstance(url, str):
        return "#"
    cleaned = _URL_NOISE.sub("", neutralise(url))
    if not cleaned:
        return "#"
    match = _SCHEME.match(cleaned)
    if match is not None:
        return cleaned if match.group(1).lower() in ("http", "https") else "#"
    # A leading '//' or '\\' is read as another host, not a path on this one.
    if cleaned[:2] in ("//", "\\\\", "/\\", "\\/"):
        return "#"
    return cleaned


def anchor_url(evidence_id: str, span: Span | None) -> str:
    """Link to the evidence appendix of the same document."""
    return f"#evidence-{evidence_id}"


def evidence_href(evidence_url: EvidenceUrl, citation: Mapping[str, Any]) -> str:
    """Return a safe link to what a citation points at."""
    span = span_from_dict(citation.get("span"))
    return safe_href(evidence_url(str(citation["evidence_id"]), span))


def format_clock(seconds: float | None) -> str:
    """Format a recording time as mm:ss (minutes keep counting past an hour)."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    whole = max(int(seconds), 0)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def format_duration(seconds: float) -> str:
    """Format a length of time for a reader: 45 s, 3 min 20 s, 2 h 05 min, 3 d 4 h."""
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.0f} s" if seconds >= 1 or seconds == 0 else f"{seconds:.1f} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"


def format_number(value: float) -> str:
    """Format a count or mean without trailing zeros."""
    if float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def format_metric(metric: Mapping[str, Any]) -> str:
    """Format a metric's value with its unit."""
    value, unit = metric["value"], metric["unit"]
    if unit == "seconds":
        return format_duration(value)
    if unit == "percent":
        return f"{value:.1f} %"
    if unit in ("effort", "sentiment", "count"):
        return format_number(value)
    singular, plural = _UNIT_WORDS.get(unit, (unit, unit))
    return f"{format_number(value)} {singular if value == 1 else plural}"


def metric_label(metric: Mapping[str, Any]) -> str:
    """Return the reader's name of a metric."""
    return METRIC_LABELS.get(str(metric["name"]), str(metric["name"]))


def citation_label(citation: Mapping[str, Any]) -> str:
    """Describe what a citation points at: 'audio 01:23-01:41', 'photo region', 'note 4-19'."""
    kind = citation.get("kind") or "evidence"
    span = citation.get("span")
    if span is None:
        return str(kind)
    if span["type"] == "time":
        return f"{kind} {format_clock(span['start'])}\u2013{format_clock(span['end'])}"
    if span["type"] == "region":
        return f"{kind} region"
    return f"{kind} characters {span['start']}\u2013{span['end']}"


def stage_label(stage: str) -> str:
    """Name a journey stage, including the visits that named none."""
    return stage or "(no stage)"


def effort_chart(curve: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Lay out the effort curve as SVG geometry: one point per stage, effort 1..5 upwards."""
    width, height, left, right, top, bottom = 640, 240, 96, 72, 24, 56
    # Anchors number the rows of the whole curve table, including stages without effort.
    points = [(n, p) for n, p in enumerate(curve, start=1) if p.get("effort") is not None]
    span_x = width - left - right
    span_y = height - top - bottom
    step = span_x / max(len(points) - 1, 1)
    placed = []
    for position, (anchor, point) in enumerate(points):
        effort = min(max(float(point["effort"]["value"]), 1.0), 5.0)
        x = left + (step * position if len(points) > 1 else span_x / 2)
        y = top + span_y * (5 - effort) / 4
        placed.append(
            {
                "x": round(x, 1),
                "y": round(y, 1),
                "anchor": anchor,
                "stage": point["stage"],
                "metric": point["effort"],
            }
        )
    grid = [
        {"y": round(top + span_y * (5 - level) / 4, 1), "level": level} for level in range(1, 6)
    ]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "label_y": height - bottom + 20,
        "points": placed,
        "polyline": " ".join(f"{p['x']},{p['y']}" for p in placed),
        "grid": grid,
    }
