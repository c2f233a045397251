"""Call metrics, each with the time ranges it was measured from.

Sound-based metrics (hold, silence, talk, overtalk, first answer) come from the audio:
Silero speech probability per channel, energy, and spectral flatness. Hold is non-speech
that is neither silent nor noise-like: music and tones have a peaky spectrum (low flatness),
line hiss a flat one. Music with singing reads as speech and is not counted as hold.
Words-based metrics (transfers, repeated requests) come from the transcript.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from transcription.audio import DEFAULT_LIMITS, AudioLimits, Source
from transcription.calls import DEFAULT_LABELS, CallAudio, load_call
from transcription.model import TimeRange, Transcript
from transcription.vad import (
    SAMPLE_RATE,
    VadSettings,
    mask_to_ranges,
    merge_ranges,
    speech_regions,
)


@dataclass(frozen=True)
class MetricSettings:
    """Thresholds, in seconds, dBFS and spectral flatness (0 tonal .. 1 white noise)."""

    min_hold: float = 5.0
    min_silence: float = 3.0
    min_overtalk: float = 0.3
    silence_db: float = -50.0
    tonal_flatness: float = 0.25
    hold_bridge: float = 1.0
    talk: VadSettings = field(
        default_factory=lambda: VadSettings(
            min_speech=0.1, min_silence=0.2, pad=0.05, max_region=float("inf")
        )
    )


@dataclass(frozen=True)
class Measure:
    """A number and the ranges of the recording it was measured from."""

    value: float
    ranges: tuple[TimeRange, ...] = ()


@dataclass(frozen=True)
class TalkShare:
    speaker: str
    seconds: float
    ratio: float
    ranges: tuple[TimeRange, ...]


@dataclass(frozen=True)
class Mention:
    """A phrase found in a segment, such as "transfer you"."""

    phrase: str
    speaker: str | None
    text: str
    range: TimeRange


@dataclass(frozen=True)
class RepeatedRequest:
    """The same item asked for more than once; one range per asking segment."""

    item: str
    count: int
    ranges: tuple[TimeRange, ...]
    texts: tuple[str, ...]


@dataclass(frozen=True)
class CallMetrics:
    """What happened on a call, with the evidence for each figure.

    `hold`, `silence` and `overtalk` hold total seconds and each period; `first_answer`
    the time of the agent side's first speech and that speech; `overtalk` is None for
    mono recordings, where two voices at once cannot be told apart.
    """

    duration: float
    hold: Measure
    silence: Measure
    talk: tuple[TalkShare, ...]
    overtalk: Measure | None
    first_answer: Measure | None
    transfers: tuple[Mention, ...]
    repeated_requests: tuple[RepeatedRequest, ...]

    @property
    def transfer_count(self) -> int:
        return len(self.transfers)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; ranges become [start, end] pairs."""
        return _plain(asdict(self))


def call_metrics(
    source: Source | np.ndarray | CallAudio,
    transcript: Transcript,
    channel_labels: Sequence[str] = DEFAULT_LABELS,
    *,
    agent: str | None = None,
    settings: MetricSettings | None = None,
    limits: AudioLimits = DEFAULT_LIMITS,
) -> CallMetrics:
    """Measure a call from its audio (bytes, path, 16 kHz samples or `CallAudio`) and the
    transcript `transcribe_call` made of it. `agent` defaults to `channel_labels[1]`."""
    settings = settings or MetricSettings()
    agent = agent or channel_labels[1]
    call = load_call(source, limits)
    duration = call.duration
    speech = [speech_regions(p, duration, settings.talk) for p in call.probs]
    hold = _hold_periods(call, speech, settings)
    silence = _silences(call, speech, hold, settings)
    if call.dual_channel:
        sides = {label: speech[i] for i, label in enumerate(channel_labels[:2])}
        overtalk: Measure | None = _overtalk(speech[0], speech[1], settings.min_overtalk)
    else:
        sides = _talk_from_transcript(transcript)
        overtalk = None
    talk = _talk_shares(sides)
    agent_speech = sides.get(agent, [])
    first_answer = Measure(agent_speech[0].start, (agent_speech[0],)) if agent_speech else None
    return CallMetrics(
        duration=round(duration, 3),
        hold=_measure(hold),
        silence=_measure(silence),
        talk=talk,
        overtalk=overtalk,
        first_answer=first_answer,
        transfers=find_transfers(transcript),
        repeated_requests=find_repeated_requests(transcript, agent),
    )


# --- sound ---------------------------------------------------------------------------------

_MIN_TONAL_RUN = 0.25


def _hold_periods(
    call: CallAudio, speech: list[list[TimeRange]], settings: MetricSettings
) -> list[TimeRange]:
    frames = len(call.probs[0])
    anyone_speaking = _mask(speech, frames)
    tonal = np.zeros(frames, dtype=bool)
    for energy, flatness in zip(call.energies, call.flatness, strict=True):
        tonal |= (energy > settings.silence_db) & (flatness < settings.tonal_flatness)
    # Bridge the short gaps of beeps and notes, but only between runs long enough to be
    # part of the music: a speaker's last syllable next to the music must not extend it.
    runs = mask_to_ranges(tonal & ~anyone_speaking, min_length=_MIN_TONAL_RUN)
    bridged = merge_ranges(runs, gap=settings.hold_bridge)
    return [r for r in bridged if r.duration >= settings.min_hold]


