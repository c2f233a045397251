"""Fuzzing photo metadata: the EXIF, GPS and capture time of photos that phones send.

What is fuzzed: ``server.media.photos``. ``inspect_photo`` and ``open_photo`` read real small
JPEG, PNG and WebP files that Pillow encodes with a hypothesis-built EXIF block (random tags of
every TIFF type and of invalid types, GPS values of the wrong type, rationals with a zero
denominator, NaN and infinite floats, huge numbers, odd date and offset strings, lying counts
and IFD offsets), JPEGs with a random APPn segment spliced in, and truncated or bit-flipped
JPEG, PNG, WebP and HEIC files. The EXIF helpers ``_captured_at``, ``_utc_offset``,
``_degrees``, ``_gps_fix`` and ``edited_software`` get arbitrary values of any type.

Property: a photo either comes back as a ``PhotoInfo`` whose fields are sane (a supported
format and its mime type, a size within the pixel limit that is the stored size turned by the
EXIF orientation, latitude in [-90, 90], longitude in [-180, 180], finite altitude and
accuracy, ``captured_at`` naive or with a UTC offset of at most 14 hours, short clean text,
JSON-ready metadata), or is refused with ``MediaRejected`` (``photo.unreadable`` or
``photo.too_many_pixels`` on field ``file``), the one exception the evidence pipeline turns
into a permanent failure. No other exception ever escapes. Metadata that a phone writes
correctly reads back exactly.
"""

from __future__ import annotations

import functools
import io
import json
import math
import struct
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.ExifTags import GPS, IFD, Base
from PIL.TiffImagePlugin import IFDRational

from server.media.errors import MediaRejected
from server.media.photos import (
    DEFAULT_MAX_PIXELS,
    PHOTO_FORMATS,
    GpsFix,
    PhotoInfo,
    _captured_at,
    _degrees,
    _gps_fix,
    _utc_offset,
    edited_software,
    inspect_photo,
    open_photo,
)
from tests.media.media_factories import phone_exif, photograph

# The stored size of every generated photo: not square, so a turned photo is visible.
STORED = (24, 16)
MIMES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic"}
REFUSALS = {"photo.unreadable", "photo.too_many_pixels"}
MAX_OFFSET = timedelta(hours=14)
MAX_TEXT = 200

# --- building photos ------------------------------------------------------------------------


@functools.cache
def scene() -> Image.Image:
    """A small photo-like picture, painted once."""
    return photograph(*STORED, seed=11)


def encode(fmt: str, exif: bytes | Image.Exif | None = None) -> bytes:
    """Encode the scene as ``fmt`` with Pillow, carrying ``exif`` the way a camera would."""
    out = io.BytesIO()
    options: dict[str, Any] = {"exif": exif} if exif is not None else {}
    if fmt == "HEIF":
        options["quality"] = 50
    scene().save(out, fmt, **options)
    return out.getvalue()


@functools.cache
def phone_photo(fmt: str) -> bytes:
    """A photo in ``fmt`` carrying a phone's EXIF (GPS, capture time, orientation 6)."""
    return encode(fmt, phone_exif(orientation=6))


