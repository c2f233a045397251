"""On S3, the viewer's player is sent to a presigned URL; the pages' policy must allow it."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask

from server import create_app, migrate
from server.security import CSP
from server.services.evidence import store
from tests.conftest import app_config

from .conftest import S3_KEY_ID, S3_REGION, S3_SECRET


def media_sources(policy: str) -> list[str]:
    for directive in policy.split(";"):
        name, *sources = directive.split()
        if name == "media-src":
            return sources
    raise AssertionError(f"no media-src in {policy!r}")


def migrated_app(tmp_path: Path, **settings: str) -> Flask:
    """Return an app on a fresh SQLite database with the given settings."""
    app = create_app(app_config(tmp_path, f"sqlite:///{tmp_path / 'fieldbook.db'}", **settings))
    with app.app_context():
        migrate.upgrade()
    return app


def s3_settings(endpoint: str, bucket: str) -> dict[str, str]:
    """Settings of an S3 store on moto's server, without credentials."""
    return {
        "STORAGE": "s3",
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": endpoint,
        "S3_REGION": S3_REGION,
        "S3_ADDRESSING_STYLE": "path",
    }


def test_pages_allow_recordings_from_the_object_store_and_nothing_else(
    tmp_path: Path, moto_endpoint: str, bucket: str
) -> None:
    app = migrated_app(
        tmp_path,
        **s3_settings(moto_endpoint, bucket),
        S3_ACCESS_KEY_ID=S3_KEY_ID,
        S3_SECRET_ACCESS_KEY=S3_SECRET,
    )
    with app.app_context():
        stored = store().put_stream(io.BytesIO(b"RIFF a call recording"))
        played = store().presigned_url(
            stored.sha256,
            filename="call.wav",
            content_type="audio/wav",
            disposition="attachment",
        )
    assert played is not None
    parts = urlsplit(played)

    page = app.test_client().get("/login")
    policy = page.headers["Content-Security-Policy"]
    assert media_sources(policy) == ["'self'", "blob:", f"{parts.scheme}://{parts.netloc}"]
    # everything else stays as strict as on the embedded profile
    assert policy.replace(f" {parts.scheme}://{parts.netloc}", "") == CSP


def test_a_store_that_cannot_sign_yet_leaves_the_strict_policy(
    tmp_path: Path, moto_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no keys anywhere, and no instance metadata service to ask
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    app = migrated_app(tmp_path, **s3_settings(moto_endpoint, bucket))
    page = app.test_client().get("/login")
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == CSP


def test_the_embedded_profile_keeps_recordings_on_its_own_origin(tmp_path: Path) -> None:
    app = migrated_app(tmp_path)
    policy = app.test_client().get("/login").headers["Content-Security-Policy"]
    assert policy == CSP
    assert media_sources(policy) == ["'self'", "blob:"]
