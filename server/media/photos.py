"""Photo evidence: metadata, pixel-flood guard, privacy-safe derived copies, fingerprints.

Originals are only ever read. Every derived copy (display copy, thumbnail) is a fresh JPEG
with no EXIF, XMP or comment block at all, so GPS, maker notes, serial numbers and owner
names cannot leak into what viewers and journals show (RELIABILITY 19).
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import IO, Any

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from PIL.ExifTags import GPS, IFD, Base

from server.media.errors import MediaRejected

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "PHOTO_FORMATS",
    "GpsFix",
    "PhotoInfo",
    "PhotoSource",
    "edited_software",
    "hamming_distance",
    "inspect_photo",
    "make_derivatives",
    "make_thumbnail",
    "open_photo",
    "perceptual_hash",
]

PhotoSource = str | os.PathLike[str] | bytes | IO[bytes]

# Covers 50 and 64 megapixel phone captures and stays under Pillow's own bomb limit
# (about 89.5 MP), so Pillow's DecompressionBombWarning only ever fires for photos this
# module refuses anyway.
DEFAULT_MAX_PIXELS = 80_000_000
# Only these decoders may ever see evidence bytes; Pillow knows many more formats.
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
DISPLAY_QUALITY = 85
THUMB_QUALITY = 80
_HASH_SIDE = 8
_MAX_TEXT = 200
_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic"}
# struct.error: a TIFF header cut short inside an EXIF block
_UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, RuntimeError, TypeError, struct.error)
_BAD_EXIF = (*_UNREADABLE, KeyError, IndexError, ZeroDivisionError, OverflowError)

_EDITORS = re.compile(
    r"photoshop|lightroom|\bgimp\b|snapseed|picsart|affinity|pixelmator|facetune|\bvsco\b|"
    r"\bcanva\b|paint\.net|photoscape|\bfotor\b|luminar|capture one|darktable|rawtherapee|"
    r"photopea|meitu|airbrush|polarr|picasa|photodirector|paintshop|acdsee|\bkrita\b|"
    r"remini|lensa|picmonkey|befunky|photoroom|\bpixlr\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class GpsFix:
    """Where the camera says it was: degrees, metres above sea level, horizontal error."""

    latitude: float
    longitude: float
    altitude_m: float | None = None
    accuracy_m: float | None = None


@dataclass(frozen=True)
class PhotoInfo:
    """What a photo's header and EXIF say; width and height are as the photo is viewed.

    ``captured_at`` is timezone-aware when the camera recorded an offset, naive (camera
    local time) otherwise. ``orientation`` is the EXIF orientation as captured.
    """

    format: str
    mime: str
    width: int
    height: int
    orientation: int | None = None
    captured_at: datetime | None = None
    gps: GpsFix | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    software: str | None = None

    def as_metadata(self) -> dict[str, Any]:
        """Return the metadata as JSON-ready values for the evidence record."""
        data = asdict(self)
        data["captured_at"] = self.captured_at.isoformat() if self.captured_at else None
        return data


@contextmanager
def open_photo(
    source: PhotoSource, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Iterator[ImageFile.ImageFile]:
    """Open a photo's header and refuse pixel floods before a single pixel is decoded.

    ``Image.open`` reads only the header, so the declared size is checked against
    ``max_pixels`` (and Pillow's own limit, whichever is lower) with memory bounded by the
    header. Pillow's global ``MAX_IMAGE_PIXELS`` is read, never changed. Raise
    ``MediaRejected`` with ``photo.too_many_pixels`` or ``photo.unreadable``.
    """
    fp: str | os.PathLike[str] | IO[bytes] = (
        io.BytesIO(source) if isinstance(source, bytes) else source
    )
    try:
        image = Image.open(fp, formats=PHOTO_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # The warning arrives as an exception where warnings are errors; either way the
        # size was over Pillow's limit, which is at or above ours.
        raise _too_many_pixels(str(exc)) from None
    except UnidentifiedImageError:
        raise MediaRejected(
            "photo.unreadable", "file", "the photo is not a JPEG, PNG, WebP or HEIC image"
        ) from None
    except _UNREADABLE as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # the server's own file system failed, not the client's photo
        raise MediaRejected(
            "photo.unreadable", "file", f"the photo cannot be read: {exc}"
        ) from None
    with image:
        width, height = image.size
        limit = _pixel_limit(max_pixels)
        if width * height > limit:
            raise _too_many_pixels(
                f"the photo declares {width}x{height} pixels; the limit is {limit} pixels"
            )
        yield image


def inspect_photo(source: PhotoSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> PhotoInfo:
    """Read a photo's size and EXIF metadata without decoding its pixels."""
    with open_photo(source, max_pixels=max_pixels) as image:
        fmt = image.format or "unknown"
        exif = _exif_of(image)
        width, height = image.size
        if fmt == "HEIF":
            # libheif applies the rotation itself and resets the EXIF tag to 1.
            orientation = _as_int(image.info.get("original_orientation"))
        else:
            orientation = _as_int(exif.get(Base.Orientation))
            if orientation in (5, 6, 7, 8):
                width, height = height, width
        exif_ifd = _ifd(exif, IFD.Exif)
        return PhotoInfo(
            format=fmt,
            mime=_MIME.get(fmt, "application/octet-stream"),
            width=width,
            height=height,
            orientation=orientation,
            captured_at=_captured_at(exif_ifd),
            gps=_gps_fix(_ifd(exif, IFD.GPSInfo)),
            camera_make=_text(exif.get(Base.Make)),
            camera_model=_text(exif.get(Base.Model)),
            software=_text(exif.get(Base.Software)),
        )


def make_derivatives(
    source: PhotoSource,
    *,
    display_max: int = 2048,
    thumb_max: int = 1024,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[bytes, bytes]:
    """Return (display JPEG, thumbnail JPEG): upright, bounded, and with no metadata."""
    if not 0 < thumb_max <= display_max:
        raise ValueError("need 0 < thumb_max <= display_max")
    with open_photo(source, max_pixels=max_pixels) as image:
        icc_profile, display = _upright_within(image, display_max)
    thumb = _fit(display, thumb_max)
    return (
        _encode_jpeg(display, DISPLAY_QUALITY, icc_profile),
        _encode_jpeg(thumb, THUMB_QUALITY, icc_profile),
    )


def make_thumbnail(
    source: PhotoSource, *, max_side: int = 1024, max_pixels: int = DEFAULT_MAX_PIXELS
) -> bytes:
    """Return one upright, metadata-free JPEG no larger than ``max_side`` on either side."""
    with open_photo(source, max_pixels=max_pixels) as image:
        icc_profile, thumb = _upright_within(image, max_side)
    return _encode_jpeg(thumb, THUMB_QUALITY, icc_profile)


def perceptual_hash(image: Image.Image | PhotoSource) -> str:
    """Fingerprint what a photo shows: a 128-bit difference hash as 32 hex digits.

    Horizontal and vertical brightness gradients of an 8x8 grid survive re-encoding,
    resizing and metadata changes, so the same shot stored twice hashes nearly the same.
    """
    if isinstance(image, Image.Image):
        return _difference_hash(ImageOps.exif_transpose(image))
    with open_photo(image) as opened:
        opened.draft("L", (_HASH_SIDE * 8, _HASH_SIDE * 8))
        try:
            return _difference_hash(ImageOps.exif_transpose(opened))
        except _UNREADABLE as exc:
            raise MediaRejected(
                "photo.unreadable", "file", f"the photo cannot be decoded: {exc}"
            ) from None


def hamming_distance(a: str, b: str) -> int:
    """Count the bits in which two perceptual hashes differ."""
    if len(a) != len(b):
        raise ValueError("perceptual hashes of different lengths cannot be compared")
    return (int(a, 16) ^ int(b, 16)).bit_count()


def edited_software(exif: Mapping[int, Any] | str | None) -> str | None:
    """Return the EXIF Software value when it names a photo editor, else None.

    Accepts an EXIF mapping (``Image.Exif`` or tag -> value) or the Software text itself.
    Phone camera firmware strings ("iOS 17.4", "HDR+ 1.0") are not editors.
    """
    if isinstance(exif, Mapping):
        candidates = [_text(exif.get(tag)) for tag in (Base.Software, Base.ProcessingSoftware)]
    else:
        candidates = [_text(exif)]
    for software in candidates:
        if software and _EDITORS.search(software):
            return software
    return None


def _pixel_limit(max_pixels: int) -> int:
    pillow_limit = Image.MAX_IMAGE_PIXELS
    return max_pixels if pillow_limit is None else min(max_pixels, pillow_limit)


def _too_many_pixels(detail: str) -> MediaRejected:
    return MediaRejected("photo.too_many_pixels", "file", detail)


def _upright_within(image: ImageFile.ImageFile, max_side: int) -> tuple[bytes | None, Image.Image]:
    icc_profile = image.info.get("icc_profile") if image.mode in ("RGB", "L") else None
    # JPEG decodes at 1/2, 1/4 or 1/8 scale straight from the DCT; HEIC may pick an
    # embedded thumbnail; both stay at least max_side on each side.
    image.draft("RGB", (max_side, max_side))
    try:
        upright = ImageOps.exif_transpose(_fit(image, max_side))
    except _UNREADABLE as exc:
        raise MediaRejected(
            "photo.unreadable", "file", f"the photo cannot be decoded: {exc}"
        ) from None
    return icc_profile, upright


def _fit(image: Image.Image, max_side: int) -> Image.Image:
    width, height = image.size
    if max(width, height) <= max_side:
        return image
    scale = max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def _encode_jpeg(image: Image.Image, quality: int, icc_profile: bytes | None) -> bytes:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image, icc_profile = flat, None
    elif image.mode not in ("RGB", "L"):
        image, icc_profile = image.convert("RGB"), None
    # Nothing from the original's info (EXIF, XMP, comments, GPS) may reach the copy.
    image.info = {}
    out = io.BytesIO()
    options: dict[str, Any] = {"quality": quality, "optimize": True}
    if icc_profile:
        options["icc_profile"] = icc_profile
    image.save(out, "JPEG", **options)
    return out.getvalue()


def _difference_hash(image: Image.Image) -> str:
    side = _HASH_SIDE
    gray = image.convert("L")
    wide = gray.resize((side + 1, side), Image.Resampling.BOX).tobytes()
    tall = gray.resize((side, side + 1), Image.Resampling.BOX).tobytes()
    bits = 0
    for y in range(side):
        for x in range(side):
            left, right = wide[y * (side + 1) + x], wide[y * (side + 1) + x + 1]
            top, bottom = tall[y * side + x], tall[(y + 1) * side + x]
            bits = (bits << 2) | (left < right) << 1 | (top < bottom)
    return f"{bits:0{side * side * 2 // 4}x}"


def _exif_of(image: Image.Image) -> Image.Exif:
    # Parse the raw block from info: PngImageFile.getexif() would decode every pixel to
    # look for an eXIf chunk after the image data.
    exif = Image.Exif()
    raw = image.info.get("exif")
    if isinstance(raw, bytes) and raw:
        try:
            exif.load(raw)
        except _BAD_EXIF:
            return Image.Exif()
    return exif


def _ifd(exif: Image.Exif, ifd: IFD) -> Mapping[int, Any]:
    try:
        return exif.get_ifd(ifd)
    except _BAD_EXIF:
        return {}


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = value.replace("\x00", "").strip()
    return cleaned[:_MAX_TEXT] or None


def _as_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _as_float(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except _BAD_EXIF:
        return None
    return number if math.isfinite(number) else None


def _captured_at(exif_ifd: Mapping[int, Any]) -> datetime | None:
    for when_tag, offset_tag in (
        (Base.DateTimeOriginal, Base.OffsetTimeOriginal),
        (Base.DateTimeDigitized, Base.OffsetTimeDigitized),
    ):
        when = _text(exif_ifd.get(when_tag))
        if not when:
            continue
        try:
            moment = datetime.strptime(when[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue
        offset = _utc_offset(_text(exif_ifd.get(offset_tag)))
        return moment.replace(tzinfo=offset) if offset else moment
    return None


def _utc_offset(text: str | None) -> timezone | None:
    match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", text or "")
    if not match:
        return None
    sign = -1 if match[1] == "-" else 1
    delta = timedelta(hours=int(match[2]), minutes=int(match[3]))
    return timezone(sign * delta) if delta <= timedelta(hours=14) else None


def _degrees(value: object, ref: object, negative: str) -> float | None:
    if not isinstance(value, tuple) or not 1 <= len(value) <= 3:
        return None
    parts = [_as_float(v) for v in value]
    if any(p is None for p in parts):
        return None
    degrees = sum(p / 60**i for i, p in enumerate(parts) if p is not None)
    return -degrees if _text(ref) == negative else degrees


def _gps_fix(gps: Mapping[int, Any]) -> GpsFix | None:
    latitude = _degrees(gps.get(GPS.GPSLatitude), gps.get(GPS.GPSLatitudeRef), "S")
    longitude = _degrees(gps.get(GPS.GPSLongitude), gps.get(GPS.GPSLongitudeRef), "W")
    if latitude is None or longitude is None or abs(latitude) > 90 or abs(longitude) > 180:
        return None
    altitude = _as_float(gps.get(GPS.GPSAltitude)) if GPS.GPSAltitude in gps else None
    if altitude is not None and gps.get(GPS.GPSAltitudeRef) in (1, b"\x01"):
        altitude = -altitude  # reference 1 means below sea level
    accuracy = (
        _as_float(gps.get(GPS.GPSHPositioningError)) if GPS.GPSHPositioningError in gps else None
    )
    return GpsFix(latitude, longitude, altitude, accuracy)
