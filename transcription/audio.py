"""Safe probing and decoding of uploaded audio and video with PyAV.

The decoder only ever sees the bytes it was given: the input goes to FFmpeg as a Python file
object, the demuxer is chosen from the file's magic bytes out of a whitelist (never by name or
by FFmpeg's own probing, which would pick the HLS or concat demuxers for playlists), and any
attempt by a demuxer to open a second resource is refused. Duration is checked from the headers
before decoding, and decoding itself runs under a time bound and a sample-count bound.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import IO, Any, TypeAlias

import av
import av.error
import numpy as np

from transcription.errors import (
    AudioTooLong,
    CorruptAudio,
    DecodeLimitExceeded,
    EmptyAudio,
    NoAudioStream,
    ReferenceRefused,
    TruncatedAudio,
    UnsupportedAudio,
)

Source: TypeAlias = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]

#: Demuxer given to FFmpeg for each sniffed kind -> the name FFmpeg reports once open.
DEMUXERS: dict[str, str] = {
    "wav": "wav",
    "flac": "flac",
    "mp3": "mp3",
    "ogg": "ogg",
    "mov": "mov,mp4,m4a,3gp,3g2,mj2",
    "matroska": "matroska,webm",
    "amr": "amr",
    "aac": "aac",
}
#: Formats whose headers state a duration we can hold the decoded length against.
_DECLARES_DURATION = {"flac", "mov", "matroska", "ogg"}
_PLAYLIST_MARKERS = (
    b"#EXTM3U",
    b"#EXT-X-",
    b"#EXTINF",
    b"ffconcat",
    b"file ",
    b"file'",
    b'file"',
    b"[playlist]",
    b"<?xml",
    b"<mpd",
    b"<smil",
    b"<asx",
    b"http://",
    b"https://",
    b"file:",
)
_HEAD_BYTES = 4096
_MAX_BAD_PACKETS = 16
_MAX_CHUNKS = 10_000


@dataclass(frozen=True)
class AudioLimits:
    """Bounds applied before and during decoding.

    Decoded memory is at most ``max_duration * sample_rate * channels * 4`` bytes (float32):
    about 1.8 GB for four hours of 16 kHz stereo.
    """

    max_duration: float = 4 * 3600.0
    max_decode_seconds: float = 600.0
    max_channels: int = 8


DEFAULT_LIMITS = AudioLimits()


@dataclass(frozen=True)
class MediaInfo:
    """What the headers say about one audio or video file."""

    container: str
    duration: float | None
    codec: str | None
    channels: int
    sample_rate: int
    has_audio: bool
    has_video: bool
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    size: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe(source: Source, limits: AudioLimits = DEFAULT_LIMITS) -> MediaInfo:
    """Read the headers of audio or video and check them against `limits`; decode nothing."""
    with _opened(source) as (handle, size):
        kind = sniff_container(handle)
        _check_structure(handle, kind, size)
        with _open_container(handle, kind) as container:
            info = _describe(container, kind, size)
            _check_duration(info, limits)
            if not (info.has_audio or info.has_video):
                raise NoAudioStream("the file holds neither audio nor video")
            return info


def decode(
    source: Source,
    sample_rate: int = 16000,
    mono: bool = False,
    limits: AudioLimits = DEFAULT_LIMITS,
) -> np.ndarray:
    """Decode the first audio stream to float32 samples shaped (channels, samples).

    Raises an `AudioError` subclass (see `transcription.errors`) for empty, unsupported,
    truncated, corrupt or over-long input, or when decoding runs past `limits`.
    """
    with _opened(source) as (handle, size):
        kind = sniff_container(handle)
        _check_structure(handle, kind, size)
        declares = _declares_duration(kind, handle)
        with _open_container(handle, kind) as container:
            info = _describe(container, kind, size)
            _check_duration(info, limits)
            if not info.has_audio:
                raise NoAudioStream("the file has no audio stream")
            if info.channels > limits.max_channels:
                raise UnsupportedAudio(f"{info.channels} audio channels is more than allowed")
            samples = _decode_stream(container, info, sample_rate, mono, limits)
    declared = info.duration if declares else None
    decoded = samples.shape[1] / sample_rate
    if declared is not None and declared - decoded > max(1.0, 0.05 * declared):
        raise TruncatedAudio(f"the file ends after {decoded:.1f} s of {declared:.1f} s")
    return samples


def sniff_container(handle: IO[bytes]) -> str:
    """Name the container from its magic bytes; refuse playlists and anything off the list."""
    handle.seek(0)
    head = handle.read(_HEAD_BYTES)
    if not head:
        raise EmptyAudio("the file is empty")
    offset = 0
    if head.startswith(b"ID3") and len(head) >= 10:
        offset = 10 + _syncsafe(head[6:10]) + (10 if head[5] & 0x10 else 0)
        handle.seek(offset)
        head = handle.read(_HEAD_BYTES)
        if head.startswith(b"fLaC"):
            return "flac"
        if _is_adts(head):
            return "aac"
        if _is_mpeg_audio(head):
            return "mp3"
        raise UnsupportedAudio("an ID3 tag with no MPEG audio after it")
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if head[4:8] == b"ftyp" or head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith((b"#!AMR\n", b"#!AMR-WB\n")):
        return "amr"
    if _is_adts(head):
        return "aac"
    if _is_mpeg_audio(head):
        return "mp3"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if any(marker.lower() in text[:1024] for marker in _PLAYLIST_MARKERS):
        raise ReferenceRefused("playlists and reference files are not accepted as media")
    raise UnsupportedAudio("not a supported audio or video format")


# --- opening ------------------------------------------------------------------------------


@contextmanager
def _opened(source: Source) -> Iterator[tuple[IO[bytes], int]]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        handle: IO[bytes] = io.BytesIO(bytes(source))
        owned = True
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"no such file: {path}") from exc
        if not stat.S_ISREG(mode):
            raise UnsupportedAudio("only regular files can be decoded")
        handle = open(path, "rb")  # noqa: SIM115 - closed below
        owned = True
    elif hasattr(source, "read") and hasattr(source, "seek"):
        handle = source
        owned = False
    else:
        raise TypeError("source must be bytes, a path or a binary file object")
    try:
        size = handle.seek(0, io.SEEK_END)
        handle.seek(0)
        if size == 0:
            raise EmptyAudio("the file is empty")
        yield handle, size
    finally:
        if owned:
            handle.close()


def _refuse_nested_open(url: str, flags: int, options: dict[str, Any]) -> IO[bytes]:
    raise ReferenceRefused("the media refers to other files or URLs; references are refused")


@contextmanager
def _open_container(handle: IO[bytes], kind: str) -> Iterator[Any]:
    handle.seek(0)
    options = {"enable_drefs": "0", "use_absolute_path": "0"} if kind == "mov" else {}
    try:
        container = av.open(
            handle,
            mode="r",
            format=kind,
            container_options=options,
            io_open=_refuse_nested_open,
            metadata_errors="replace",
        )
    except av.error.FFmpegError as exc:
        raise CorruptAudio(f"the {kind} data could not be read") from exc
    try:
        if container.format.name not in (kind, DEMUXERS[kind]):
            raise UnsupportedAudio(f"unexpected container {container.format.name!r}")
        yield container
    finally:
        container.close()


def _describe(container: Any, kind: str, size: int) -> MediaInfo:
    audio = container.streams.audio[0] if container.streams.audio else None
    video = container.streams.video[0] if container.streams.video else None
    duration: float | None = None
    if container.duration is not None and container.duration > 0:
        duration = container.duration / av.time_base
    else:
        spans = [
            float(s.duration * s.time_base)
            for s in (audio, video)
            if s is not None and s.duration and s.time_base
        ]
        duration = max(spans) if spans else None
    return MediaInfo(
        container=DEMUXERS[kind],
        duration=None if duration is None else round(duration, 3),
        codec=audio.codec_context.name if audio else None,
        channels=audio.codec_context.channels if audio else 0,
        sample_rate=audio.codec_context.sample_rate if audio else 0,
        has_audio=audio is not None,
        has_video=video is not None,
        video_codec=video.codec_context.name if video else None,
        width=video.codec_context.width if video else None,
        height=video.codec_context.height if video else None,
        size=size,
    )


def _check_duration(info: MediaInfo, limits: AudioLimits) -> None:
    if info.duration is not None and info.duration > limits.max_duration:
        raise AudioTooLong(
            f"the recording lasts {info.duration / 3600:.1f} h; "
            f"the limit is {limits.max_duration / 3600:.1f} h"
        )


# --- decoding -----------------------------------------------------------------------------


class _SampleBuffer:
    """Growing (channels, samples) float32 buffer that never exceeds `limit` samples."""

    def __init__(self, channels: int, expected: int, limit: int) -> None:
        self.limit = limit
        self.length = 0
        self.data = np.empty((channels, max(1, min(expected, limit))), dtype=np.float32)

    def append(self, block: np.ndarray) -> None:
        end = self.length + block.shape[1]
        if end > self.limit:
            raise AudioTooLong("the recording is longer than the limit")
        if end > self.data.shape[1]:
            grown = min(self.limit, max(end, int(self.data.shape[1] * 1.5)))
            data = np.empty((self.data.shape[0], grown), dtype=np.float32)
            data[:, : self.length] = self.data[:, : self.length]
            self.data = data
        self.data[:, self.length : end] = block
        self.length = end

    def result(self) -> np.ndarray:
        view = self.data[:, : self.length]
        return view.copy() if self.data.shape[1] > 1.25 * self.length + 16000 else view


def _decode_stream(
    container: Any, info: MediaInfo, sample_rate: int, mono: bool, limits: AudioLimits
) -> np.ndarray:
    stream = container.streams.audio[0]
    channels = 1 if mono else max(1, info.channels)
    layout = "mono" if channels == 1 else ("stereo" if channels == 2 else stream.layout.name)
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
    limit = int((limits.max_duration + 1.0) * sample_rate)
    expected = int(((info.duration or 60.0) + 1.0) * sample_rate)
    buffer = _SampleBuffer(channels, expected, limit)
    deadline = time.monotonic() + limits.max_decode_seconds
    bad_packets = 0
    bad_at_end = False
    try:
        for packet in container.demux(stream):
            if time.monotonic() > deadline:
                raise DecodeLimitExceeded(
                    f"decoding took longer than {limits.max_decode_seconds:.0f} s"
                )
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                bad_packets += 1
                bad_at_end = True
                if bad_packets > _MAX_BAD_PACKETS:
                    raise CorruptAudio("too many undecodable audio packets") from None
                continue
            for frame in frames:
                bad_at_end = False
                for out in resampler.resample(frame):
                    buffer.append(out.to_ndarray())
        for out in resampler.resample(None):
            buffer.append(out.to_ndarray())
    except av.error.FFmpegError as exc:
        if buffer.length == 0:
            raise CorruptAudio("the audio data could not be decoded") from exc
        raise TruncatedAudio("the audio data ends abruptly") from exc
    if bad_at_end:
        raise TruncatedAudio("the last audio packets are cut off")
    if buffer.length == 0:
        raise CorruptAudio("no audio could be decoded")
    return buffer.result()


# --- structure checks ---------------------------------------------------------------------


def _check_structure(handle: IO[bytes], kind: str, size: int) -> None:
    """Refuse files whose own chunk or atom sizes run past the end: they were cut off."""
    if kind == "wav":
        _check_wav_chunks(handle, size)
    elif kind == "mov":
        _check_mov_atoms(handle, size)


def _check_wav_chunks(handle: IO[bytes], size: int) -> None:
    handle.seek(0)
    if handle.read(4) != b"RIFF":
        return  # RF64/BW64 keep their sizes in a ds64 chunk; FFmpeg's own checks apply
    offset = 12
    for _ in range(_MAX_CHUNKS):
        handle.seek(offset)
        raw = handle.read(8)
        if len(raw) < 8:
            return
        name, length = struct.unpack("<4sI", raw)
        if name == b"data" and length in (0, 0xFFFFFFFF):
            return  # a streamed WAV whose size was never filled in
        offset += 8 + length + (length & 1)
        if offset - (length & 1) > size:
            raise TruncatedAudio(f"the file is cut off: {offset - size} bytes are missing")


def _check_mov_atoms(handle: IO[bytes], size: int) -> None:
    offset = 0
    for _ in range(_MAX_CHUNKS):
        handle.seek(offset)
        raw = handle.read(16)
        if len(raw) < 8:
            return
        length, _name = struct.unpack(">I4s", raw[:8])
        if length == 0:
            return  # the last atom runs to the end of the file by definition
        if length == 1:
            if len(raw) < 16:
                raise TruncatedAudio("the file is cut off inside an atom header")
            (length,) = struct.unpack(">Q", raw[8:16])
        if length < 8:
            raise CorruptAudio("an atom declares an impossible size")
        offset += length
        if offset > size:
            raise TruncatedAudio(f"the file is cut off: {offset - size} bytes are missing")


def _declares_duration(kind: str, handle: IO[bytes]) -> bool:
    """Whether the headers state the length; MP3 only does in a Xing/Info/VBRI frame."""
    if kind != "mp3":
        return kind in _DECLARES_DURATION
    handle.seek(0)
    head = handle.read(_HEAD_BYTES)
    if head.startswith(b"ID3") and len(head) >= 10:
        handle.seek(10 + _syncsafe(head[6:10]))
        head = handle.read(512)
    return any(tag in head[:512] for tag in (b"Xing", b"Info", b"VBRI"))


def _syncsafe(raw: bytes) -> int:
    return (raw[0] & 0x7F) << 21 | (raw[1] & 0x7F) << 14 | (raw[2] & 0x7F) << 7 | (raw[3] & 0x7F)


def _is_adts(head: bytes) -> bool:
    return len(head) >= 7 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0


def _is_mpeg_audio(head: bytes) -> bool:
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 0x3, (head[1] >> 1) & 0x3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0x3
    return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3
