"""Render a journal as one standalone HTML file: inline CSS, photos, quotes, an SVG chart."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from reports.evidence import IMAGE_MEDIA_TYPES
from reports.journal import Journal
from reports.presentation import (
    CHANNEL_LABELS,
    KIND_LABELS,
    EvidenceUrl,
    anchor_url,
    citation_label,
    effort_chart,
    evidence_href,
    format_clock,
    format_duration,
    format_metric,
    format_number,
    metric_label,
    neutralise,
    safe_href,
    stage_label,
)

_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def inert(value: Any) -> Any:
    """Make a template value safe to print: escaped, bidi-free, and with braces as entities.

    Braces become character references so that no later template engine that handles this
    HTML can read text a researcher wrote as template syntax; browsers still show '{'.
    """
    if isinstance(value, Markup):
        return value
    if value is None:
        return Markup("")
    text = str(escape(neutralise(value)))
    # The text was escaped on the line above; only brace references are added.
    return Markup(text.replace("{", "&#123;").replace("}", "&#125;"))  # noqa: S704


@functools.cache
def journal_environment() -> Environment:
    """Return the Jinja environment for journals, built once on first use."""
    return Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        finalize=inert,
        undefined=StrictUndefined,
        auto_reload=False,
    )


def format_timestamp(value: str | None) -> str:
    """Show an ISO UTC timestamp as 'YYYY-MM-DD HH:MM UTC'."""
    if not value:
        return ""
    return f"{value[:10]} {value[11:16]} UTC"


def _region_style(region: Mapping[str, Any]) -> str:
    def percent(name: str) -> str:
        number = float(region[name])
        number = min(max(number, 0.0), 1.0) if math.isfinite(number) else 0.0
        return f"{number * 100:.2f}%"

    return f"left:{percent('x')};top:{percent('y')};width:{percent('w')};height:{percent('h')}"


def image_source(image: Mapping[str, Any] | None) -> str | None:
    """Return an img src for an evidence image: a data URL of its bytes, or a safe URL."""
    if not image:
        return None
    if "data" in image:
        media_type, data = image.get("media_type"), image.get("data")
        if media_type in IMAGE_MEDIA_TYPES and isinstance(data, str) and _BASE64.match(data):
            return f"data:{media_type};base64,{data}"
        return None
    url = safe_href(image.get("url"))
    return None if url == "#" else url


def render_context(journal: Journal, evidence_url: EvidenceUrl) -> dict[str, Any]:
    """Return what the journal templates need: the document and its formatters."""
    body = journal.body
    catalog = {entry["id"]: entry for entry in body.get("evidence", [])}

    def link(reference: Mapping[str, Any]) -> str:
        span = reference.get("span", reference.get("region"))
        return evidence_href(evidence_url, {"evidence_id": reference["evidence_id"], "span": span})

    def image_src(evidence_id: str) -> str | None:
        entry = catalog.get(evidence_id)
        return image_source(entry.get("image")) if entry else None

    chart = effort_chart(body.get("effort_curve", []))
    return {
        "journal": journal,
        "body": body,
        "chart": chart,
        "link": link,
        "image_src": image_src,
        "region_style": _region_style,
        "citation_label": citation_label,
        "metric_label": metric_label,
        "format_metric": format_metric,
        "format_clock": format_clock,
        "format_duration": format_duration,
        "format_number": format_number,
        "format_timestamp": format_timestamp,
        "stage_label": stage_label,
        "channel_label": lambda channel: CHANNEL_LABELS.get(channel, channel),
        "kind_label": lambda kind: KIND_LABELS.get(kind, kind),
    }


def render_html(journal: Journal, *, evidence_url: EvidenceUrl = anchor_url) -> str:
    """Render a journal as a standalone HTML document linking every figure to its evidence."""
    template = journal_environment().get_template("journal.html")
    return template.render(render_context(journal, evidence_url))
