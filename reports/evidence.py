"""Evidence as plain data: captured items, the spans a citation can point at, and what was
measured from them (transcripts, call metrics, website steps)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

EvidenceKind = Literal["photo", "audio", "video", "screenshot", "note", "document", "web_step"]
HoldKind = Literal["hold", "queue"]

EVIDENCE_KINDS: frozenset[str] = frozenset(get_args(EvidenceKind))
IMAGE_MEDIA_TYPES: frozenset[str] = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp"}
)


def require_utc(value: datetime, name: str) -> None:
    """Refuse a naive or non-UTC timestamp: journals compare times across devices."""
    offset = value.utcoffset()
    if offset is None or offset.total_seconds() != 0:
        raise ValueError(f"{name} must be a timezone-aware UTC datetime")


LATEST = datetime.max.replace(tzinfo=UTC)


def seconds_after(start: datetime, seconds: float) -> datetime:
    """Return ``start`` plus ``seconds``, held at the last representable instant.

    A phone with a wrong clock can date a visit or an item at the end of year 9999; an
    offset or a duration past that must not make the whole journal fail to compile.
    """
    try:
        return start + timedelta(seconds=seconds)
    except OverflowError:
        return LATEST if seconds > 0 else datetime.min.replace(tzinfo=UTC)


def _require_choice(value: str, choices: frozenset[str], name: str) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, not {value!r}")


def _require_range(start: float, end: float, name: str) -> None:
    if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end < start:
        raise ValueError(f"{name} needs finite 0 <= start <= end, got {start}..{end}")


@dataclass(frozen=True, slots=True)
class TimeSpan:
    """A stretch of an audio or video item, in seconds from its start."""

    start: float
    end: float


@dataclass(frozen=True, slots=True)
class RegionSpan:
    """A rectangle of a photo or screenshot, in fractions (0..1) of its width and height."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True, slots=True)
class TextSpan:
    """A character range [start, end) of a note's text or an audio item's transcript text."""

    start: int
    end: int


Span = TimeSpan | RegionSpan | TextSpan