def with_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """Splice an APPn segment holding ``payload`` in right after the start-of-image marker."""
    segment = bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def exif_time(moment: datetime) -> str:
    """Write a time as EXIF does: ``YYYY:MM:DD HH:MM:SS`` in the camera's local time."""
    return (
        f"{moment.year:04d}:{moment.month:02d}:{moment.day:02d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )


def exif_offset(minutes: int) -> str:
    """Write a UTC offset as EXIF does: ``+HH:MM``."""
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# --- EXIF blocks built byte by byte ---------------------------------------------------------

# TIFF field types: struct code of one value (a rational is two), and whether it is signed.
BYTE, ASCII, SHORT, LONG, RATIONAL, SBYTE, UNDEFINED = 1, 2, 3, 4, 5, 6, 7
SSHORT, SLONG, SRATIONAL, FLOAT, DOUBLE, IFD_TYPE = 8, 9, 10, 11, 12, 13
INTEGER_CODES = {BYTE: "B", SHORT: "H", LONG: "L", SBYTE: "b", SSHORT: "h", SLONG: "l"}
INTEGER_CODES[IFD_TYPE] = "L"
FIELD_TYPES = sorted({*INTEGER_CODES, ASCII, RATIONAL, UNDEFINED, SRATIONAL, FLOAT, DOUBLE})

IFD0_TAGS: list[int] = [
    Base.Orientation,
    Base.Make,
    Base.Model,
    Base.Software,
    Base.ProcessingSoftware,
]
IFD0_TAGS += [Base.DateTime, Base.XResolution, Base.ResolutionUnit, Base.ImageDescription]
EXIF_TAGS: list[int] = [Base.DateTimeOriginal, Base.DateTimeDigitized, Base.OffsetTimeOriginal]
EXIF_TAGS += [Base.OffsetTimeDigitized, Base.MakerNote, Base.BodySerialNumber]
GPS_TAGS: list[int] = [GPS.GPSLatitudeRef, GPS.GPSLatitude, GPS.GPSLongitudeRef, GPS.GPSLongitude]
GPS_TAGS += [GPS.GPSAltitudeRef, GPS.GPSAltitude, GPS.GPSHPositioningError, GPS.GPSVersionID]


@functools.cache
def one_in(n: int) -> st.SearchStrategy[bool]:
    """True about once in ``n`` draws (hypothesis favours small integers, so not 0 of n)."""
    return st.sampled_from([False] * (n - 1) + [True])


@dataclass(frozen=True)
class Field:
    """One IFD entry: its tag, type, declared count and the bytes of its value."""

    tag: int
    type: int
    count: int
    value: bytes


@functools.cache
def odd_dates() -> st.SearchStrategy[str]:
    """EXIF times: real ones, out-of-range parts, blanks, extra text and stray characters."""
    part = st.integers(0, 99).map(lambda n: f"{n:02d}")
    year = st.integers(0, 10_000).map(lambda n: f"{n:04d}")
    shaped = st.builds(
        lambda y, mo, d, h, mi, s, tail: f"{y}:{mo}:{d} {h}:{mi}:{s}{tail}",
        year,
        part,
        part,
        part,
        part,
        part,
        st.sampled_from(["", "\x00", ".123", "Z", "+02:00", " junk"]),
    )
    fixed = st.sampled_from(
        ["", " ", "    :  :     :  :  ", "0000:00:00 00:00:00", "2024:02:30 10:00:00"]
    )
    real = st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31)).map(exif_time)
    return st.one_of(real, shaped, fixed, st.text(max_size=40))


@functools.cache
def odd_offsets() -> st.SearchStrategy[str]:
    """UTC offsets: real ones, out of range, other digits, or anything at all."""
    shaped = st.builds(
        lambda sign, h, m: f"{sign}{h:02d}:{m:02d}",
        st.sampled_from("+-±"),
        st.integers(0, 99),
        st.integers(0, 99),
    )
    real = st.integers(-14 * 60, 14 * 60).map(exif_offset)
    other_digits = st.from_regex(r"[+-]\d\d:\d\d", fullmatch=True)
    return st.one_of(real, shaped, other_digits, st.text(max_size=8))