def _silences(
    call: CallAudio,
    speech: list[list[TimeRange]],
    hold: list[TimeRange],
    settings: MetricSettings,
) -> list[TimeRange]:
    frames = len(call.probs[0])
    busy = _mask([*speech, hold], frames)
    return mask_to_ranges(~busy, min_length=settings.min_silence)


def _mask(range_lists: Sequence[Sequence[TimeRange]], frames: int) -> np.ndarray:
    mask = np.zeros(frames, dtype=bool)
    step = 512 / SAMPLE_RATE
    for ranges in range_lists:
        for r in ranges:
            mask[int(r.start / step) : int(np.ceil(r.end / step))] = True
    return mask


def _overtalk(left: list[TimeRange], right: list[TimeRange], shortest: float) -> Measure:
    both = []
    for a in left:
        for b in right:
            start, end = max(a.start, b.start), min(a.end, b.end)
            if end - start >= shortest:
                both.append(TimeRange(round(start, 3), round(end, 3)))
    return _measure(merge_ranges(both))


def _talk_from_transcript(transcript: Transcript) -> dict[str, list[TimeRange]]:
    sides: dict[str, list[TimeRange]] = {}
    for segment in transcript.segments:
        sides.setdefault(segment.speaker or "unknown", []).append(segment.range)
    return {speaker: merge_ranges(ranges) for speaker, ranges in sides.items()}


def _talk_shares(sides: dict[str, list[TimeRange]]) -> tuple[TalkShare, ...]:
    seconds = {speaker: sum(r.duration for r in ranges) for speaker, ranges in sides.items()}
    total = sum(seconds.values())
    return tuple(
        TalkShare(
            speaker=speaker,
            seconds=round(seconds[speaker], 3),
            ratio=round(seconds[speaker] / total, 4) if total else 0.0,
            ranges=tuple(ranges),
        )
        for speaker, ranges in sides.items()
    )


def _measure(ranges: Sequence[TimeRange]) -> Measure:
    return Measure(round(float(sum(r.duration for r in ranges)), 3), tuple(ranges))


# --- words ---------------------------------------------------------------------------------

_TRANSFER = re.compile(
    r"\b(?:transfer(?:ring)? you|put(?:ting)? you through|connect(?:ing)? you (?:with|to)"
    r"|pass(?:ing)? you (?:over |back )?to|forward(?:ing)? (?:you|your call))\b",
    re.IGNORECASE,
)
_REQUEST_CUE = re.compile(
    r"\?|\b(?:can|could|may|would) (?:i|you|we)\b|\bwhat(?:'s| is| was)\b"
    r"|\b(?:please|confirm|repeat|tell me|give me|provide|need|verify|spell|again)\b",
    re.IGNORECASE,
)
#: Items an agent asks for, each with the words that name it.
REQUEST_ITEMS: dict[str, re.Pattern[str]] = {
    item: re.compile(pattern, re.IGNORECASE)
    for item, pattern in {
        "account number": r"\baccount (?:number|no\b|#|id\b)|\bacct\b",
        "order number": r"\border (?:number|no\b|#|id\b|reference)",
        "reference number": r"\b(?:reference|ref|booking|confirmation|case|ticket)"
        r" (?:number|no\b|code)",
        "postcode": r"\bpost ?code|\bzip ?code|\bpostal code",
        "name": r"\b(?:your|the) (?:full |first |last |sur)?name\b|\bspell (?:your|that)\b"
        r"|\bwho (?:am i|i'm) speaking (?:to|with)",
        "email": r"\be-?mail(?: address)?\b",
        "date of birth": r"\bdate of birth\b|\bbirth ?date\b|\bdob\b|\bwhen were you born",
        "phone number": r"\b(?:phone|telephone|mobile|contact) number",
        "address": r"\b(?:your|the) (?:home |billing |postal |street |full )?address\b",
        "card number": r"\bcard number\b|\blong number on (?:the|your) card"
        r"|\blast (?:four|4) digits",
    }.items()
}


def find_transfers(transcript: Transcript) -> tuple[Mention, ...]:
    """Segments that mention a transfer ("transfer you", "put you through", ...)."""
    return tuple(
        Mention(match.group(0).lower(), segment.speaker, segment.text.strip(), segment.range)
        for segment in transcript.segments
        for match in _TRANSFER.finditer(segment.text)
    )


def find_repeated_requests(
    transcript: Transcript, agent: str | None = None
) -> tuple[RepeatedRequest, ...]:
    """Items the agent asked for more than once, with the time of each asking.

    Only the agent's segments count when the transcript is speaker-labelled.
    """
    segments = transcript.segments
    if agent is not None and any(s.speaker == agent for s in segments):
        segments = tuple(s for s in segments if s.speaker == agent)
    asked: dict[str, list[tuple[TimeRange, str]]] = {}
    for segment in segments:
        if not _REQUEST_CUE.search(segment.text):
            continue
        for item, pattern in REQUEST_ITEMS.items():
            if pattern.search(segment.text):
                asked.setdefault(item, []).append((segment.range, segment.text.strip()))
    return tuple(
        RepeatedRequest(
            item=item,
            count=len(hits),
            ranges=tuple(r for r, _ in hits),
            texts=tuple(t for _, t in hits),
        )
        for item, hits in asked.items()
        if len(hits) > 1
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value
