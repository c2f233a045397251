"""Test media made on the fly: tones, hold music, noise, a stereo call, encoded files."""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from transcription.audio import decode
from transcription.model import TimeRange

SR = 16000
ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("FIELDBOOK_SHARED", ROOT.parent / "shared"))
JFK = SHARED / "audio" / "jfk.flac"
CALL = SHARED / "audio" / "call_phone8k.wav"
CALL_REFERENCE = SHARED / "audio" / "call_reference.txt"
FW_MODEL = SHARED / "models" / "faster-whisper-tiny.en"
OPENAI_MODEL = SHARED / "models" / "openai-tiny.en.pt"
JFK_TEXT = (
    "And so, my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
#: The three phrases of jfk.flac: the clip cut out (seconds), where its speech lies, its words.
JFK_PHRASES = {
    "fellow": ((0.2, 2.4), (0.32, 2.24), "and so my fellow americans"),
    "ask_not": ((3.2, 7.8), (3.36, 7.62), "ask not what your country can do for you"),
    "ask_what": ((8.1, 10.7), (8.22, 10.5), "ask what you can do for your country"),
}


@functools.cache
def jfk_16k() -> np.ndarray:
    audio = decode(JFK, SR, mono=True)[0]
    return (0.5 * audio / np.abs(audio).max()).astype(np.float32)


def jfk_phrase(name: str) -> np.ndarray:
    (start, end), _, _ = JFK_PHRASES[name]
    return jfk_16k()[int(start * SR) : int(end * SR)]


def seconds(n: float) -> int:
    return round(n * SR)


def tone(duration: float, frequency: float = 1000.0, level: float = 0.25) -> np.ndarray:
    t = np.arange(seconds(duration)) / SR
    return (level * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def beeps(
    duration: float, frequency: float = 1000.0, on: float = 0.8, off: float = 0.2
) -> np.ndarray:
    """A hold tone: `on` seconds of tone, `off` seconds of nothing, repeated."""
    out = tone(duration, frequency)
    period = on + off
    t = np.arange(len(out)) / SR
    out[(t % period) >= on] = 0.0
    return out


def chord_music(duration: float, level: float = 0.25) -> np.ndarray:
    """Music-like hold audio: a chord progression of harmonic notes, half a second each."""
    progression = [
        (261.63, 329.63, 392.0),
        (293.66, 369.99, 440.0),
        (246.94, 311.13, 392.0),
        (220.0, 261.63, 329.63),
    ]
    step = seconds(0.5)
    out = np.zeros(seconds(duration), dtype=np.float64)
    t = np.arange(step) / SR
    envelope = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)
    for index, first in enumerate(range(0, len(out), step)):
        note = np.zeros(step)
        for f in progression[index % len(progression)]:
            for harmonic in (1, 2, 3):
                note += np.sin(2 * np.pi * f * harmonic * t) / harmonic
        piece = note * envelope
        out[first : first + step] = piece[: len(out) - first]
    return (level * out / np.abs(out).max()).astype(np.float32)


def white_noise(duration: float, level: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0.0, level, seconds(duration)), -1, 1).astype(np.float32)


def place(track: np.ndarray, clip: np.ndarray, at: float) -> None:
    first = seconds(at)
    track[first : first + len(clip)] += clip[: len(track) - first]


NOTHING = TimeRange(0.0, 0.0)


@dataclass
class StereoCall:
    """A constructed two-channel call and what truly happens in it."""

    samples: np.ndarray
    speech: dict[str, list[TimeRange]] = field(default_factory=dict)
    words: dict[str, list[tuple[TimeRange, str]]] = field(default_factory=dict)
    hold: TimeRange = NOTHING
    silence: TimeRange = NOTHING
    overtalk: TimeRange = NOTHING