@functools.cache
def ascii_values(texts: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[bytes]:
    """NUL-terminated text, written as UTF-8 or Latin-1."""
    if texts is None:
        texts = st.one_of(
            odd_dates(),
            odd_offsets(),
            st.sampled_from(["N", "S", "E", "W", "Adobe Photoshop 25.0", "iOS 17.4"]),
            st.text(max_size=40),
        )
    encodings = st.sampled_from(["utf-8", "latin-1"])
    return st.builds(lambda text, enc: text.encode(enc, "replace") + b"\x00", texts, encodings)


@functools.cache
def rationals(
    endian: str, kind: int = RATIONAL, max_pairs: int = 4
) -> st.SearchStrategy[tuple[int, bytes]]:
    """(count, bytes) of RATIONAL or SRATIONAL values, a zero denominator included."""
    code = "l" if kind == SRATIONAL else "L"
    low, high = (-(2**31), 2**31 - 1) if kind == SRATIONAL else (0, 2**32 - 1)
    plausible = st.tuples(st.integers(0, 200), st.sampled_from([1, 1, 60, 100, 3600]))
    wild = st.tuples(
        st.one_of(st.integers(0, 200), st.integers(low, high)),
        st.one_of(st.sampled_from([0, 1, 60, 100, 3600]), st.integers(low, high)),
    )
    pairs = st.lists(st.one_of(plausible, plausible, wild), min_size=1, max_size=max_pairs)
    return pairs.map(
        lambda ps: (len(ps), struct.pack(f"{endian}{2 * len(ps)}{code}", *sum(ps, ())))
    )


@functools.cache
def integers(
    kind: int, endian: str, low: int | None = None, high: int | None = None
) -> st.SearchStrategy[tuple[int, bytes]]:
    """(count, bytes) of 1..6 integers of TIFF type ``kind``, within the type's range."""
    code = INTEGER_CODES[kind]
    bits = struct.calcsize(f"<{code}") * 8
    type_low, type_high = (
        (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if code.islower() else (0, 2**bits - 1)
    )
    numbers = st.lists(
        st.integers(type_low if low is None else low, type_high if high is None else high),
        min_size=1,
        max_size=6,
    )
    return numbers.map(lambda ns: (len(ns), struct.pack(f"{endian}{len(ns)}{code}", *ns)))


@functools.cache
def field_value(kind: int, endian: str) -> st.SearchStrategy[tuple[int, bytes]]:
    """(count, bytes) of a well-formed value of TIFF type ``kind``."""
    if kind == ASCII:
        return ascii_values().map(lambda raw: (len(raw), raw))
    if kind == UNDEFINED:
        return st.binary(max_size=24).map(lambda raw: (len(raw), raw))
    if kind in INTEGER_CODES:
        return integers(kind, endian)
    if kind in (FLOAT, DOUBLE):
        code = "f" if kind == FLOAT else "d"
        floats = st.floats(width=32 if kind == FLOAT else 64)
        return st.lists(floats, min_size=1, max_size=4).map(
            lambda fs: (len(fs), struct.pack(f"{endian}{len(fs)}{code}", *fs))
        )
    return rationals(endian, kind)


@functools.cache
def natural_value(tag: int, endian: str) -> st.SearchStrategy[tuple[int, int, bytes]]:
    """(type, count, bytes) of a known tag with the type a camera writes it in."""

    def text(texts: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[int, int, bytes]]:
        return ascii_values(texts).map(lambda raw: (ASCII, len(raw), raw))

    def typed(
        kind: int, values: st.SearchStrategy[tuple[int, bytes]]
    ) -> st.SearchStrategy[tuple[int, int, bytes]]:
        return values.map(lambda cv: (kind, cv[0], cv[1]))

    if tag == Base.Orientation:
        return typed(SHORT, integers(SHORT, endian, 0, 9))
    if tag in (Base.DateTime, Base.DateTimeOriginal, Base.DateTimeDigitized):
        real = st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31)).map(exif_time)
        return text(st.one_of(real, odd_dates()))
    if tag in (Base.OffsetTimeOriginal, Base.OffsetTimeDigitized):
        return text(st.one_of(st.integers(-14 * 60, 14 * 60).map(exif_offset), odd_offsets()))
    if tag in (GPS.GPSLatitudeRef, GPS.GPSLongitudeRef):
        return text(st.sampled_from(["N", "S", "E", "W", "", "s", "North", "S\x00W"]))
    if tag in (GPS.GPSLatitude, GPS.GPSLongitude):
        return typed(RATIONAL, rationals(endian, max_pairs=3))
    if tag in (GPS.GPSAltitude, GPS.GPSHPositioningError):
        kind = st.sampled_from([RATIONAL, SRATIONAL])
        return kind.flatmap(lambda k: typed(k, rationals(endian, k, max_pairs=1)))
    if tag in (GPS.GPSAltitudeRef, GPS.GPSVersionID):
        return typed(BYTE, integers(BYTE, endian, 0, 3))
    return text(st.one_of(st.text(max_size=40), st.sampled_from(["Adobe Photoshop 25.0"])))


