"""Redacting transcripts and notes, and bleeping the redacted stretches of audio."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from transcription.model import Segment, Transcript, Word
from transcription.pii import DEFAULT_REGION, Span, apply_spans, find_pii, placeholder


class RedactedRange(NamedTuple):
    """Seconds [start, end] of audio that held one kind of personal data."""

    start: float
    end: float
    kind: str


@dataclass(frozen=True)
class RedactedTranscript:
    """A transcript with personal data replaced by placeholders such as ``[CARD]``.

    `redacted_ranges` are the times of the redacted words, for bleeping a clip. A segment
    without word timings is redacted in its text and its whole time range is listed.
    """

    transcript: Transcript
    redacted_ranges: tuple[RedactedRange, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "transcript": self.transcript.to_dict(),
            "redacted_ranges": [
                [round(r.start, 3), round(r.end, 3), r.kind] for r in self.redacted_ranges
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RedactedTranscript:
        return cls(
            transcript=Transcript.from_dict(data["transcript"]),
            redacted_ranges=tuple(
                RedactedRange(float(a), float(b), str(k)) for a, b, k in data["redacted_ranges"]
            ),
        )


def redact_text(text: str, region: str = DEFAULT_REGION) -> tuple[str, list[Span]]:
    """Return `text` with personal data replaced, and the spans (in `text`) that were."""
    spans = find_pii(text, region)
    return apply_spans(text, spans), spans


class _Unit(NamedTuple):
    """One word (or a whole segment without words) and where it sits in the joined text."""

    word: Word | None
    start: int
    end: int


def redact(transcript: Transcript, region: str = DEFAULT_REGION) -> RedactedTranscript:
    """Redact a transcript, words included, keeping the time ranges of what was removed.

    The segments are searched as one text so that a number read out across segments,
    or after the question that asked for it, is still found.
    """
    layout: list[list[_Unit]] = []
    pieces: list[str] = []
    cursor = 0
    for segment in transcript.segments:
        units = []
        for word in segment.words or (None,):
            text = word.text if word is not None else segment.text
            units.append(_Unit(word, cursor, cursor + len(text)))
            pieces.append(text)
            cursor += len(text)
        layout.append(units)
        pieces.append("\n")
        cursor += 1
    document = "".join(pieces)
    spans = find_pii(document, region)
    segments: list[Segment] = []
    ranges: list[RedactedRange] = []
    for segment, units in zip(transcript.segments, layout, strict=True):
        redacted, found = _redact_segment(segment, units, spans, document)
        segments.append(redacted)
        ranges.extend(found)
    return RedactedTranscript(
        transcript=replace(transcript, segments=tuple(segments)),
        redacted_ranges=tuple(sorted(ranges)),
    )


def _redact_segment(
    segment: Segment, units: list[_Unit], spans: list[Span], document: str
) -> tuple[Segment, list[RedactedRange]]:
    groups: list[tuple[list[_Unit], list[Span]]] = []
    for unit in units:
        touching = [s for s in spans if s.start < unit.end and s.end > unit.start]
        if groups and touching and set(touching) & set(groups[-1][1]):
            groups[-1][0].append(unit)
            groups[-1][1].extend(s for s in touching if s not in groups[-1][1])
        else:
            groups.append(([unit], touching))
    if not any(found for _, found in groups):
        return segment, []
    if segment.words:
        words, ranges = _redact_words(groups, document)
        text = "".join(w.text for w in words)
        return replace(segment, words=tuple(words), text=text), ranges
    unit = units[0]
    text = apply_spans(document[unit.start : unit.end], spans, offset=unit.start)
    kinds = dict.fromkeys(s.kind for _, found in groups for s in found)
    ranges = [RedactedRange(segment.start, segment.end, kind) for kind in kinds]
    return replace(segment, text=text), ranges


def _redact_words(
    groups: Iterable[tuple[list[_Unit], list[Span]]], document: str
) -> tuple[list[Word], list[RedactedRange]]:
    words: list[Word] = []
    ranges: list[RedactedRange] = []
    for units, found in groups:
        members = [u.word for u in units if u.word is not None]
        if not found:
            words.extend(members)
            continue
        first, last = units[0], units[-1]
        text = apply_spans(document[first.start : last.end], found, offset=first.start)
        words.append(
            Word(
                start=members[0].start,
                end=members[-1].end,
                text=text,
                probability=min(w.probability for w in members),
                speaker=members[0].speaker,
            )
        )
        for span in found:
            inside = [u.word for u in units if u.word and span.start < u.end and span.end > u.start]
            ranges.append(RedactedRange(inside[0].start, inside[-1].end, span.kind))
    return words, ranges


def bleep(
    samples: np.ndarray,
    sample_rate: int,
    ranges: Iterable[tuple[float, float] | tuple[float, float, str]],
    *,
    frequency: float = 1000.0,
    level: float = 0.3,
    pad: float = 0.05,
) -> np.ndarray:
    """Return a copy of `samples` ((n,) or (channels, n)) with each range, widened by
    `pad` seconds either side, replaced by a sine tone."""
    out = np.array(samples, dtype=np.float32, copy=True)
    length = out.shape[-1]
    for item in ranges:
        start, end = float(item[0]), float(item[1])
        first = max(0, int(np.floor((start - pad) * sample_rate)))
        last = min(length, int(np.ceil((end + pad) * sample_rate)))
        if last <= first:
            continue
        time = np.arange(first, last) / sample_rate
        out[..., first:last] = (level * np.sin(2 * np.pi * frequency * time)).astype(np.float32)
    return out


__all__ = ["RedactedRange", "RedactedTranscript", "bleep", "placeholder", "redact", "redact_text"]
