"""Flags a reviewer should see before trusting a photo as evidence of a visit.

Pure functions over ``PhotoInfo``; the "same photo reused in another visit" check needs
the database, so only its comparison (``looks_reused``) lives here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from server.media.photos import PhotoInfo, edited_software, hamming_distance

__all__ = [
    "REUSE_MAX_DISTANCE",
    "Flag",
    "haversine_m",
    "looks_reused",
    "trust_flags",
]

EARTH_RADIUS_M = 6_371_008.8
# Re-encoded or resized copies of one shot differ in a handful of the 128 hash bits;
# unrelated photos differ in about half of them.
REUSE_MAX_DISTANCE = 12
# Every civil UTC offset lies within -12:00 .. +14:00.
_EARLIEST_OFFSET = timedelta(hours=-12)
_LATEST_OFFSET = timedelta(hours=14)


@dataclass(frozen=True)
class Flag:
    """One reason for doubt, with a stable code and the figures behind it."""

    code: str
    message: str
    details: dict[str, object] = field(default_factory=dict)


def trust_flags(
    photo_info: PhotoInfo,
    *,
    visit_window: tuple[datetime, datetime] | None,
    target_point: tuple[float, float] | None,
    max_distance_m: float,
    local_timezone: tzinfo | None = None,
    clock_grace: timedelta = timedelta(0),
) -> list[Flag]:
    """List what makes a photo doubtful as evidence of this visit.

    ``visit_window`` is the visit's (start, end) as aware datetimes; ``target_point`` the
    target's (latitude, longitude). A capture time without an offset is read in
    ``local_timezone`` when given; otherwise it is flagged only when no UTC offset at all
    could put it inside the window. The distance check credits the fix's reported accuracy.
    Missing window, target, time or GPS means no flag for that check.
    """
    flags: list[Flag] = []
    if visit_window is not None and photo_info.captured_at is not None:
        flag = _outside_window(photo_info.captured_at, visit_window, local_timezone, clock_grace)
        if flag is not None:
            flags.append(flag)
    if target_point is not None and photo_info.gps is not None:
        fix = photo_info.gps
        distance = haversine_m((fix.latitude, fix.longitude), target_point)
        if distance - (fix.accuracy_m or 0.0) > max_distance_m:
            flags.append(
                Flag(
                    "photo.far_from_target",
                    f"taken {distance:,.0f} m from the visited place "
                    f"(allowed {max_distance_m:,.0f} m)",
                    {"distance_m": round(distance, 1), "accuracy_m": fix.accuracy_m},
                )
            )
    editor = edited_software(photo_info.software)
    if editor is not None:
        flags.append(
            Flag("photo.edited", f"saved by photo editing software: {editor}", {"software": editor})
        )
    return flags


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Return the great-circle distance in metres between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def looks_reused(hash_a: str, hash_b: str, *, max_distance: int = REUSE_MAX_DISTANCE) -> bool:
    """Tell whether two perceptual hashes are close enough to be the same photo."""
    return hamming_distance(hash_a, hash_b) <= max_distance


def _outside_window(
    captured_at: datetime,
    window: tuple[datetime, datetime],
    local_timezone: tzinfo | None,
    grace: timedelta,
) -> Flag | None:
    start, end = window
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("visit_window must be timezone-aware")
    start, end = start - grace, end + grace
    if captured_at.tzinfo is None and local_timezone is not None:
        captured_at = captured_at.replace(tzinfo=local_timezone)
    if captured_at.tzinfo is not None:
        outside = not start <= captured_at <= end
    else:
        # Camera local time with no offset: the true instant lies between
        # local - 14 h and local + 12 h; only flag when all of that misses the window.
        earliest = captured_at - _LATEST_OFFSET
        latest = captured_at - _EARLIEST_OFFSET
        outside = latest < _naive_utc(start) or earliest > _naive_utc(end)
    if not outside:
        return None
    return Flag(
        "photo.captured_outside_visit",
        f"captured at {captured_at.isoformat()}, outside the visit "
        f"({window[0].isoformat()} to {window[1].isoformat()})",
        {"captured_at": captured_at.isoformat()},
    )


def _naive_utc(moment: datetime) -> datetime:
    offset = moment.utcoffset() or timedelta(0)
    return moment.replace(tzinfo=None) - offset
