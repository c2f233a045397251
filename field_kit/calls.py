"""Matching call recordings to visits by time.

A phone's call recorder names its files by the moment the call began
(``2026-11-21_14-03-22.m4a``, ``20261121_140322.m4a``); failing a name, the file's
modification time stands in. A recording belongs to the visit whose window
(``started_at`` to ``ended_at``; an unfinished visit's window is still open) contains
that moment. A recording inside no window is reported as unmatched, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from field_kit.outbox import LocalVisit

AUDIO_SUFFIXES = frozenset(
    {".m4a", ".mp3", ".wav", ".aac", ".amr", ".3gp", ".ogg", ".opus", ".flac", ".webm"}
)
_SEPARATED = re.compile(
    r"(?<!\d)(\d{4})-(\d{2})-(\d{2})[ _T.-](\d{2})[-.:h_](\d{2})[-.:m_](\d{2})(?!\d)"
)
_COMPACT = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})[ _T-]?(\d{2})(\d{2})(\d{2})(?!\d)")


@dataclass(frozen=True)
class CallRecording:
    """An audio file and the moment its call began."""

    path: Path
    captured_at: datetime  # aware
    source: str  # "name" or "mtime"


@dataclass(frozen=True)
class CallMatch:
    """A recording and the visit it belongs to (``None``: unmatched)."""

    call: CallRecording
    visit: LocalVisit | None


def time_from_name(name: str, zone: tzinfo | None = None) -> datetime | None:
    """Return the moment a file name states, in ``zone`` (default: local time)."""
    for pattern in (_SEPARATED, _COMPACT):
        found = pattern.search(name)
        if found is None:
            continue
        try:
            year, month, day, hour, minute, second = (int(part) for part in found.groups())
            naive = datetime(year, month, day, hour, minute, second)
        except ValueError:
            continue  # digits that are not a date (a phone number, a counter)
        return naive.replace(tzinfo=zone) if zone else naive.astimezone()
    return None


def capture_time(path: Path, zone: tzinfo | None = None) -> CallRecording:
    """Return the recording with its capture time from its name, else its mtime."""
    named = time_from_name(path.name, zone)
    if named is not None:
        return CallRecording(path, named, "name")
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return CallRecording(
        path, modified.astimezone(zone) if zone else modified.astimezone(), "mtime"
    )


def find_recordings(
    folder: Path, zone: tzinfo | None = None, *, recursive: bool = False
) -> list[CallRecording]:
    """Return the audio files of a folder with their capture times, earliest first."""
    paths = folder.rglob("*") if recursive else folder.iterdir()
    found = [
        capture_time(path, zone)
        for path in paths
        if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES
    ]
    return sorted(found, key=lambda call: (call.captured_at, call.path.name))


def match_recordings(
    calls: Iterable[CallRecording], visits: Iterable[LocalVisit], now: datetime | None = None
) -> list[CallMatch]:
    """Match each recording to the visit whose time window contains it.

    Where windows overlap, a phone visit wins over others, then the latest start.
    """
    now = now or datetime.now(UTC)
    windows = []
    for visit in visits:
        start, end = visit.window()
        if start is not None:
            windows.append((start, end or now, visit))
    matches = []
    for call in calls:
        containing = [w for w in windows if w[0] <= call.captured_at <= w[1]]
        containing.sort(key=lambda w: (w[2].channel == "phone", w[0]), reverse=True)
        matches.append(CallMatch(call, containing[0][2] if containing else None))
    return matches
