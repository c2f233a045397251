"""Phone calls: one speaker-labelled timeline from a stereo or mono call recording."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from transcription.audio import DEFAULT_LIMITS, AudioLimits, Source, decode
from transcription.engines import Engine, get_engine
from transcription.model import Segment, TimeRange, Transcript, Word, sorted_segments
from transcription.pipeline import DEFAULT_SETTINGS, TranscribeSettings, transcribe_samples
from transcription.vad import (
    SAMPLE_RATE,
    VadSettings,
    frame_levels,
    merge_ranges,
    speech_probabilities,
    speech_regions,
    suppress_bleed,
)

DEFAULT_LABELS = ("caller", "agent")
#: Pauses shorter than this never end a turn in mono recordings.
TURN_GAP = 0.7
_PAUSES = VadSettings(min_speech=0.1, min_silence=0.2, pad=0.0, max_region=float("inf"))


@dataclass(frozen=True)
class CallAudio:
    """A call decoded at 16 kHz: samples (channels, n) and per-side frame features.

    `dual_channel` is true when the first two channels hold different parties; the speech
    probabilities then have crosstalk (a party faintly heard on the other channel) removed.
    """

    samples: np.ndarray
    probs: tuple[np.ndarray, ...]
    energies: tuple[np.ndarray, ...]
    flatness: tuple[np.ndarray, ...]
    dual_channel: bool

    @property
    def duration(self) -> float:
        return self.samples.shape[1] / SAMPLE_RATE


def load_call(
    source: Source | np.ndarray | CallAudio, limits: AudioLimits = DEFAULT_LIMITS
) -> CallAudio:
    """Decode a call (or take 16 kHz samples shaped (channels, n)) and run the VAD per side."""
    if isinstance(source, CallAudio):
        return source
    if isinstance(source, np.ndarray):
        samples = np.atleast_2d(np.asarray(source, dtype=np.float32))
    else:
        samples = decode(source, SAMPLE_RATE, mono=False, limits=limits)
    dual = is_dual_channel(samples)
    channels = [samples[0], samples[1]] if dual else [samples.mean(axis=0)]
    levels = [frame_levels(channel) for channel in channels]
    energies = [energy for energy, _ in levels]
    probs = suppress_bleed([speech_probabilities(channel) for channel in channels], energies)
    return CallAudio(
        samples=samples,
        probs=tuple(probs),
        energies=tuple(energies),
        flatness=tuple(flat for _, flat in levels),
        dual_channel=len(channels) == 2,
    )


def is_dual_channel(samples: np.ndarray) -> bool:
    """Whether the first two channels carry different signals (one party per channel).

    Identical channels (mono saved as stereo) or one silent channel count as mono.
    """
    if samples.ndim != 2 or samples.shape[0] < 2:
        return False
    left, right = samples[0].astype(np.float64), samples[1].astype(np.float64)
    left_power, right_power = np.mean(left**2), np.mean(right**2)
    if min(left_power, right_power) < 1e-7:  # about -70 dBFS: a channel with nothing on it
        return False
    difference = np.mean((left - right) ** 2)
    return bool(difference > 0.05 * (left_power + right_power))


def transcribe_call(
    source: Source | np.ndarray | CallAudio,
    engine: Engine | None = None,
    channel_labels: Sequence[str] = DEFAULT_LABELS,
    *,
    first_speaker: str | None = None,
    turn_gap: float = TURN_GAP,
    settings: TranscribeSettings = DEFAULT_SETTINGS,
    limits: AudioLimits = DEFAULT_LIMITS,
) -> Transcript:
    """Transcribe a call into one timeline whose segments carry the speaker's label.

    Stereo with one party per channel: each channel is transcribed on its own and labelled
    `channel_labels[i]`; the segments are merged in time order.

    Mono (or identical channels): speakers are guessed, not recognised. The recording is
    cut into turns at pauses of at least `turn_gap` seconds and the turns alternate between
    the two labels, starting with `first_speaker` (default `channel_labels[1]`, the agent, as
    the answering side usually speaks first). This is a heuristic: a pause inside one
    person's turn, or a quick reply without a pause, swaps every later label.
    """
    if len(channel_labels) < 2:
        raise ValueError("channel_labels needs a label for each of the two parties")
    engine = engine or get_engine()
    call = load_call(source, limits)
    if call.dual_channel:
        segments: list[Segment] = []
        languages: list[str | None] = []
        for channel, label in enumerate(channel_labels[:2]):
            found, language, _ = transcribe_samples(
                call.samples[channel], engine, settings, probs=call.probs[channel]
            )
            segments.extend(s.labelled(label, channel) for s in found)
            languages.append(language)
        language = next((lang for lang in languages if lang), None)
        timeline = sorted_segments(segments)
    else:
        mono = call.samples.mean(axis=0)
        found, language, _ = transcribe_samples(mono, engine, settings, probs=call.probs[0])
        turns = speech_turns(call.probs[0], call.duration, turn_gap)
        first = first_speaker or channel_labels[1]
        other = channel_labels[0] if first == channel_labels[1] else channel_labels[1]
        timeline = tuple(label_turns(found, turns, (first, other)))
    return Transcript(
        segments=timeline,
        language=language,
        engine=engine.name,
        model=engine.model_label,
        duration=round(call.duration, 3),
        extra={
            "dual_channel": call.dual_channel,
            "channel_labels": list(channel_labels[:2]),
            "speaker_labels": "channel" if call.dual_channel else "turn-heuristic",
        },
    )


def speech_turns(probs: np.ndarray, duration: float, turn_gap: float = TURN_GAP) -> list[TimeRange]:
    """Stretches of speech separated by pauses of at least `turn_gap` seconds."""
    return merge_ranges(speech_regions(probs, duration, _PAUSES), gap=turn_gap - 1e-6)


def label_turns(
    segments: Sequence[Segment], turns: Sequence[TimeRange], labels: tuple[str, str]
) -> list[Segment]:
    """Split segments at turn boundaries; turn k (counting every turn the VAD heard, with or
    without recognised words) belongs to ``labels[k % 2]``."""
    pieces = [piece for segment in segments for piece in _split_by_turn(segment, turns)]
    return [
        piece.labelled(labels[_turn_index(turns, piece.start, piece.end) % 2])
        for piece in sorted(pieces, key=lambda s: (s.start, s.end))
    ]


def _turn_index(turns: Sequence[TimeRange], start: float, end: float) -> int:
    """The turn holding the middle of [start, end], or the nearest one."""
    middle = (start + end) / 2
    if not turns:
        return 0
    distances = [
        0.0 if t.start <= middle <= t.end else min(abs(middle - t.start), abs(middle - t.end))
        for t in turns
    ]
    return int(np.argmin(distances))


def _split_by_turn(segment: Segment, turns: Sequence[TimeRange]) -> list[Segment]:
    if not segment.words:
        return [segment]
    groups: list[list[Word]] = []
    last_turn = None
    for word in segment.words:
        turn = _turn_index(turns, word.start, word.end)
        if turn != last_turn:
            groups.append([])
            last_turn = turn
        groups[-1].append(word)
    return [segment] if len(groups) == 1 else [segment.with_words(group) for group in groups]
