"""Configuration: nothing needed for the embedded default; environment and file override."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from server import create_app


def test_embedded_default_needs_no_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.startswith("FIELDBOOK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("FIELDBOOK_DATA_DIR", str(tmp_path))
    app = create_app()
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'fieldbook.db'}"
    assert app.config["STORAGE"] == "local"
    assert app.config["STORAGE_PATH"] == str(tmp_path / "media")
    assert app.config["JOBS"] == "sqlite"
    # a generated secret key is kept, private, and reused on the next start
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert create_app().config["SECRET_KEY"] == app.config["SECRET_KEY"] == key_file.read_text()


def test_environment_reaches_the_scale_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIELDBOOK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FIELDBOOK_DATABASE_URL", "postgresql+psycopg://db.internal/fieldbook")
    monkeypatch.setenv("FIELDBOOK_JOBS", "redis")
    monkeypatch.setenv("FIELDBOOK_REDIS_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("FIELDBOOK_JOB_THREADS", "4")
    app = create_app()
    assert app.config["DATABASE_URL"] == "postgresql+psycopg://db.internal/fieldbook"
    assert app.config["JOB_THREADS"] == 4  # prefixed variables are parsed as JSON
    assert type(app.extensions["fieldbook.huey"]).__name__ == "RedisHuey"


def test_instance_config_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDBOOK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FIELDBOOK_API_PAGE_SIZE", raising=False)
    app = create_app()
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    cfg = Path(app.instance_path) / "fieldbook.cfg"
    cfg.write_text("API_PAGE_SIZE = 25\n")
    try:
        assert create_app().config["API_PAGE_SIZE"] == 25
    finally:
        cfg.unlink()


def test_unknown_job_backend_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="FIELDBOOK_JOBS"):
        create_app({"DATA_DIR": str(tmp_path), "JOBS": "carrier-pigeon", "SECRET_KEY": "k"})
