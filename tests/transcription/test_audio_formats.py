"""Probing and decoding every whitelisted container, audio and video."""

from __future__ import annotations

import numpy as np
import pytest

from tests.transcription.factory import CALL, JFK, SR, encode, tone
from transcription.audio import decode, probe
from transcription.errors import NoAudioStream


def _stereo(rate: int, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)]).astype(
        np.float32
    )


@pytest.mark.parametrize(
    ("fmt", "codec", "rate", "container"),
    [
        ("wav", "pcm_s16le", 16000, "wav"),
        ("flac", "flac", 16000, "flac"),
        ("mp3", "libmp3lame", 16000, "mp3"),
        ("ogg", "libopus", 48000, "ogg"),
        ("ipod", "aac", 16000, "mov,mp4,m4a,3gp,3g2,mj2"),
        ("mov", "aac", 16000, "mov,mp4,m4a,3gp,3g2,mj2"),
        ("webm", "libopus", 48000, "matroska,webm"),
        ("matroska", "flac", 16000, "matroska,webm"),
        ("adts", "aac", 16000, "aac"),
    ],
)
def test_whitelisted_formats_probe_and_decode(fmt, codec, rate, container):
    data = encode(_stereo(rate), rate, fmt, codec)
    info = probe(data)
    assert info.container == container
    assert info.channels == 2 and info.has_audio and not info.has_video
    assert info.duration == pytest.approx(2.0, abs=0.15)  # ADTS states none: FFmpeg estimates
    samples = decode(data)
    assert samples.dtype == np.float32 and samples.shape[0] == 2
    assert samples.shape[1] == pytest.approx(2 * SR, abs=0.15 * SR)
    left, right = samples[:, SR // 2 : SR]
    assert np.argmax(np.abs(np.fft.rfft(left))) != np.argmax(np.abs(np.fft.rfft(right)))
    mono = decode(data, sample_rate=8000, mono=True)
    assert mono.shape[0] == 1 and mono.shape[1] == pytest.approx(16000, abs=1200)


def test_amr_narrowband():
    data = encode(tone(2.0, 440)[None][:, ::2], 8000, "amr", "libopencore_amrnb")
    info = probe(data)
    assert (info.container, info.codec, info.sample_rate) == ("amr", "amrnb", 8000)
    assert decode(data).shape == (1, pytest.approx(32000, abs=1600))


@pytest.mark.parametrize(("fmt", "video"), [("mp4", "mpeg4"), ("mov", "h264")])
def test_video_is_probed(fmt, video):
    data = encode(_stereo(16000), 16000, fmt, "aac", video=video)
    info = probe(data)
    assert info.has_video and info.has_audio
    assert (info.video_codec, info.width, info.height) == (video, 64, 48)
    assert info.container == "mov,mp4,m4a,3gp,3g2,mj2"
    assert info.duration == pytest.approx(2.0, abs=0.2)
    assert decode(data).shape[0] == 2


def test_video_without_audio_probes_but_does_not_decode():
    data = encode(_stereo(16000), 16000, "mp4", "aac", video="mpeg4")
    info = probe(data)
    assert info.to_dict()["has_video"] is True
    silent_video = _video_only()
    assert probe(silent_video).has_audio is False
    with pytest.raises(NoAudioStream) as caught:
        decode(silent_video)
    assert caught.value.code == "audio.no_audio"


def _video_only() -> bytes:
    import io

    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for index in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def test_shared_fixtures_decode():
    jfk = decode(JFK, mono=True)
    assert jfk.shape == (1, 11 * SR)
    call = probe(CALL)
    assert (call.container, call.sample_rate, call.channels) == ("wav", 8000, 1)
    with open(CALL, "rb") as handle:
        assert decode(handle, mono=True).shape[1] == pytest.approx(84.6 * SR, abs=SR)
