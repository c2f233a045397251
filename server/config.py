"""Configuration: defaults for the embedded profile, overridden by ``FIELDBOOK_*``.

The embedded default needs no configuration at all: a SQLite file, a local folder for
media and in-process job threads, all under ``DATA_DIR``. The scale profile is reached
by setting ``DATABASE_URL``, ``STORAGE`` (plus the ``S3_*`` keys) and ``JOBS=redis``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

DEFAULTS: dict[str, Any] = {
    "ENV": "development",
    "DATA_DIR": None,  # default: the app's instance folder
    "DATABASE_URL": None,  # default: sqlite:///<DATA_DIR>/fieldbook.db
    "DATABASE_ECHO": False,
    "STORAGE": "local",
    "STORAGE_PATH": None,  # default: <DATA_DIR>/media
    "JOBS": "sqlite",  # sqlite | redis | immediate
    "JOBS_PATH": None,  # default: <DATA_DIR>/jobs.db
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "JOB_THREADS": 2,
    "INPROCESS_WORKER": True,
    "JOB_LEASE_SECONDS": 300,  # a worker renews its job's lease every third of this
    "JOB_RETRY_BASE": 5,  # seconds before a failed job's first retry; 4x longer each time
    "JOB_SWEEP_SECONDS": 30,  # how often each worker looks for jobs the queue lost
    "JOB_REDELIVER_SECONDS": 300,  # a queued job due this long lost its queue message
    "JOB_OUTAGE_RETRY_SECONDS": 15,  # next try after the database or store was away
    "RATE_LIMIT_STORAGE_URL": "memory://",
    "LOGIN_RATE_LIMIT": "10 per minute",
    "UPLOAD_RATE_LIMIT": "600 per minute",  # uploads a caller may start
    "API_PAGE_SIZE": 50,
    "TOKEN_TTL_DAYS": 365,
    "SESSION_HOURS": 12,
    "MAX_JSON_BYTES": 1024 * 1024,
    # evidence: the largest item of each kind, in bytes (a bigger one is a 413)
    "UPLOAD_LIMITS": {
        "photo": 50 * 1024**2,
        "screenshot": 20 * 1024**2,
        "audio": 2 * 1024**3,
        "video": 4 * 1024**3,
        "document": 100 * 1024**2,
        "note": 1024**2,
        "web_step": 64 * 1024,
    },
    "MULTIPART_MAX_BYTES": 32 * 1024**2,  # larger files go through resumable uploads
    "UPLOAD_SPOOL": None,  # default: <DATA_DIR>/uploads
    "UPLOAD_EXPIRY_HOURS": 72,
    "PHOTO_MAX_PIXELS": 80_000_000,
    # transcription: a model name (fetched where there is a network) or a local path
    "WHISPER_ENGINE": "faster-whisper",
    "WHISPER_MODEL": "small.en",
    "WHISPER_THREADS": 2,
    "AUTO_TRANSCRIBE": True,
    "TARGET_DISTANCE_M": 500,
    "PHOTO_REUSE_BITS": 12,
    # flask-smorest
    "API_TITLE": "Fieldbook",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    # cookies (RELIABILITY 27)
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "fieldbook_session",
    "WTF_CSRF_TIME_LIMIT": None,
    "PROPAGATE_EXCEPTIONS": False,
}


class ConfigError(RuntimeError):
    """The configuration cannot be used to start the server."""


def load_config(app: Flask, overrides: dict[str, Any] | None) -> None:
    """Fill ``app.config`` from defaults, the instance file, the environment and overrides."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("fieldbook.cfg", silent=True)
    app.config.from_prefixed_env("FIELDBOOK")
    if overrides:
        app.config.from_mapping(overrides)
    _derive_paths(app)
    _require_secret_key(app)
    # a body larger than this is refused before it is read; uploads have their own limits
    app.config.setdefault("MAX_CONTENT_LENGTH", None)


def _derive_paths(app: Flask) -> None:
    data_dir = Path(app.config["DATA_DIR"] or app.instance_path)
    data_dir.mkdir(parents=True, exist_ok=True)
    app.config["DATA_DIR"] = str(data_dir)
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{data_dir / 'fieldbook.db'}"
    if not app.config["STORAGE_PATH"]:
        app.config["STORAGE_PATH"] = str(data_dir / "media")
    if not app.config["UPLOAD_SPOOL"]:
        app.config["UPLOAD_SPOOL"] = str(data_dir / "uploads")
    if not app.config["JOBS_PATH"]:
        app.config["JOBS_PATH"] = str(data_dir / "jobs.db")


def _require_secret_key(app: Flask) -> None:
    """Use the configured key; in production refuse to start without one.

    Outside production a key is generated once and kept in the data folder so that
    sessions survive restarts of a single-machine install.
    """
    if app.config.get("SECRET_KEY"):
        return
    if app.config["ENV"] == "production":
        raise ConfigError("FIELDBOOK_SECRET_KEY must be set when FIELDBOOK_ENV=production")
    key_file = Path(app.config["DATA_DIR"]) / "secret_key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    app.config["SECRET_KEY"] = key_file.read_text().strip()
