"""Factories for real evidence media: photo-like scenes, phone EXIF, encoded audio and video."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image
from PIL.ExifTags import GPS, IFD, Base

import server.media  # noqa: F401  (registers the HEIF writer used for HEIC fixtures)

# Where and when the fixture camera says it was: Rotterdam, 14 May 2025, 10:32 CEST.
LATITUDE = 51.0 + 55.0 / 60 + 21.5 / 3600
LONGITUDE = 4.0 + 28.0 / 60 + 45.25 / 3600
ALTITUDE_M = 12.5
ACCURACY_M = 4.5
CAPTURED = "2025:05:14 10:32:07"
OFFSET = "+02:00"
SOFTWARE = "iOS 17.4.1"


@dataclass(frozen=True)
class PhotoFile:
    """A photo written to disk by a fixture, with the pixel size it was stored at."""

    path: Path
    width: int
    height: int


def photograph(width: int, height: int, seed: int) -> Image.Image:
    """Paint a photo-like scene: smooth random shapes, a light gradient and sensor noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    scene = np.asarray(
        Image.fromarray(coarse, "RGB").resize((width, height), Image.Resampling.BICUBIC),
        dtype=np.int16,
    )
    light = np.linspace(-25, 25, width, dtype=np.int16)[None, :, None]
    noise_tile = rng.integers(-10, 11, (256, 256, 3), dtype=np.int16)
    noise = np.tile(noise_tile, (height // 256 + 1, width // 256 + 1, 1))[:height, :width]
    pixels = np.clip(scene + light + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def phone_exif(*, orientation: int = 1, software: str = SOFTWARE) -> Image.Exif:
    """Build the EXIF a phone camera writes, personal fields and GPS included."""
    exif = Image.Exif()
    exif[Base.Make] = "Fairphone"
    exif[Base.Model] = "FP5"
    exif[Base.Software] = software
    exif[Base.Orientation] = orientation
    details = exif.get_ifd(IFD.Exif)
    details[Base.DateTimeOriginal] = CAPTURED
    details[Base.OffsetTimeOriginal] = OFFSET
    details[Base.BodySerialNumber] = "FP5-SERIAL-0042"
    details[Base.CameraOwnerName] = "Alice Researcher"
    details[Base.MakerNote] = b"maker-private-blob"
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[GPS.GPSLatitudeRef] = "N"
    gps[GPS.GPSLatitude] = (51.0, 55.0, 21.5)
    gps[GPS.GPSLongitudeRef] = "E"
    gps[GPS.GPSLongitude] = (4.0, 28.0, 45.25)
    gps[GPS.GPSAltitudeRef] = b"\x00"
    gps[GPS.GPSAltitude] = ALTITUDE_M
    gps[GPS.GPSHPositioningError] = ACCURACY_M
    return exif


def png_declaring(width: int, height: int) -> bytes:
    """Hand-craft a tiny, valid-looking PNG whose IHDR declares width x height pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # One compressed scanline of zeros: a decoder would inflate it into gigabytes.
    idat = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def encode_audio(container: str, codec: str, *, rate: int = 16_000, layout: str = "mono") -> bytes:
    """Encode a quarter second of a 440 Hz tone with PyAV and return the file's bytes."""
    out = io.BytesIO()
    with av.open(out, "w", format=container) as muxer:
        stream = muxer.add_stream(codec, rate=rate, layout=layout)
        assert isinstance(stream, av.AudioStream)
        samples = np.arange(rate // 4)
        tone = (np.sin(2 * np.pi * 440 * samples / rate) * 12_000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(tone[None, :], format="s16", layout="mono")
        frame.sample_rate = rate
        frame.pts = 0
        frame.time_base = Fraction(1, rate)
        resampler = av.AudioResampler(format=stream.format, layout=layout, rate=rate)
        for converted in resampler.resample(frame):
            muxer.mux(stream.encode(converted))
        muxer.mux(stream.encode(None))
    return out.getvalue()


def encode_video(container: str, codec: str) -> bytes:
    """Encode five 64x64 frames with PyAV and return the file's bytes."""
    out = io.BytesIO()
    with av.open(out, "w", format=container) as muxer:
        stream = muxer.add_stream(codec, rate=10)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for index in range(5):
            picture = np.full((64, 64, 3), index * 40, dtype=np.uint8)
            muxer.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        muxer.mux(stream.encode(None))
    return out.getvalue()


def heic_declaring(width: int, height: int) -> bytes:
    """Encode a small HEIC, then rewrite its ispe box to declare width x height pixels."""
    out = io.BytesIO()
    # Sizes that are not whole coding units get a crop box that would override ispe.
    photograph(256, 192, seed=5).save(out, "HEIF", quality=50)
    data = bytearray(out.getvalue())
    spatial_extent = data.find(b"ispe")
    if spatial_extent < 0 or data.count(b"ispe") != 1:
        raise AssertionError("expected exactly one ispe box in the encoded HEIC")
    # ispe: 4-byte type, 4-byte version/flags, then 32-bit width and height.
    data[spatial_extent + 8 : spatial_extent + 16] = struct.pack(">II", width, height)
    return bytes(data)


def jpeg_segments(data: bytes) -> list[int]:
    """List the marker bytes of a JPEG's header segments, up to the start of scan."""
    if not data.startswith(b"\xff\xd8"):
        raise AssertionError("not a JPEG")
    markers, position = [], 2
    while position < len(data):
        marker = data[position + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return markers
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        position += 2 + length
    return markers