@st.composite
def fields(draw: st.DrawFn, tags: list[int], endian: str) -> Field:
    """An IFD entry: a known tag as a camera writes it, or any tag of any type; the count
    sometimes disagrees with the value's bytes."""
    if not draw(one_in(3)):
        tag = draw(st.sampled_from(tags))
        kind, count, value = draw(natural_value(tag, endian))
    else:
        tag = draw(st.one_of(st.sampled_from(tags), st.integers(0, 0xFFFF)))
        kind = draw(st.one_of(st.sampled_from(FIELD_TYPES), st.integers(0, 0xFFFF)))
        if kind in FIELD_TYPES:
            count, value = draw(field_value(kind, endian))
        else:
            value = draw(st.binary(max_size=12))
            count = len(value)
    if draw(one_in(10)):  # a count that disagrees with the bytes
        count = draw(st.one_of(st.integers(0, 16), st.integers(0, 2**32 - 1)))
    return Field(tag, kind, count, value)


def ifd_bytes(entries: list[Field], start: int, endian: str) -> bytes:
    """Encode an IFD at offset ``start``; values over 4 bytes follow it, word aligned."""
    data_at = start + 2 + 12 * len(entries) + 4
    table, data = struct.pack(f"{endian}H", len(entries)), b""
    for entry in entries:
        if len(entry.value) <= 4:
            slot = entry.value.ljust(4, b"\x00")
        else:
            slot = struct.pack(f"{endian}L", data_at + len(data))
            data += entry.value + b"\x00" * (len(entry.value) % 2)
        table += struct.pack(f"{endian}HHL", entry.tag, entry.type, entry.count) + slot
    return table + struct.pack(f"{endian}L", 0) + data


@st.composite
def ifd_entries(draw: st.DrawFn, tags: list[int], endian: str) -> list[Field]:
    """Most of the tags a camera writes, each as a camera writes it, then any other fields."""
    entries = []
    for tag in tags:
        if not draw(one_in(4)):
            kind, count, value = draw(natural_value(tag, endian))
            entries.append(Field(tag, kind, count, value))
    entries += draw(st.lists(fields(tags, endian), max_size=4))
    return draw(st.permutations(entries))


@st.composite
def exif_blocks(draw: st.DrawFn) -> bytes:
    """A whole ``Exif\\0\\0`` block: IFD0 pointing at an Exif IFD and a GPS IFD."""
    endian = draw(st.sampled_from("<>"))
    ifd0 = draw(ifd_entries(IFD0_TAGS, endian))
    exif = draw(ifd_entries(EXIF_TAGS, endian))
    gps = draw(ifd_entries(GPS_TAGS, endian))
    # the pointers are sized first, then given their real (or a broken) offset
    pointers = [Field(IFD.Exif, LONG, 1, b"\x00" * 4), Field(IFD.GPSInfo, LONG, 1, b"\x00" * 4)]
    exif_at = 8 + len(ifd_bytes(ifd0 + pointers, 8, endian))
    exif_table = ifd_bytes(exif, exif_at, endian)
    gps_at = exif_at + len(exif_table)
    offsets = [exif_at, gps_at]
    if draw(one_in(6)):
        offsets = draw(st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=2))
    pointers = [
        Field(p.tag, p.type, 1, struct.pack(f"{endian}L", at))
        for p, at in zip(pointers, offsets, strict=True)
    ]
    mark = b"II*\x00" if endian == "<" else b"MM\x00*"
    head = mark + struct.pack(f"{endian}L", 8)
    if draw(one_in(10)):
        head = draw(st.binary(min_size=8, max_size=8))
    tiff = head + ifd_bytes(ifd0 + pointers, 8, endian) + exif_table
    tiff += ifd_bytes(gps, gps_at, endian)
    return b"Exif\x00\x00" + tiff


# --- the property ---------------------------------------------------------------------------


@contextmanager
def as_in_production() -> Iterator[None]:
    """Let Pillow's corrupt-EXIF ``UserWarning`` be a warning, as it is in the server.

    The test suite turns every warning into an error; Pillow reports a broken EXIF entry
    with a warning and carries on without it, and the server does not run with ``-W error``.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
        yield


def inspected(source: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> PhotoInfo | None:
    """Inspect a photo; a refusal must be ``MediaRejected`` with a photo code, else nothing."""
    try:
        with as_in_production():
            return inspect_photo(source, max_pixels=max_pixels)
    except MediaRejected as rejected:
        assert rejected.code in REFUSALS, rejected.code
        assert rejected.field == "file"
        assert rejected.message
        return None


def opened_size(source: bytes) -> tuple[int, int] | None:
    """Open a photo's header; the size it declares, or None when it is refused."""
    try:
        with as_in_production(), open_photo(source) as image:
            return image.size
    except MediaRejected as rejected:
        assert rejected.code in REFUSALS, rejected.code
        return None


