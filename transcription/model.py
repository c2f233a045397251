"""The transcript: segments and words with timestamps, and its JSON-safe form."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

SCHEMA_VERSION = 1


class TimeRange(NamedTuple):
    """A span of a recording, in seconds from its start."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


def _seconds(value: Any, name: str) -> float:
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite, non-negative number of seconds")
    return round(number, 3)


def _unit(value: Any, name: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must lie between 0 and 1")
    return round(number, 4)


@dataclass(frozen=True)
class Word:
    """One recognised word; `text` keeps Whisper's leading space and punctuation."""

    start: float
    end: float
    text: str
    probability: float
    speaker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": _seconds(self.start, "start"),
            "end": _seconds(self.end, "end"),
            "text": self.text,
            "probability": _unit(self.probability, "probability"),
            "speaker": self.speaker,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Word:
        return cls(
            start=_seconds(data["start"], "start"),
            end=_seconds(data["end"], "end"),
            text=str(data["text"]),
            probability=_unit(data["probability"], "probability"),
            speaker=_optional_str(data.get("speaker")),
        )


@dataclass(frozen=True)
class Segment:
    """A stretch of speech from one speaker or channel, with its words."""

    start: float
    end: float
    text: str
    speaker: str | None = None
    channel: int | None = None
    confidence: float = 0.0
    words: tuple[Word, ...] = ()

    @property
    def range(self) -> TimeRange:
        return TimeRange(self.start, self.end)

    def with_words(self, words: Sequence[Word]) -> Segment:
        """Return the part of this segment made of `words`: times, text and confidence follow."""
        return replace(
            self,
            start=words[0].start,
            end=words[-1].end,
            text="".join(w.text for w in words),
            words=tuple(words),
            confidence=round(sum(w.probability for w in words) / len(words), 4),
        )

    def labelled(self, speaker: str | None, channel: int | None = None) -> Segment:
        """Return a copy with the speaker (and channel) set on the segment and its words."""
        words = tuple(replace(word, speaker=speaker) for word in self.words)
        return replace(self, speaker=speaker, channel=channel, words=words)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": _seconds(self.start, "start"),
            "end": _seconds(self.end, "end"),
            "text": self.text,
            "speaker": self.speaker,
            "channel": self.channel,
            "confidence": _unit(self.confidence, "confidence"),
            "words": [word.to_dict() for word in self.words],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Segment:
        channel = data.get("channel")
        return cls(
            start=_seconds(data["start"], "start"),
            end=_seconds(data["end"], "end"),
            text=str(data["text"]),
            speaker=_optional_str(data.get("speaker")),
            channel=None if channel is None else int(channel),
            confidence=_unit(data.get("confidence", 0.0), "confidence"),
            words=tuple(Word.from_dict(word) for word in data.get("words", ())),
        )


@dataclass(frozen=True)
class Transcript:
    """Segments in time order for one recording, with the engine and model that made them."""

    segments: tuple[Segment, ...]
    language: str | None
    engine: str
    model: str
    duration: float
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(word for segment in self.segments for word in segment.words)

    @property
    def text(self) -> str:
        return " ".join(segment.text.strip() for segment in self.segments if segment.text.strip())

    @property
    def speakers(self) -> tuple[str, ...]:
        seen = dict.fromkeys(s.speaker for s in self.segments if s.speaker is not None)
        return tuple(seen)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict that `from_dict` turns back into an equal transcript."""
        return {
            "schema": SCHEMA_VERSION,
            "language": self.language,
            "engine": self.engine,
            "model": self.model,
            "duration": _seconds(self.duration, "duration"),
            "segments": [segment.to_dict() for segment in self.segments],
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcript:
        if data.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"unknown transcript schema {data.get('schema')!r}")
        return cls(
            segments=tuple(Segment.from_dict(segment) for segment in data["segments"]),
            language=_optional_str(data.get("language")),
            engine=str(data["engine"]),
            model=str(data["model"]),
            duration=_seconds(data["duration"], "duration"),
            extra=dict(data.get("extra") or {}),
        )

    def normalised(self) -> Transcript:
        """Return the transcript with times and scores rounded as `to_dict` stores them."""
        return Transcript.from_dict(self.to_dict())


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def sorted_segments(segments: Iterable[Segment]) -> tuple[Segment, ...]:
    """Order segments by start time, then channel, for one merged timeline."""
    return tuple(sorted(segments, key=lambda s: (s.start, s.end, s.channel or 0)))