def stereo_call(hold: str = "chord") -> StereoCall:
    """Caller on the left, agent on the right, in turns, with hold audio and a silence.

    0-1 s nothing; agent, caller, agent in turns; 13-28 s hold (on the agent's side);
    28-33 s silence; then agent and caller talk over each other for one second.
    """
    total = 40.5
    left = white_noise(total, 0.0005, seed=1)  # about -66 dBFS line noise
    right = white_noise(total, 0.0005, seed=2)
    call = StereoCall(samples=np.zeros((2, seconds(total)), dtype=np.float32))
    events = [
        ("agent", "fellow", 1.0),
        ("caller", "ask_not", 4.0),
        ("agent", "ask_what", 9.5),
        ("agent", "ask_not", 33.0),
        ("caller", "ask_what", 36.6),
    ]
    for speaker, phrase, at in events:
        clip = jfk_phrase(phrase)
        place(left if speaker == "caller" else right, clip, at)
        (clip_start, _), (speech_start, speech_end), words = JFK_PHRASES[phrase]
        span = TimeRange(
            round(at + speech_start - clip_start, 3), round(at + speech_end - clip_start, 3)
        )
        call.speech.setdefault(speaker, []).append(span)
        call.words.setdefault(speaker, []).append((span, words))
    audio = {"chord": chord_music, "tone": beeps}[hold](15.0)
    place(right, audio, 13.0)
    call.hold = TimeRange(13.0, 28.0)
    call.silence = TimeRange(28.0, 33.0)
    call.overtalk = TimeRange(call.speech["caller"][-1].start, call.speech["agent"][-1].end)
    call.samples = np.stack([left, right])
    return call


def encode(samples: np.ndarray, rate: int, fmt: str, codec: str, video: str | None = None) -> bytes:
    """Encode float samples shaped (channels, n) with PyAV; optionally add a video stream."""
    samples = np.atleast_2d(samples)
    layout = "mono" if samples.shape[0] == 1 else "stereo"
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        picture = None
        if video:
            picture = container.add_stream(video, rate=10)
            picture.width, picture.height, picture.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.open()
        size = stream.codec_context.frame_size or 1024
        sample_format = stream.codec_context.format
        for first in range(0, samples.shape[1], size):
            chunk = samples[:, first : first + size]
            if chunk.shape[1] < size and stream.codec_context.frame_size:
                chunk = np.pad(chunk, ((0, 0), (0, size - chunk.shape[1])))
            frame = av.AudioFrame.from_ndarray(
                _as_format(chunk, sample_format.name), format=sample_format.name, layout=layout
            )
            frame.sample_rate, frame.pts = rate, first
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        if picture is not None:
            for index in range(int(samples.shape[1] / rate * 10)):
                image = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
                image.pts = index
                for packet in picture.encode(image):
                    container.mux(packet)
            for packet in picture.encode(None):
                container.mux(packet)
    return buffer.getvalue()


def _as_format(chunk: np.ndarray, name: str) -> np.ndarray:
    planar = name.endswith("p")
    data = chunk if planar else chunk.T.reshape(1, -1)
    if name.startswith("flt"):
        return np.ascontiguousarray(data, dtype=np.float32)
    if name.startswith("s16"):
        return np.ascontiguousarray(np.clip(data, -1, 1) * 32767, dtype=np.int16)
    if name.startswith("s32"):
        return np.ascontiguousarray(np.clip(data, -1, 1) * 2147483647, dtype=np.int32)
    raise ValueError(f"unhandled sample format {name}")


def wav_bytes(samples: np.ndarray, rate: int = SR) -> bytes:
    return encode(samples, rate, "wav", "pcm_s16le")


def ten_hour_mp3() -> bytes:
    """A real, decodable 10-hour MP3 of silence (36 MB): one silent frame repeated."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=8000, layout="mono")
        stream.bit_rate = 8000
        packets = []
        for index in range(40):
            frame = av.AudioFrame(
                format=stream.codec_context.format.name, layout="mono", samples=576
            )
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate, frame.pts = 8000, index * 576
            packets.extend(bytes(p) for p in stream.encode(frame))
    silent = packets[len(packets) // 2]
    frames = int(10 * 3600 * 8000 / 576) + 1
    return silent * frames