@dataclass(frozen=True, slots=True)
class Citation:
    """A pointer to one evidence item, or to a span of it when `span` is set."""

    evidence_id: str
    span: Span | None = None
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A journal looks each citation up many times; its hash is worked out once.
        object.__setattr__(self, "_hash", hash((self.evidence_id, self.span)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[Citation], tuple[str, Span | None]]:
        # string hashes differ between processes: a copy works its hash out again
        return (Citation, (self.evidence_id, self.span))


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """One captured item; the display fields carry a shareable (GPS-stripped) copy of a photo."""

    id: str
    visit_id: str
    kind: EvidenceKind
    sha256: str
    captured_at: datetime
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    text_length: int | None = None
    display_url: str | None = None
    display_bytes: bytes | None = None
    display_media_type: str | None = None
    note_text: str | None = None

    def __post_init__(self) -> None:
        _require_choice(self.kind, EVIDENCE_KINDS, "kind")
        require_utc(self.captured_at, "captured_at")
        if self.duration_s is not None and not (
            math.isfinite(self.duration_s) and self.duration_s >= 0
        ):
            raise ValueError("duration_s must be a finite number of seconds >= 0")
        if self.display_bytes is not None and self.display_media_type not in IMAGE_MEDIA_TYPES:
            raise ValueError(f"display_media_type must be one of {sorted(IMAGE_MEDIA_TYPES)}")
        if self.note_text is not None and self.text_length is None:
            # A note's text length is its own; keep it so citations can be checked.
            object.__setattr__(self, "text_length", len(self.note_text))


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    """One stretch of speech in a recording."""

    start: float
    end: float
    text: str
    speaker: str | None = None

    def __post_init__(self) -> None:
        _require_range(self.start, self.end, "segment")


@dataclass(frozen=True, slots=True)
class Transcript:
    """The segments of one audio item; its text is the segments joined by newlines."""

    evidence_id: str
    segments: tuple[TranscriptSegment, ...]

    @property
    def text(self) -> str:
        """Return the transcript text that character spans of the audio item refer to."""
        return "\n".join(segment.text for segment in self.segments)


@dataclass(frozen=True, slots=True)
class HoldPeriod:
    """A time the caller was on hold or waiting in a queue for an agent."""

    start: float
    end: float
    kind: HoldKind = "hold"

    def __post_init__(self) -> None:
        _require_range(self.start, self.end, "hold period")
        _require_choice(self.kind, frozenset(get_args(HoldKind)), "kind")


@dataclass(frozen=True, slots=True)
class Transfer:
    """A hand-over of the call to another person or department."""

    start: float
    end: float
    to: str = ""

    def __post_init__(self) -> None:
        _require_range(self.start, self.end, "transfer")


@dataclass(frozen=True, slots=True)
class Repeat:
    """A time the customer had to give information again."""

    start: float
    end: float
    what: str = ""

    def __post_init__(self) -> None:
        _require_range(self.start, self.end, "repeat")


@dataclass(frozen=True, slots=True)
class CallMetrics:
    """What call analysis found in one audio item, each with its time range."""

    evidence_id: str
    holds: tuple[HoldPeriod, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    repeats: tuple[Repeat, ...] = ()


@dataclass(frozen=True, slots=True)
class WebStep:
    """One step of a website visit, evidenced by its screenshot."""

    visit_id: str
    number: int
    action: str
    url: str
    screenshot_evidence_id: str
    duration_s: float = 0.0
    error: str | None = None

    def __post_init__(self) -> None:
        if self.number < 1:
            raise ValueError("step number starts at 1")
        if not (math.isfinite(self.duration_s) and self.duration_s >= 0):
            raise ValueError("duration_s must be a finite number of seconds >= 0")


def span_to_dict(span: Span | None) -> dict[str, Any] | None:
    """Return the journal form of a span."""
    if span is None:
        return None
    # Numbers are normalised so that equal spans always serialise to the same bytes.
    if isinstance(span, TimeSpan):
        return {"type": "time", "start": float(span.start), "end": float(span.end)}
    if isinstance(span, RegionSpan):
        x, y, w, h = (float(v) for v in (span.x, span.y, span.w, span.h))
        return {"type": "region", "x": x, "y": y, "w": w, "h": h}
    return {"type": "text", "start": int(span.start), "end": int(span.end)}


def span_from_dict(data: Mapping[str, Any] | None) -> Span | None:
    """Rebuild a span from its journal form; raise ValueError for anything that is not one."""
    if data is None:
        return None
    kind = data.get("type")
    try:
        if kind == "time":
            return TimeSpan(float(data["start"]), float(data["end"]))
        if kind == "region":
            return RegionSpan(
                float(data["x"]), float(data["y"]), float(data["w"]), float(data["h"])
            )
        if kind == "text":
            return TextSpan(int(data["start"]), int(data["end"]))
    except (KeyError, TypeError, OverflowError) as error:  # a field missing, mistyped, or huge
        raise ValueError(f"malformed {kind} span: {error!r}") from error
    raise ValueError(f"unknown span type {kind!r}")


def _citation_order(citation: Citation) -> tuple[str, int, tuple[float, ...]]:
    span = citation.span
    if span is None:
        return (citation.evidence_id, 0, ())
    if isinstance(span, TimeSpan):
        return (citation.evidence_id, 1, (span.start, span.end))
    if isinstance(span, RegionSpan):
        return (citation.evidence_id, 2, (span.x, span.y, span.w, span.h))
    return (citation.evidence_id, 3, (span.start, span.end))


def ordered_citations(citations: Iterable[Citation]) -> tuple[Citation, ...]:
    """Return the distinct citations in a stable order, so journals are deterministic."""
    # Keyed by sort order, equal citations collapse without hashing each one twice.
    distinct = {_citation_order(citation): citation for citation in citations}
    return tuple(distinct[key] for key in sorted(distinct))


def joined_citations(groups: Iterable[Iterable[Citation]]) -> tuple[Citation, ...]:
    """Join groups that are each in order already, keeping the first of any repeat.

    Study-wide numbers join their parts' citations this way, visit after visit, instead
    of sorting every citation of a large study again; the order stays deterministic.
    """
    return tuple(dict.fromkeys(citation for group in groups for citation in group))
