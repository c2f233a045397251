"""RELIABILITY item 20: audio is decoded so that the decoder cannot open any other file or
URL, and truncated, zero-byte and 10-hour files fail cleanly within a time and memory bound."""

from __future__ import annotations

import time

import av
import numpy as np
import pytest

from tests.transcription.factory import SR, encode, jfk_16k, ten_hour_mp3, tone, wav_bytes
from tests.transcription.fswatch import FileWatch
from transcription import audio as audio_module
from transcription.audio import AudioLimits, decode, probe
from transcription.errors import (
    AudioTooLong,
    DecodeLimitExceeded,
    EmptyAudio,
    ReferenceRefused,
    TruncatedAudio,
    UnsupportedAudio,
)


@pytest.fixture
def target(tmp_path):
    """A real, decodable file that the playlists below point at."""
    path = tmp_path / "secret.flac"
    path.write_bytes(encode(tone(2.0)[None], SR, "flac", "flac"))
    return path


def _hls(target) -> bytes:
    return (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
        f"#EXTINF:2.0,\n{target}\n#EXT-X-ENDLIST\n"
    ).encode()


def _ffconcat(target) -> bytes:
    return f"ffconcat version 1.0\nfile '{target}'\nduration 2.0\n".encode()


def test_reliability_20_the_watch_sees_a_naive_decoder_read_the_target(tmp_path, target):
    """Control: plain FFmpeg opening by name does follow these playlists to the target."""
    playlist = tmp_path / "list.m3u8"
    playlist.write_bytes(_hls(target))
    concat = tmp_path / "list.ffconcat"
    concat.write_bytes(_ffconcat(target))
    with FileWatch(target) as watch:
        av.open(str(playlist)).close()
        assert watch.events(), "HLS by file name should read the target"
        av.open(str(concat), format="concat", options={"safe": "0"}).close()
        assert watch.events(), "concat should read the target"


@pytest.mark.parametrize("make", [_hls, _ffconcat], ids=["hls", "ffconcat"])
@pytest.mark.parametrize("as_path", [True, False], ids=["path", "bytes"])
def test_reliability_20_playlist_disguised_as_m4a_is_refused_unread(
    tmp_path, target, make, as_path
):
    disguised = tmp_path / "recording.m4a"
    disguised.write_bytes(make(target))
    source = disguised if as_path else disguised.read_bytes()
    with FileWatch(target) as watch:
        for operation in (probe, decode):
            with pytest.raises(ReferenceRefused) as caught:
                operation(source)
            assert caught.value.code == "audio.reference"
            assert isinstance(caught.value, UnsupportedAudio)
        assert watch.events() == []


def test_reliability_20_nested_opens_are_refused_even_past_the_sniffer(
    monkeypatch, tmp_path, target
):
    """Defence in depth: were the HLS demuxer ever chosen, it still could not open the target."""
    monkeypatch.setattr(audio_module, "sniff_container", lambda handle: "hls")
    monkeypatch.setitem(audio_module.DEMUXERS, "hls", "hls")
    with FileWatch(target) as watch:
        with pytest.raises(ReferenceRefused):
            probe(_hls(target))
        assert watch.events() == []


def test_reliability_20_zero_byte_file(tmp_path):
    empty = tmp_path / "empty.m4a"
    empty.write_bytes(b"")
    for source in (empty, b""):
        with pytest.raises(EmptyAudio) as caught:
            decode(source)
        assert caught.value.code == "audio.empty"


@pytest.mark.parametrize(
    "garbage",
    [
        np.random.default_rng(7).bytes(20_000),
        b"\x89PNG\r\n\x1a\n" + bytes(200),
        b"RIFF\x00\x01\x00\x00AVI LIST" + bytes(200),
        b"hello, this is a note and not a recording\n" * 10,
    ],
    ids=["random", "png", "avi", "text"],
)
def test_reliability_20_garbage_is_unsupported(garbage):
    with pytest.raises(UnsupportedAudio) as caught:
        probe(garbage)
    assert caught.value.code == "audio.unsupported"


@pytest.mark.parametrize(
    ("fmt", "codec", "rate"),
    [
        ("wav", "pcm_s16le", 16000),
        ("flac", "flac", 16000),
        ("mp3", "libmp3lame", 16000),
        ("ipod", "aac", 16000),
        ("webm", "libopus", 48000),
        ("adts", "aac", 16000),
    ],
)
def test_reliability_20_truncated_file(fmt, codec, rate):
    speech = np.tile(jfk_16k(), 1)[None]
    if rate != SR:
        speech = np.repeat(speech, rate // SR, axis=1)
    data = encode(speech, rate, fmt, codec)
    decode(data)  # the whole file is fine
    with pytest.raises(TruncatedAudio) as caught:
        decode(data[: int(len(data) * 0.6)])
    assert caught.value.code == "audio.truncated"


def test_reliability_20_ten_hour_file_fails_fast(tmp_path):
    data = ten_hour_mp3()
    path = tmp_path / "ten-hours.mp3"
    path.write_bytes(data)
    for source in (data, path):
        for operation in (probe, decode):
            started = time.monotonic()
            with pytest.raises(AudioTooLong) as caught:
                operation(source)
            assert caught.value.code == "audio.too_long"
            assert time.monotonic() - started < 2.0


def test_reliability_20_duration_limit_is_configurable():
    data = wav_bytes(tone(12.0)[None])
    assert probe(data, AudioLimits(max_duration=20)).duration == pytest.approx(12.0)
    with pytest.raises(AudioTooLong):
        probe(data, AudioLimits(max_duration=10))


def _flac_claiming(seconds_claimed: float, seconds_real: float) -> bytes:
    """A FLAC file whose STREAMINFO states `seconds_claimed` but holds `seconds_real`."""
    data = bytearray(encode(tone(seconds_real)[None], SR, "flac", "flac"))
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO comes first
    total = int(seconds_claimed * SR)
    data[21] = (data[21] & 0xF0) | (total >> 32)
    data[22:26] = (total & 0xFFFFFFFF).to_bytes(4, "big")
    return bytes(data)


def test_reliability_20_decoding_stops_at_the_length_bound_whatever_the_header_says():
    data = _flac_claiming(2.0, 60.0)
    limits = AudioLimits(max_duration=10)
    assert probe(data, limits).duration == pytest.approx(2.0)
    with pytest.raises(AudioTooLong):
        decode(data, limits=limits)


def test_reliability_20_decoding_stops_at_the_time_bound():
    data = wav_bytes(tone(30.0)[None])
    with pytest.raises(DecodeLimitExceeded) as caught:
        decode(data, limits=AudioLimits(max_decode_seconds=1e-9))
    assert caught.value.code == "audio.decode_limit"


def test_special_files_are_not_opened(tmp_path):
    with pytest.raises(UnsupportedAudio):
        probe(tmp_path)