def assert_sane_text(value: str | None) -> None:
    if value is not None:
        assert isinstance(value, str)
        assert 0 < len(value) <= MAX_TEXT
        assert "\x00" not in value and value == value.strip()


def assert_sane_time(value: datetime | None) -> None:
    if value is None:
        return
    assert isinstance(value, datetime)
    offset = value.utcoffset()
    assert offset is None or abs(offset) <= MAX_OFFSET


def assert_sane_gps(fix: GpsFix | None) -> None:
    if fix is None:
        return
    assert math.isfinite(fix.latitude) and -90 <= fix.latitude <= 90
    assert math.isfinite(fix.longitude) and -180 <= fix.longitude <= 180
    for optional in (fix.altitude_m, fix.accuracy_m):
        assert optional is None or (isinstance(optional, float) and math.isfinite(optional))


def assert_sane(info: PhotoInfo, max_pixels: int, stored: tuple[int, int] | None) -> None:
    """Check everything a ``PhotoInfo`` promises its callers."""
    assert info.format in PHOTO_FORMATS
    assert info.mime == MIMES[info.format]
    assert isinstance(info.width, int) and isinstance(info.height, int)
    assert info.width > 0 and info.height > 0
    assert info.width * info.height <= max_pixels
    assert info.orientation is None or (
        isinstance(info.orientation, int) and not isinstance(info.orientation, bool)
    )
    if stored is not None:
        turned = info.format != "HEIF" and info.orientation in (5, 6, 7, 8)
        assert (info.width, info.height) == (stored[::-1] if turned else stored)
    assert_sane_time(info.captured_at)
    assert_sane_gps(info.gps)
    for text in (info.camera_make, info.camera_model, info.software):
        assert_sane_text(text)
    assert edited_software(info.software) in (None, info.software)
    metadata = info.as_metadata()
    json.dumps(metadata, allow_nan=False)  # the evidence record stores it as JSON
    if info.captured_at is not None:
        assert datetime.fromisoformat(metadata["captured_at"]) == info.captured_at


