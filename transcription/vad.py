"""Voice activity and frame-level sound features at 16 kHz.

Speech probability comes from the Silero VAD model that faster-whisper ships; energy and
spectral flatness tell silence and line noise (flat spectrum) from hold music and tones
(peaky spectrum) among the frames that are not speech.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from faster_whisper.vad import get_vad_model

from transcription.model import TimeRange

SAMPLE_RATE = 16000
WINDOW = 512  # samples per Silero window and per feature frame
FRAME_SECONDS = WINDOW / SAMPLE_RATE  # 32 ms
_CONTEXT = 64  # samples of the previous window Silero v6 is given with each window
_BLOCK_WINDOWS = 2048  # windows per inference call: bounds memory on long recordings
_SILENT_DB = -100.0


@dataclass(frozen=True)
class VadSettings:
    """How speech probabilities become speech regions (seconds)."""

    threshold: float = 0.5
    neg_threshold: float | None = None
    min_speech: float = 0.25
    min_silence: float = 0.3
    pad: float = 0.4
    max_region: float = 29.0


def speech_probabilities(audio: np.ndarray) -> np.ndarray:
    """Return Silero's speech probability for each 32 ms window of 16 kHz mono audio."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError("speech_probabilities takes one channel")
    count = -(-len(audio) // WINDOW)
    if count == 0:
        return np.zeros(0, dtype=np.float32)
    session = get_vad_model().session
    state = np.zeros((1, 1, 128), dtype=np.float32)
    cell = np.zeros((1, 1, 128), dtype=np.float32)
    out = np.empty(count, dtype=np.float32)
    for first in range(0, count, _BLOCK_WINDOWS):
        last = min(count, first + _BLOCK_WINDOWS)
        windows = _windows(audio, first, last)
        context = np.zeros((last - first, _CONTEXT), dtype=np.float32)
        context[1:] = windows[:-1, -_CONTEXT:]
        if first > 0:
            context[0] = _windows(audio, first - 1, first)[0, -_CONTEXT:]
        batch = np.concatenate([context, windows], axis=1)
        probs, state, cell = session.run(None, {"input": batch, "h": state, "c": cell})
        out[first:last] = np.asarray(probs, dtype=np.float32).reshape(-1)
    return out


def _windows(audio: np.ndarray, first: int, last: int) -> np.ndarray:
    chunk = audio[first * WINDOW : last * WINDOW]
    if len(chunk) < (last - first) * WINDOW:
        chunk = np.pad(chunk, (0, (last - first) * WINDOW - len(chunk)))
    return chunk.reshape(-1, WINDOW)


def speech_regions(
    probs: np.ndarray, duration: float, settings: VadSettings | None = None
) -> list[TimeRange]:
    """Turn per-window probabilities into padded speech regions no longer than max_region."""
    settings = settings or VadSettings()
    high = settings.threshold
    low = settings.neg_threshold if settings.neg_threshold is not None else max(high - 0.15, 0.01)
    raw: list[tuple[int, int]] = []
    start = -1
    last_voiced = -1
    for index, prob in enumerate(probs):
        if start < 0:
            if prob >= high:
                start, last_voiced = index, index
        elif prob >= low:
            last_voiced = index
        elif (index - last_voiced) * FRAME_SECONDS >= settings.min_silence:
            raw.append((start, last_voiced + 1))
            start = -1
    if start >= 0:
        raw.append((start, last_voiced + 1))
    regions = [
        TimeRange(round(a * FRAME_SECONDS, 3), round(min(duration, b * FRAME_SECONDS), 3))
        for a, b in raw
        if (b - a) * FRAME_SECONDS >= settings.min_speech
    ]
    regions = _pad(regions, settings.pad, duration)
    return [piece for region in regions for piece in _split(region, probs, settings.max_region)]


def _pad(regions: list[TimeRange], pad: float, duration: float) -> list[TimeRange]:
    """Widen each region by `pad`; neighbours closer than 2 * pad share the gap at its middle."""
    padded = []
    for index, region in enumerate(regions):
        start, end = region.start - pad, region.end + pad
        if index > 0:
            start = max(start, (regions[index - 1].end + region.start) / 2)
        if index + 1 < len(regions):
            end = min(end, (region.end + regions[index + 1].start) / 2)
        padded.append(TimeRange(round(max(0.0, start), 3), round(min(duration, end), 3)))
    return padded


def _split(region: TimeRange, probs: np.ndarray, longest: float) -> list[TimeRange]:
    """Cut regions longer than `longest` at their least speech-like window."""
    if region.duration <= longest:
        return [region]
    lo = int((region.start + longest / 2) / FRAME_SECONDS)
    hi = max(lo + 1, int((region.start + longest) / FRAME_SECONDS))
    window = probs[lo:hi]
    cut_frame = lo + int(np.argmin(window)) if len(window) else hi
    cut = round(cut_frame * FRAME_SECONDS, 3)
    return [TimeRange(region.start, cut), *_split(TimeRange(cut, region.end), probs, longest)]


def frame_levels(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (energy in dBFS, spectral flatness 0..1 over 150-3800 Hz) per 32 ms frame."""
    audio = np.asarray(audio, dtype=np.float32)
    count = -(-len(audio) // WINDOW)
    energy = np.empty(count, dtype=np.float32)
    flatness = np.empty(count, dtype=np.float32)
    taper = np.hanning(WINDOW).astype(np.float32)
    freqs = np.fft.rfftfreq(WINDOW, 1 / SAMPLE_RATE)
    band = (freqs >= 150) & (freqs <= 3800)
    for first in range(0, count, _BLOCK_WINDOWS):
        last = min(count, first + _BLOCK_WINDOWS)
        frames = _windows(audio, first, last)
        power = np.mean(frames.astype(np.float64) ** 2, axis=1)
        energy[first:last] = 10 * np.log10(np.maximum(power, 10 ** (_SILENT_DB / 10)))
        spectrum = np.abs(np.fft.rfft(frames * taper, axis=1))[:, band] ** 2 + 1e-12
        geometric = np.exp(np.mean(np.log(spectrum), axis=1))
        flatness[first:last] = geometric / np.mean(spectrum, axis=1)
    return energy, flatness


def suppress_bleed(
    probs: Sequence[np.ndarray], energies: Sequence[np.ndarray], margin_db: float = 15.0
) -> list[np.ndarray]:
    """Zero a channel's speech probability where another channel is far louder (crosstalk)."""
    if len(probs) < 2:
        return [np.asarray(p) for p in probs]
    stacked = np.stack(energies)
    loudest = stacked.max(axis=0)
    return [
        np.where(energy < loudest - margin_db, 0.0, p)
        for p, energy in zip(probs, energies, strict=True)
    ]


def merge_ranges(ranges: Sequence[TimeRange], gap: float = 0.0) -> list[TimeRange]:
    """Merge ranges that overlap or lie within `gap` seconds of each other."""
    merged: list[TimeRange] = []
    for current in sorted(ranges):
        if merged and current.start - merged[-1].end <= gap:
            merged[-1] = TimeRange(merged[-1].start, max(merged[-1].end, current.end))
        else:
            merged.append(current)
    return merged


def mask_to_ranges(mask: np.ndarray, min_length: float = 0.0, gap: float = 0.0) -> list[TimeRange]:
    """Turn a per-frame boolean mask into ranges, bridging gaps and dropping short runs."""
    padded = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    runs = [
        TimeRange(round(float(a) * FRAME_SECONDS, 3), round(float(b) * FRAME_SECONDS, 3))
        for a, b in zip(edges[::2], edges[1::2], strict=True)
    ]
    return [r for r in merge_ranges(runs, gap) if r.duration >= min_length]
