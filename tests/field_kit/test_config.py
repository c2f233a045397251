"""Where the field kit keeps its settings and outbox, and how it keeps its token."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from field_kit.cli import parse_size
from field_kit.config import Settings, load_settings, resolve_home, save_settings


def test_home_defaults_follow_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FIELDKIT_HOME", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "conf"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    home = resolve_home()
    assert home.config_path == tmp_path / "conf" / "fieldkit" / "config.json"
    assert home.outbox_path == tmp_path / "data" / "fieldkit" / "outbox.db"


def test_fieldkit_home_puts_everything_in_one_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FIELDKIT_HOME", str(tmp_path / "kit"))
    home = resolve_home()
    assert home.config_path.parent == home.outbox_path.parent == tmp_path / "kit"
    assert resolve_home(tmp_path / "other").config_dir == tmp_path / "other"


def test_settings_are_private_and_round_trip(tmp_path: Path) -> None:
    home = resolve_home(tmp_path / "kit")
    assert load_settings(home) == Settings()
    save_settings(home, Settings(server="https://fb.example", token="fb_secret", study_id="s"))
    mode = stat.S_IMODE(home.config_path.stat().st_mode)
    assert mode == 0o600  # it holds a token
    loaded = load_settings(home)
    assert (loaded.server, loaded.token, loaded.study_id) == (
        "https://fb.example",
        "fb_secret",
        "s",
    )


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1048576", 1048576),
        ("4MiB", 4 * 1024**2),
        ("512k", 512_000),
        ("1.5 KiB", 1536),
        ("2G", 2 * 10**9),
    ],
)
def test_sizes_parse(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_bad_size_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_size("lots")