# --- whole photos -----------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(exif=exif_blocks(), fmt=st.sampled_from(["JPEG", "JPEG", "PNG", "WEBP"]))
def test_any_exif_block_gives_sane_metadata_or_a_photo_refusal(exif: bytes, fmt: str) -> None:
    """Hypothesis-built EXIF (any tag, type, count and offset) never breaks inspection."""
    photo = encode(fmt, exif)
    info = inspected(photo)
    if info is not None:
        assert_sane(info, DEFAULT_MAX_PIXELS, STORED)
    # Pillow may refuse a JPEG over its EXIF (an XResolution of the wrong type fails its dpi
    # reading); then open_photo refuses it the same way, and otherwise opens the stored size.
    assert opened_size(photo) == (None if info is None else STORED)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(
    marker=st.integers(0xE0, 0xEF),
    prefix=st.sampled_from(
        [
            b"",
            b"Exif\x00\x00",
            b"Exif\x00\x00MM\x00*",
            b"JFIF\x00",
            b"JFXX\x00",
            b"MPF\x00",
            b"ICC_PROFILE\x00",
            b"Adobe",
            b"http://ns.adobe.com/xap/1.0/\x00",
            b"FPXR\x00",
        ]
    ),
    junk=st.binary(max_size=300),
)
# an EXIF block that ends right after its TIFF byte order and magic number
@example(marker=0xE1, prefix=b"Exif\x00\x00MM\x00*", junk=b"")
def test_random_app_segments_give_sane_metadata_or_a_photo_refusal(
    marker: int, prefix: bytes, junk: bytes
) -> None:
    """Random bytes as a whole APP0..APP15 segment (EXIF, JFIF, MPF, ICC, XMP...) are safe."""
    photo = with_segment(encode("JPEG"), marker, prefix + junk)
    info = inspected(photo)
    if info is not None:
        assert_sane(info, DEFAULT_MAX_PIXELS, None)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    fmt=st.sampled_from(["JPEG", "PNG", "WEBP", "HEIF"]),
    keep=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=4),
    max_pixels=st.one_of(st.just(DEFAULT_MAX_PIXELS), st.integers(1, 2 * STORED[0] * STORED[1])),
)
def test_truncated_or_corrupted_photos_give_sane_metadata_or_a_photo_refusal(
    fmt: str, keep: float, flips: list[tuple[float, int]], max_pixels: int
) -> None:
    """Cut short or bit-flipped phone photos, under any pixel limit, are read or refused."""
    photo = bytearray(phone_photo(fmt)[: round(len(phone_photo(fmt)) * keep)])
    for where, byte in flips:
        if photo:
            photo[int(where * len(photo))] = byte
    info = inspected(bytes(photo), max_pixels)
    if info is not None:
        assert_sane(info, max_pixels, None)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(
    latitude=st.tuples(st.integers(0, 89), st.integers(0, 59), st.integers(0, 5999)),
    longitude=st.tuples(st.integers(0, 179), st.integers(0, 59), st.integers(0, 5999)),
    refs=st.tuples(st.sampled_from("NS"), st.sampled_from("EW")),
    moment=st.datetimes(datetime(1000, 1, 1), datetime(9999, 12, 31)),
    offset_minutes=st.integers(-14 * 60, 14 * 60),
    orientation=st.integers(1, 8),
)
def test_metadata_a_phone_writes_reads_back(
    latitude: tuple[int, int, int],
    longitude: tuple[int, int, int],
    refs: tuple[str, str],
    moment: datetime,
    offset_minutes: int,
    orientation: int,
) -> None:
    """GPS in degrees, minutes and hundredths of seconds, capture time and offset round-trip."""
    exif = phone_exif(orientation=orientation)
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[GPS.GPSLatitudeRef], gps[GPS.GPSLongitudeRef] = refs
    gps[GPS.GPSLatitude] = (latitude[0], latitude[1], IFDRational(latitude[2], 100))
    gps[GPS.GPSLongitude] = (longitude[0], longitude[1], IFDRational(longitude[2], 100))
    details = exif.get_ifd(IFD.Exif)
    details[Base.DateTimeOriginal] = exif_time(moment)
    details[Base.OffsetTimeOriginal] = exif_offset(offset_minutes)

    info = inspected(encode("JPEG", exif))

    assert info is not None
    assert_sane(info, DEFAULT_MAX_PIXELS, STORED)
    assert info.orientation == orientation
    assert info.gps is not None

    def degrees(dms: tuple[int, int, int], negative: bool) -> float:
        value = dms[0] + dms[1] / 60 + dms[2] / 100 / 3600
        return -value if negative else value

    assert info.gps.latitude == pytest.approx(degrees(latitude, refs[0] == "S"), abs=1e-9)
    assert info.gps.longitude == pytest.approx(degrees(longitude, refs[1] == "W"), abs=1e-9)
    zone = timezone(timedelta(minutes=offset_minutes))
    assert info.captured_at == moment.replace(microsecond=0, tzinfo=zone)


# --- the EXIF helpers on arbitrary values -------------------------------------------------------

HUGE = [10**400, -(10**400), 2**1024, 2**64]
scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE),
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.builds(IFDRational, st.integers(-(2**40), 2**40), st.sampled_from([0, 1, 60, 3600])),
    st.fractions(),
    st.sampled_from(["N", "S", "E", "W", b"S", b"W", "1e999", "nan", "-inf"]),
)
exif_values: st.SearchStrategy[Any] = st.one_of(
    scalars,
    st.lists(scalars, max_size=4).map(tuple),
    st.lists(scalars, max_size=3),
    st.dictionaries(st.integers(0, 40), scalars, max_size=3),
)
gps_mappings = st.dictionaries(
    st.one_of(st.sampled_from(GPS_TAGS), st.integers(0, 40)), exif_values, max_size=8
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(text=st.one_of(st.none(), odd_offsets(), st.text(max_size=12)))
@example(text="+14:00")
@example(text="-13:99")
@example(text="+\u0661\u0662:\u0663\u0660")  # Arabic-Indic digits
def test_utc_offset_is_none_or_at_most_fourteen_hours(text: str | None) -> None:
    offset = _utc_offset(text)
    assert offset is None or isinstance(offset, timezone)
    if offset is not None:
        assert abs(offset.utcoffset(None)) <= MAX_OFFSET


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    values=st.dictionaries(
        st.sampled_from(
            [
                Base.DateTimeOriginal,
                Base.OffsetTimeOriginal,
                Base.DateTimeDigitized,
                Base.OffsetTimeDigitized,
            ]
        ),
        st.one_of(odd_dates(), odd_offsets(), exif_values),
    )
)
def test_captured_at_is_none_or_a_datetime_with_a_sane_offset(values: dict[int, Any]) -> None:
    assert_sane_time(_captured_at(values))


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(
    moment=st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31)),
    offset_minutes=st.one_of(st.none(), st.integers(-14 * 60, 14 * 60)),
)
def test_captured_at_reads_a_well_formed_time_exactly(
    moment: datetime, offset_minutes: int | None
) -> None:
    values: dict[int, Any] = {Base.DateTimeOriginal: exif_time(moment)}
    zone = None
    if offset_minutes is not None:
        values[Base.OffsetTimeOriginal] = exif_offset(offset_minutes)
        zone = timezone(timedelta(minutes=offset_minutes))
    assert _captured_at(values) == moment.replace(microsecond=0, tzinfo=zone)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(value=exif_values, ref=exif_values, negative=st.sampled_from(["S", "W"]))
