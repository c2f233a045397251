"""Photo metadata, pixel floods, privacy-safe derived copies and fingerprints."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image, ImageOps
from PIL.ExifTags import IFD

from server.media.errors import MediaRejected
from server.media.photos import (
    hamming_distance,
    inspect_photo,
    make_derivatives,
    make_thumbnail,
    open_photo,
    perceptual_hash,
)
from tests.media.media_factories import (
    ACCURACY_M,
    ALTITUDE_M,
    LATITUDE,
    LONGITUDE,
    SOFTWARE,
    PhotoFile,
    heic_declaring,
    jpeg_segments,
    photograph,
    png_declaring,
)

APP1, COM = 0xE1, 0xFE
FLOOD_PEAK_BYTES = 2 * 1024 * 1024


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image


def assert_no_personal_metadata(data: bytes) -> None:
    image = reopen(data)
    exif = image.getexif()
    assert not exif.get_ifd(IFD.GPSInfo)
    assert not exif.get_ifd(IFD.Exif)
    assert len(exif) == 0
    assert "xmp" not in image.info and "comment" not in image.info
    markers = jpeg_segments(data)
    assert APP1 not in markers and COM not in markers
    for secret in (b"Alice", b"SERIAL", b"maker-private", b"GPS"):
        assert secret not in data


# --- metadata ------------------------------------------------------------------------------


def test_jpeg_exif_and_gps_read_back(jpeg_12mp: PhotoFile) -> None:
    info = inspect_photo(jpeg_12mp.path)
    assert (info.format, info.mime) == ("JPEG", "image/jpeg")
    assert (info.width, info.height) == (3000, 4000)  # orientation 6 is viewed upright
    assert info.orientation == 6
    assert info.captured_at == datetime(2025, 5, 14, 10, 32, 7, tzinfo=timezone(timedelta(hours=2)))
    assert info.gps is not None
    assert info.gps.latitude == pytest.approx(LATITUDE, abs=1e-6)
    assert info.gps.longitude == pytest.approx(LONGITUDE, abs=1e-6)
    assert info.gps.altitude_m == pytest.approx(ALTITUDE_M)
    assert info.gps.accuracy_m == pytest.approx(ACCURACY_M)
    assert (info.camera_make, info.camera_model, info.software) == ("Fairphone", "FP5", SOFTWARE)
    assert info.as_metadata()["captured_at"] == "2025-05-14T10:32:07+02:00"


def test_heic_exif_and_gps_read_back(heic_photo: PhotoFile) -> None:
    info = inspect_photo(heic_photo.path)
    assert (info.format, info.mime) == ("HEIF", "image/heic")
    assert (info.width, info.height, info.orientation) == (480, 640, 6)
    assert info.gps is not None
    assert info.gps.latitude == pytest.approx(LATITUDE, abs=1e-6)
    assert info.gps.longitude == pytest.approx(LONGITUDE, abs=1e-6)
    assert info.gps.accuracy_m == pytest.approx(ACCURACY_M)
    assert info.captured_at is not None and info.captured_at.utcoffset() == timedelta(hours=2)


def test_png_and_webp_exif_read_back(png_screenshot: PhotoFile, webp_photo: PhotoFile) -> None:
    png = inspect_photo(png_screenshot.path)
    webp = inspect_photo(webp_photo.path.read_bytes())
    assert png.gps is not None and png.gps.latitude == pytest.approx(LATITUDE, abs=1e-6)
    assert (webp.width, webp.height, webp.orientation) == (1200, 1600, 8)
    assert webp.camera_model == "FP5"


def test_photo_without_exif_has_empty_metadata() -> None:
    out = io.BytesIO()
    photograph(80, 60, seed=6).save(out, "JPEG")
    info = inspect_photo(out.getvalue())
    assert (info.width, info.height) == (80, 60)
    assert info.gps is None and info.captured_at is None and info.orientation is None


def test_inspect_reads_the_header_only(jpeg_12mp: PhotoFile) -> None:
    before = Image.core.get_stats()["new_count"]  # Pillow's count of pixel buffers made
    inspect_photo(jpeg_12mp.path)
    assert Image.core.get_stats()["new_count"] == before


# --- RELIABILITY 18: pixel floods ----------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height"),
    [(20_000, 10_000), (12_000, 10_000), (9_000, 9_000)],
    ids=["200MP", "120MP", "81MP"],
)
def test_rel18_tiny_png_declaring_huge_size_is_refused_in_bounded_memory(
    width: int, height: int
) -> None:
    flood = png_declaring(width, height)
    assert len(flood) < 200
    before = Image.core.get_stats()["new_count"]
    tracemalloc.start()
    try:
        for action in (inspect_photo, make_derivatives, perceptual_hash):
            with pytest.raises(MediaRejected) as caught:
                action(flood)
            assert caught.value.code == "photo.too_many_pixels"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < FLOOD_PEAK_BYTES
    assert Image.core.get_stats()["new_count"] == before


def test_rel18_heic_declaring_absurd_dimensions_is_refused() -> None:
    flood = heic_declaring(30_000, 20_000)
    tracemalloc.start()
    try:
        with pytest.raises(MediaRejected) as caught:
            make_derivatives(flood)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.code == "photo.too_many_pixels"
    assert peak < FLOOD_PEAK_BYTES


def test_rel18_caller_limit_applies_below_pillows_own(jpeg_12mp: PhotoFile) -> None:
    limit_before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(MediaRejected) as caught:
        inspect_photo(jpeg_12mp.path, max_pixels=11_999_999)
    assert caught.value.code == "photo.too_many_pixels"
    assert inspect_photo(jpeg_12mp.path, max_pixels=12_000_000).width == 3000
    assert limit_before == Image.MAX_IMAGE_PIXELS  # the process-wide limit is never touched


def test_rel18_declared_size_is_not_trusted_for_small_real_photos() -> None:
    with open_photo(png_declaring(640, 480)) as image:
        assert image.size == (640, 480)


# --- RELIABILITY 19: derived copies carry no GPS, originals stay bit-identical -------------


def test_rel19_jpeg_derivatives_are_upright_and_have_no_gps(jpeg_12mp: PhotoFile) -> None:
    original = sha256(jpeg_12mp.path)
    display, thumb = make_derivatives(jpeg_12mp.path)
    assert sha256(jpeg_12mp.path) == original
    assert reopen(display).size == (1536, 2048)
    assert reopen(thumb).size == (768, 1024)
    for copy in (display, thumb):
        assert_no_personal_metadata(copy)
    # Orientation 6 turns the stored top-left corner into the viewed top-right one.
    upright = reopen(thumb).convert("RGB")
    red, green, blue = upright.getpixel((upright.width - 20, 20))  # type: ignore[misc]
    assert red > 200 and green < 60 and blue < 60
    assert upright.getpixel((20, 20)) != (255, 0, 0)


def test_rel19_original_stream_is_read_not_written(jpeg_12mp: PhotoFile) -> None:
    original = jpeg_12mp.path.read_bytes()
    stream = io.BytesIO(original)
    make_derivatives(stream)
    inspect_photo(stream)
    assert stream.getvalue() == original


def test_rel19_heic_derivatives_have_no_gps(heic_photo: PhotoFile) -> None:
    original = sha256(heic_photo.path)
    display, thumb = make_derivatives(heic_photo.path, display_max=640, thumb_max=320)
    assert sha256(heic_photo.path) == original
    assert reopen(display).size == (480, 640)  # libheif applied the rotation
    assert reopen(thumb).size == (240, 320)
    assert_no_personal_metadata(display)
    assert_no_personal_metadata(thumb)


def test_rel19_png_and_webp_derivatives_have_no_gps(
    png_screenshot: PhotoFile, webp_photo: PhotoFile
) -> None:
    png_display, png_thumb = make_derivatives(png_screenshot.path)
    webp_display, webp_thumb = make_derivatives(webp_photo.path)
    for copy in (png_display, png_thumb, webp_display, webp_thumb):
        assert_no_personal_metadata(copy)
    # The transparent corner is laid on white, not left black.
    assert reopen(png_display).getpixel((8, 8)) == pytest.approx((255, 255, 255), abs=8)
    assert reopen(webp_display).size == (1200, 1600)  # orientation 8 applied
    assert reopen(webp_thumb).size == (768, 1024)


def test_thumbnail_alone_matches_the_derivative_path(jpeg_12mp: PhotoFile) -> None:
    thumb = make_thumbnail(jpeg_12mp.path, max_side=1024)
    assert reopen(thumb).size == (768, 1024)
    assert_no_personal_metadata(thumb)


def test_small_photos_are_not_enlarged() -> None:
    out = io.BytesIO()
    photograph(300, 200, seed=7).save(out, "PNG")
    display, thumb = make_derivatives(out.getvalue())
    assert reopen(display).size == reopen(thumb).size == (300, 200)


def test_unreadable_photos_are_refused() -> None:
    out = io.BytesIO()
    photograph(400, 300, seed=8).save(out, "JPEG")
    with pytest.raises(MediaRejected) as truncated:
        make_derivatives(out.getvalue()[:2000])
    with pytest.raises(MediaRejected) as not_a_photo:
        inspect_photo(b"# a note, not a photo\n")
    gif = io.BytesIO()
    Image.new("P", (8, 8)).save(gif, "GIF")
    with pytest.raises(MediaRejected) as gif_refused:
        inspect_photo(gif.getvalue())
    codes = {truncated.value.code, not_a_photo.value.code, gif_refused.value.code}
    assert codes == {"photo.unreadable"}


# --- perceptual hash -----------------------------------------------------------------------


def test_reencoded_copy_is_near_and_another_photo_is_far(jpeg_12mp: PhotoFile) -> None:
    original = perceptual_hash(jpeg_12mp.path)
    upright = ImageOps.exif_transpose(Image.open(jpeg_12mp.path)).resize((750, 1000))
    reencoded = io.BytesIO()
    upright.save(reencoded, "JPEG", quality=35)
    other = io.BytesIO()
    photograph(4000, 3000, seed=11).save(other, "JPEG", quality=88)
    _, thumb = make_derivatives(jpeg_12mp.path)

    assert len(original) == 32
    assert hamming_distance(original, perceptual_hash(reencoded.getvalue())) <= 6
    assert hamming_distance(original, perceptual_hash(thumb)) <= 6
    assert hamming_distance(original, perceptual_hash(other.getvalue())) >= 32


def test_hash_of_an_image_object_applies_its_orientation(jpeg_12mp: PhotoFile) -> None:
    with Image.open(jpeg_12mp.path) as stored:
        assert perceptual_hash(stored) == perceptual_hash(jpeg_12mp.path)


def test_server_file_system_errors_are_not_blamed_on_the_client(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        inspect_photo(tmp_path / "gone.jpg")
