"""``fieldkit import-calls``: recordings matched to visits by the time their call began."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from field_kit.calls import capture_time, time_from_name
from field_kit.outbox import Action
from tests.field_kit.conftest import Kit, wav_bytes

PARIS = timezone(timedelta(hours=1))


def test_time_from_name_reads_common_patterns() -> None:
    expected = datetime(2026, 11, 21, 14, 3, 22, tzinfo=PARIS)
    for name in (
        "2026-11-21_14-03-22.m4a",
        "call 2026-11-21 14.03.22 +441234567890.mp3",
        "Call_20261121_140322.amr",
        "20261121140322.wav",
    ):
        assert time_from_name(name, PARIS) == expected, name
    assert time_from_name("voicemail-17.m4a", PARIS) is None
    assert time_from_name("2026-13-45_99-03-22.m4a", PARIS) is None  # digits, not a date


def test_capture_time_falls_back_to_mtime(tmp_path: Path) -> None:
    path = tmp_path / "recording.m4a"
    path.write_bytes(b"\x00")
    moment = datetime(2026, 11, 21, 9, 15, tzinfo=PARIS)
    os.utime(path, (moment.timestamp(), moment.timestamp()))
    call = capture_time(path, PARIS)
    assert (call.captured_at, call.source) == (moment, "mtime")


def test_import_calls_matches_windows_and_reports_unmatched(kit: Kit, tmp_path: Path) -> None:
    study = "2b2b2b2b-0000-4000-8000-000000000000"
    kit.ok(
        "visit", "start", "--study", study, "--channel", "phone", "--title", "Help desk",
        "--started-at", "2026-11-21T14:00:00+01:00",
    )  # fmt: skip
    kit.ok("visit", "finish", "--ended-at", "2026-11-21T14:20:00+01:00", "--no-submit")
    kit.ok(
        "visit", "start", "--study", study, "--channel", "in_person", "--title", "Store",
        "--started-at", "2026-11-21T15:00:00+01:00",
    )  # fmt: skip
    kit.ok("visit", "finish", "--ended-at", "2026-11-21T16:00:00+01:00", "--no-submit")
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "2026-11-21_14-03-22.m4a").write_bytes(wav_bytes(1, seed=1))
    (folder / "2026-11-21_15-30-00.wav").write_bytes(wav_bytes(1, seed=2))
    (folder / "2026-11-21_18-00-00.wav").write_bytes(wav_bytes(1, seed=3))  # after both
    by_mtime = folder / "voicemail.mp3"
    by_mtime.write_bytes(wav_bytes(1, seed=4))
    inside = datetime(2026, 11, 21, 14, 10, tzinfo=PARIS).timestamp()
    os.utime(by_mtime, (inside, inside))
    (folder / "notes.txt").write_text("not a recording")

    result = kit("import-calls", str(folder), "--tz", "Europe/Paris")
    assert result.exit_code == 0, result.output
    assert "unmatched" in result.output
    assert "1 recording(s) matched no visit" in result.output

    with kit.outbox() as outbox:
        phone, store = outbox.visits()
        queued = {Path(str(i.path)).name: i for i in outbox.items() if i.action == Action.file}
    assert set(queued) == {"2026-11-21_14-03-22.m4a", "2026-11-21_15-30-00.wav", "voicemail.mp3"}
    assert queued["2026-11-21_14-03-22.m4a"].visit_handle == phone.handle
    assert queued["voicemail.mp3"].visit_handle == phone.handle
    assert queued["2026-11-21_15-30-00.wav"].visit_handle == store.handle
    assert all(i.kind == "audio" for i in queued.values())
    assert queued["2026-11-21_14-03-22.m4a"].payload["captured_at"] == "2026-11-21T14:03:22+01:00"

    # importing the same folder again queues nothing twice
    again = kit("import-calls", str(folder), "--tz", "Europe/Paris")
    assert again.exit_code == 0
    assert "already queued" in again.output
    with kit.outbox() as outbox:
        assert sum(1 for i in outbox.items() if i.action == Action.file) == 3


def test_import_calls_dry_run_queues_nothing(kit: Kit, tmp_path: Path) -> None:
    kit.ok(
        "visit", "start", "--study", "s", "--channel", "phone",
        "--started-at", "2026-11-21T14:00:00+00:00",
    )  # fmt: skip
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "2026-11-21_14-03-22.m4a").write_bytes(wav_bytes(1))
    result = kit("import-calls", str(folder), "--tz", "UTC", "--dry-run")
    assert result.exit_code == 0
    with kit.outbox() as outbox:
        assert [i.action for i in outbox.items()] == [Action.create_visit]