@example(value=(IFDRational(1, 0), 0, 0), ref="N", negative="S")
@example(value=(10**400, 0, 0), ref="N", negative="S")
@example(value=(1e308, 1e308, 1e308), ref="S", negative="S")
def test_degrees_are_none_or_a_finite_number(value: Any, ref: Any, negative: str) -> None:
    degrees = _degrees(value, ref, negative)
    assert degrees is None or (isinstance(degrees, float) and math.isfinite(degrees))


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(gps=gps_mappings)
def test_gps_fix_of_any_values_is_none_or_on_the_globe(gps: dict[int, Any]) -> None:
    assert_sane_gps(_gps_fix(gps))


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    latitude=st.tuples(*[st.floats(0, 90)] * 3),
    longitude=st.tuples(*[st.floats(0, 180)] * 3),
    refs=st.tuples(st.sampled_from(["N", "S", b"S", ""]), st.sampled_from(["E", "W", b"W", ""])),
    extra=gps_mappings,
)
def test_gps_fix_accepts_exactly_the_coordinates_on_the_globe(
    latitude: tuple[float, float, float],
    longitude: tuple[float, float, float],
    refs: tuple[str | bytes, str | bytes],
    extra: dict[int, Any],
) -> None:
    gps = {
        **extra,
        GPS.GPSLatitude: latitude,
        GPS.GPSLongitude: longitude,
        GPS.GPSLatitudeRef: refs[0],
        GPS.GPSLongitudeRef: refs[1],
    }
    fix = _gps_fix(gps)
    assert_sane_gps(fix)
    north = latitude[0] + latitude[1] / 60 + latitude[2] / 3600
    east = longitude[0] + longitude[1] / 60 + longitude[2] / 3600
    if north <= 90 and east <= 180:
        assert fix is not None
        assert fix.latitude == pytest.approx(-north if refs[0] in ("S", b"S") else north)
        assert fix.longitude == pytest.approx(-east if refs[1] in ("W", b"W") else east)
    elif north > 90.000001 or east > 180.000001:
        assert fix is None


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    exif=st.one_of(
        st.none(),
        st.text(max_size=60),
        st.dictionaries(
            st.one_of(st.sampled_from([Base.Software, Base.ProcessingSoftware]), st.integers()),
            exif_values,
            max_size=4,
        ),
    )
)
def test_edited_software_is_none_or_clean_software_text(
    exif: Mapping[int, Any] | str | None,
) -> None:
    software = edited_software(exif)
    assert_sane_text(software)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(
    before=st.text(st.characters(exclude_characters="\x00"), max_size=40),
    editor=st.sampled_from(["Adobe Photoshop 25.0", "Snapseed", "GIMP 2.10", "Lightroom"]),
    after=st.text(max_size=40),
    as_bytes=st.booleans(),
)
def test_edited_software_names_an_editor_hidden_in_any_text(
    before: str, editor: str, after: str, as_bytes: bool
) -> None:
    text = f"{before} {editor} {after}"
    software: str | bytes = text.encode() if as_bytes else text
    found = edited_software({Base.Software: software})
    assert found is not None and editor in found
