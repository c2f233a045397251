"""Liveness and readiness probes: what they check and what they name when it fails."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from server import create_app
from server.extensions import db
from tests.conftest import app_config
from tests.services import free_port


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Any]:
    """Build apps with the test configuration plus overrides; dispose their engines."""
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        url = overrides.pop("DATABASE_URL", f"sqlite:///{tmp_path / 'fieldbook.db'}")
        app = create_app(app_config(tmp_path, url, **overrides))
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def test_ready_on_the_embedded_default(make_app: Any) -> None:
    app = make_app(JOBS="sqlite")
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ready",
        "checks": {"database": "ok", "storage": "ok", "jobs": "ok"},
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_answers_without_database(make_app: Any) -> None:
    port = free_port()
    app = make_app(DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{port}/fieldbook")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "alive"}


def test_readyz_names_a_closed_database_port(make_app: Any) -> None:
    port = free_port()
    secret = "s3cr3t-pw"
    url = f"postgresql+psycopg://fieldbook:{secret}@127.0.0.1:{port}/fieldbook"
    app = make_app(DATABASE_URL=url)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.json
    assert body["status"] == "unavailable"
    assert body["failed"] == ["database"]
    assert body["checks"]["database"].startswith("failed: ")
    assert body["checks"]["storage"] == "ok"
    # no address, port or credential of the database in the answer
    text = response.get_data(as_text=True)
    assert secret not in text and str(port) not in text and "127.0.0.1" not in text


def test_readyz_names_an_unreachable_job_broker(make_app: Any) -> None:
    port = free_port()
    app = make_app(JOBS="redis", REDIS_URL=f"redis://127.0.0.1:{port}/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["failed"] == ["jobs"]
    assert response.json["checks"]["database"] == "ok"


def test_readyz_names_an_unwritable_store(make_app: Any) -> None:
    app = make_app()
    # a file where the store's scratch folder should be: nothing can be written there
    scratch = app.extensions["fieldbook.store"].temp_folder
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.write_text("not a folder")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["failed"] == ["storage"]
