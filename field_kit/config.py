"""Where the field kit keeps its settings and its outbox.

By default the settings (server URL, token) live in ``~/.config/fieldkit/config.json`` and
the outbox in ``~/.local/share/fieldkit/`` (the XDG folders when set). ``--home DIR`` or
``FIELDKIT_HOME`` puts both in one folder instead: one researcher, one device, one folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HOME_ENV = "FIELDKIT_HOME"
CONFIG_NAME = "config.json"


@dataclass(frozen=True)
class Home:
    """The folders of one field kit installation."""

    config_dir: Path
    data_dir: Path

    @property
    def config_path(self) -> Path:
        """Return the settings file."""
        return self.config_dir / CONFIG_NAME

    @property
    def outbox_path(self) -> Path:
        """Return the outbox database."""
        return self.data_dir / "outbox.db"

    @property
    def captures_dir(self) -> Path:
        """Return the folder for files the kit makes itself (web-visit screenshots)."""
        return self.data_dir / "captures"

    @property
    def sync_lock_path(self) -> Path:
        """Return the lock file that keeps two syncs from running at once."""
        return self.data_dir / "sync.lock"


def resolve_home(home: str | os.PathLike[str] | None = None) -> Home:
    """Return the folders for ``home`` (or ``FIELDKIT_HOME``, or the user's defaults)."""
    chosen = home or os.environ.get(HOME_ENV)
    if chosen:
        folder = Path(chosen).expanduser()
        return Home(config_dir=folder, data_dir=folder)
    user_home = Path.home()
    config_root = Path(os.environ.get("XDG_CONFIG_HOME") or user_home / ".config")
    data_root = Path(os.environ.get("XDG_DATA_HOME") or user_home / ".local" / "share")
    return Home(config_dir=config_root / "fieldkit", data_dir=data_root / "fieldkit")


@dataclass
class Settings:
    """What ``fieldkit login`` remembers."""

    server: str | None = None
    token: str | None = None
    email: str | None = None
    device_name: str | None = None
    study_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def load_settings(home: Home) -> Settings:
    """Read the settings file; a missing file means nothing is set yet."""
    try:
        data = json.loads(home.config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    known = {name: data.pop(name, None) for name in ("server", "token", "email", "device_name")}
    study_id = data.pop("study_id", None)
    return Settings(**known, study_id=study_id, extra=data)


def save_settings(home: Home, settings: Settings) -> None:
    """Write the settings file atomically, readable by its owner only (it holds a token)."""
    home.config_dir.mkdir(parents=True, exist_ok=True)
    data = asdict(settings)
    data.update(data.pop("extra"))
    temporary = home.config_path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({k: v for k, v in data.items() if v is not None}, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temporary, home.config_path)
