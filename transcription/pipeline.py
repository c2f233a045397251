"""Audio in, transcript out: decode, find speech, transcribe speech clips, filter the output.

The guards against Whisper's known failures live here:
- voice activity detection first, so silence, hold music, tones and noise never reach the
  model and give no text;
- speech is transcribed as independent clips of at most 30 s, each anchored at its own start,
  so timestamps cannot drift over long recordings, and no clip is conditioned on earlier text;
- a clip whose text compresses too well (a loop) is decoded again with repetition penalties,
  segments Whisper itself scores as no-speech are dropped, and the remaining n-gram loops and
  duplicate consecutive segments are removed (`transcription.repetition`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from transcription.audio import DEFAULT_LIMITS, AudioLimits, Source, decode
from transcription.engines import DecodeOptions, Engine, EngineSegment, get_engine
from transcription.model import Segment, TimeRange, Transcript, Word
from transcription.repetition import compression_ratio, remove_loops
from transcription.vad import (
    SAMPLE_RATE,
    VadSettings,
    merge_ranges,
    speech_probabilities,
    speech_regions,
)


@dataclass(frozen=True)
class TranscribeSettings:
    """Knobs of the transcription path; the defaults are the ones measured in bench/."""

    vad: VadSettings = field(default_factory=VadSettings)
    max_clip: float = 30.0
    max_gap: float = 5.0
    language: str | None = None
    beam_size: int | None = None
    compression_ratio_threshold: float = 2.4
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0


DEFAULT_SETTINGS = TranscribeSettings()
#: Word gaps at least this long (seconds) end a segment even without punctuation.
SENTENCE_PAUSE = 1.0


def transcribe(
    source: Source,
    engine: Engine | None = None,
    *,
    settings: TranscribeSettings = DEFAULT_SETTINGS,
    limits: AudioLimits = DEFAULT_LIMITS,
) -> Transcript:
    """Transcribe a recording (bytes or a path) to a `Transcript`, all channels mixed."""
    engine = engine or get_engine()
    audio = decode(source, SAMPLE_RATE, mono=True, limits=limits)[0]
    segments, language, speech = transcribe_samples(audio, engine, settings)
    return Transcript(
        segments=tuple(segments),
        language=language,
        engine=engine.name,
        model=engine.model_label,
        duration=round(len(audio) / SAMPLE_RATE, 3),
        extra={"speech_seconds": round(sum(r.duration for r in speech), 3)},
    )


def transcribe_samples(
    audio: np.ndarray,
    engine: Engine,
    settings: TranscribeSettings = DEFAULT_SETTINGS,
    probs: np.ndarray | None = None,
) -> tuple[list[Segment], str | None, list[TimeRange]]:
    """Transcribe 16 kHz mono samples; return segments, language and the speech regions.

    `probs` are precomputed speech probabilities (see `vad.speech_probabilities`), for
    callers that already ran the VAD or masked it, such as per-channel call transcription.
    """
    duration = len(audio) / SAMPLE_RATE
    if probs is None:
        probs = speech_probabilities(audio)
    speech = speech_regions(probs, duration, settings.vad)
    clips = plan_clips(speech, settings.max_clip, settings.max_gap)
    base = engine.default_options()
    options = replace(
        base,
        language=settings.language or base.language,
        beam_size=settings.beam_size or base.beam_size,
    )
    if not clips:
        return [], options.language, speech
    raw, language = engine.transcribe_clips(audio, clips, options)
    raw = _redecode_loops(audio, engine, clips, raw, options, settings)
    kept = [_to_segment(s) for s in raw if not _is_no_speech(s, settings)]
    cleaned = remove_loops(kept, settings.compression_ratio_threshold)
    return [part for s in cleaned for part in split_sentences(s)], language, speech


def plan_clips(speech: Sequence[TimeRange], max_clip: float, max_gap: float) -> list[TimeRange]:
    """Group speech regions into clips of at most `max_clip` seconds.

    Neighbouring regions share a clip when the gap between them is under `max_gap` (Whisper
    pads every clip to 30 s anyway, so fewer, fuller clips cost less and give more context);
    longer gaps, such as hold music or a long silence, are never sent to the model.
    """
    clips: list[TimeRange] = []
    for region in merge_ranges(speech):
        if (
            clips
            and region.start - clips[-1].end < max_gap
            and region.end - clips[-1].start <= max_clip
        ):
            clips[-1] = TimeRange(clips[-1].start, region.end)
        else:
            clips.append(region)
    return clips


def split_sentences(segment: Segment, pause: float = SENTENCE_PAUSE) -> list[Segment]:
    """Cut a clip-long segment into sentences: after . ? ! and at pauses of `pause` s."""
    words = segment.words
    if not words:
        return [segment]
    parts: list[list[Word]] = [[]]
    for index, word in enumerate(words):
        parts[-1].append(word)
        following = words[index + 1] if index + 1 < len(words) else None
        if following is not None and (
            word.text.rstrip().endswith((".", "?", "!")) or following.start - word.end >= pause
        ):
            parts.append([])
    return [segment] if len(parts) == 1 else [segment.with_words(part) for part in parts]


def _redecode_loops(
    audio: np.ndarray,
    engine: Engine,
    clips: Sequence[TimeRange],
    raw: list[EngineSegment],
    options: DecodeOptions,
    settings: TranscribeSettings,
) -> list[EngineSegment]:
    """Decode again, with repetition penalties, each clip whose text looks like a loop."""
    by_clip: list[list[EngineSegment]] = [[] for _ in clips]
    for segment in raw:
        by_clip[_clip_index(clips, segment.start)].append(segment)
    looping = [
        i
        for i, segments in enumerate(by_clip)
        if compression_ratio("".join(s.text for s in segments).strip())
        > settings.compression_ratio_threshold
    ]
    if not looping:
        return raw
    strict = replace(options, repetition_penalty=1.3, no_repeat_ngram_size=4)
    again, _ = engine.transcribe_clips(audio, [clips[i] for i in looping], strict)
    redone: list[list[EngineSegment]] = [[] for _ in looping]
    for segment in again:
        redone[_clip_index([clips[i] for i in looping], segment.start)].append(segment)
    for slot, i in enumerate(looping):
        by_clip[i] = redone[slot]
    return [segment for segments in by_clip for segment in segments]


def _clip_index(clips: Sequence[TimeRange], time: float) -> int:
    for index, clip in enumerate(clips):
        if time < clip.end:
            return index
    return len(clips) - 1


def _is_no_speech(segment: EngineSegment, settings: TranscribeSettings) -> bool:
    return (
        segment.no_speech_prob > settings.no_speech_threshold
        and segment.avg_logprob < settings.log_prob_threshold
    ) or not segment.text.strip()


def _to_segment(segment: EngineSegment) -> Segment:
    if segment.words:
        confidence = sum(w.probability for w in segment.words) / len(segment.words)
    else:
        confidence = math.exp(min(0.0, segment.avg_logprob))
    return Segment(
        start=round(segment.start, 3),
        end=round(max(segment.end, segment.start), 3),
        text=segment.text,
        confidence=round(min(1.0, max(0.0, confidence)), 4),
        words=segment.words,
    )
