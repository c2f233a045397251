"""Trust flags on photo evidence, each shown to fire and to stay quiet."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from PIL.ExifTags import Base

from server.media.photos import GpsFix, PhotoInfo, edited_software, inspect_photo
from server.media.trust import haversine_m, looks_reused, trust_flags
from tests.media.media_factories import LATITUDE, LONGITUDE, PhotoFile, phone_exif, photograph

CEST = timezone(timedelta(hours=2))
# The visit in UTC: 08:00-09:00, i.e. 10:00-11:00 in Rotterdam.
VISIT = (
    datetime(2025, 5, 14, 8, 0, tzinfo=UTC),
    datetime(2025, 5, 14, 9, 0, tzinfo=UTC),
)
STORE = (LATITUDE, LONGITUDE)


def photo(
    *,
    captured_at: datetime | None = None,
    gps: GpsFix | None = None,
    software: str | None = "iOS 17.4.1",
) -> PhotoInfo:
    return PhotoInfo(
        format="JPEG",
        mime="image/jpeg",
        width=4000,
        height=3000,
        captured_at=captured_at,
        gps=gps,
        software=software,
    )


def codes(info: PhotoInfo, **overrides: object) -> list[str]:
    options: dict[str, object] = {
        "visit_window": VISIT,
        "target_point": STORE,
        "max_distance_m": 150.0,
    }
    options.update(overrides)
    return [flag.code for flag in trust_flags(info, **options)]  # type: ignore[arg-type]


def test_photo_from_the_visit_raises_no_flags(jpeg_12mp: PhotoFile) -> None:
    assert codes(inspect_photo(jpeg_12mp.path)) == []


def test_capture_time_inside_the_window_is_quiet() -> None:
    assert codes(photo(captured_at=datetime(2025, 5, 14, 10, 59, tzinfo=CEST))) == []


@pytest.mark.parametrize(
    "captured_at",
    [datetime(2025, 5, 14, 9, 55, tzinfo=CEST), datetime(2025, 5, 13, 10, 30, tzinfo=CEST)],
    ids=["five-minutes-early", "the-day-before"],
)
def test_capture_time_outside_the_window_is_flagged(captured_at: datetime) -> None:
    assert codes(photo(captured_at=captured_at)) == ["photo.captured_outside_visit"]


def test_clock_grace_widens_the_window() -> None:
    early = photo(captured_at=datetime(2025, 5, 14, 9, 55, tzinfo=CEST))
    assert codes(early, clock_grace=timedelta(minutes=10)) == []


def test_camera_local_time_is_read_in_the_visits_timezone() -> None:
    local = photo(captured_at=datetime(2025, 5, 14, 10, 30))
    assert codes(local, local_timezone=ZoneInfo("Europe/Amsterdam")) == []
    assert codes(local, local_timezone=ZoneInfo("America/New_York")) == [
        "photo.captured_outside_visit"
    ]


def test_camera_local_time_without_a_zone_is_flagged_only_when_certainly_outside() -> None:
    plausible = photo(captured_at=datetime(2025, 5, 14, 20, 0))  # fits a UTC+12 camera clock
    impossible = photo(captured_at=datetime(2025, 5, 15, 9, 30))
    assert codes(plausible) == []
    assert codes(impossible) == ["photo.captured_outside_visit"]


def test_naive_visit_window_is_a_programming_error() -> None:
    naive = (datetime(2025, 5, 14, 8, 0), datetime(2025, 5, 14, 9, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        codes(photo(captured_at=datetime(2025, 5, 14, 10, 30, tzinfo=CEST)), visit_window=naive)


def test_gps_near_the_store_is_quiet() -> None:
    # About 100 m north of the store.
    near = GpsFix(LATITUDE + 0.0009, LONGITUDE, accuracy_m=5.0)
    assert codes(photo(gps=near)) == []


def test_gps_far_from_the_store_is_flagged_with_the_distance() -> None:
    far = GpsFix(LATITUDE + 0.009, LONGITUDE, accuracy_m=5.0)  # about 1 km north
    flags = trust_flags(photo(gps=far), visit_window=VISIT, target_point=STORE, max_distance_m=150)
    assert [f.code for f in flags] == ["photo.far_from_target"]
    assert flags[0].details["distance_m"] == pytest.approx(1001, abs=5)


def test_gps_accuracy_is_credited_before_flagging() -> None:
    vague = GpsFix(LATITUDE + 0.0036, LONGITUDE, accuracy_m=300.0)  # about 400 m, +-300 m
    assert codes(photo(gps=vague)) == []
    assert codes(photo(gps=GpsFix(LATITUDE + 0.0036, LONGITUDE, accuracy_m=10.0))) == [
        "photo.far_from_target"
    ]


def test_missing_data_raises_no_flags() -> None:
    assert codes(photo(), visit_window=None, target_point=None) == []


@pytest.mark.parametrize(
    "software",
    [
        "Adobe Photoshop 25.1 (Macintosh)",
        "GIMP 2.10.36",
        "Adobe Lightroom 9.2 (Android)",
        "Snapseed 2.0",
        "PicsArt",
    ],
)
def test_editor_software_is_flagged(software: str) -> None:
    assert codes(photo(software=software)) == ["photo.edited"]
    assert edited_software(software) == software


@pytest.mark.parametrize("software", ["iOS 17.4.1", "HDR+ 1.0.612412013zd", "G998BXXU5CWD1", None])
def test_camera_firmware_is_not_an_editor(software: str | None) -> None:
    assert codes(photo(software=software)) == []
    assert edited_software(software) is None


def test_edited_software_reads_an_exif_block() -> None:
    out = io.BytesIO()
    exif = phone_exif(software="Adobe Photoshop Lightroom Classic 13.2")
    photograph(64, 48, seed=12).save(out, "JPEG", exif=exif.tobytes())
    with Image.open(out) as image:
        assert edited_software(image.getexif()) == "Adobe Photoshop Lightroom Classic 13.2"
    assert edited_software({Base.Software: "iOS 18.0"}) is None


def test_haversine_matches_a_known_distance() -> None:
    amsterdam, rotterdam = (52.3676, 4.9041), (51.9244, 4.4777)
    assert haversine_m(amsterdam, rotterdam) == pytest.approx(57_500, rel=0.01)
    assert haversine_m(rotterdam, rotterdam) == 0


def test_reuse_comparison_both_ways() -> None:
    base = "f0" * 16
    one_bit_off = "f1" + "f0" * 15
    unrelated = "0f" * 16
    assert looks_reused(base, one_bit_off)
    assert not looks_reused(base, unrelated)
