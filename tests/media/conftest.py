"""Fixtures: a 12 MP phone JPEG, HEIC, PNG and WebP photos, real audio and video files."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.media.media_factories import (
    PhotoFile,
    encode_audio,
    encode_video,
    phone_exif,
    photograph,
)


@pytest.fixture(scope="session")
def jpeg_12mp(tmp_path_factory: pytest.TempPathFactory) -> PhotoFile:
    """Write a 4000x3000 JPEG with GPS, capture time, Orientation=6, XMP and a comment."""
    path = tmp_path_factory.mktemp("photos") / "IMG_0001.jpg"
    scene = photograph(4000, 3000, seed=1)
    # A red patch at the stored top-left shows where rotation puts it.
    scene.paste((255, 0, 0), (0, 0, 400, 400))
    scene.save(
        path,
        "JPEG",
        quality=88,
        exif=phone_exif(orientation=6).tobytes(),
        xmp=b"<x:xmpmeta><exif:GPSLatitude>51,55.35N</exif:GPSLatitude></x:xmpmeta>",
        comment=b"owner Alice Researcher",
    )
    return PhotoFile(path, 4000, 3000)


@pytest.fixture(scope="session")
def heic_photo(tmp_path_factory: pytest.TempPathFactory) -> PhotoFile:
    """Write a 640x480 HEIC with phone EXIF (GPS, Orientation=6) through pillow-heif."""
    path = tmp_path_factory.mktemp("photos") / "IMG_0002.heic"
    exif = phone_exif(orientation=6).tobytes()
    photograph(640, 480, seed=2).save(path, "HEIF", quality=60, exif=exif)
    return PhotoFile(path, 640, 480)


@pytest.fixture(scope="session")
def png_screenshot(tmp_path_factory: pytest.TempPathFactory) -> PhotoFile:
    """Write a PNG with a transparent corner and an eXIf chunk carrying GPS."""
    path = tmp_path_factory.mktemp("photos") / "screen.png"
    image = photograph(900, 1600, seed=3).convert("RGBA")
    image.paste((0, 0, 0, 0), (0, 0, 64, 64))
    image.save(path, "PNG", exif=phone_exif().tobytes())
    return PhotoFile(path, 900, 1600)


@pytest.fixture(scope="session")
def webp_photo(tmp_path_factory: pytest.TempPathFactory) -> PhotoFile:
    """Write a WebP with EXIF carrying GPS and Orientation=8."""
    path = tmp_path_factory.mktemp("photos") / "shelf.webp"
    photograph(1600, 1200, seed=4).save(
        path, "WEBP", quality=80, exif=phone_exif(orientation=8).tobytes()
    )
    return PhotoFile(path, 1600, 1200)


@pytest.fixture(scope="session")
def media_bytes() -> Callable[[str], bytes]:
    """Give real files by name (mp3, m4a, mp4, webm...), each encoded once per session."""
    makers: dict[str, Callable[[], bytes]] = {
        "mp3": lambda: encode_audio("mp3", "libmp3lame"),
        "aac": lambda: encode_audio("adts", "aac"),
        "flac": lambda: encode_audio("flac", "flac"),
        "wav": lambda: encode_audio("wav", "pcm_s16le"),
        "opus": lambda: encode_audio("ogg", "libopus", rate=48_000),
        "amr": lambda: encode_audio("amr", "libopencore_amrnb", rate=8_000),
        "m4a": lambda: encode_audio("ipod", "aac"),
        "weba": lambda: encode_audio("webm", "libopus", rate=48_000),
        "mp4": lambda: encode_video("mp4", "libx264"),
        "mov": lambda: encode_video("mov", "libx264"),
        "3gp": lambda: encode_video("3gp", "libx264"),
        "webm": lambda: encode_video("webm", "libvpx"),
        "mkv": lambda: encode_video("matroska", "libx264"),
    }
    made: dict[str, bytes] = {}

    def get(name: str) -> bytes:
        if name not in made:
            made[name] = makers[name]()
        return made[name]

    return get
