"""Structured logs: one JSON object per line, each carrying the request's id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server import create_app
from server.extensions import db
from server.logs import JsonFormatter, _JsonHandler
from tests.conftest import app_config


@pytest.fixture
def json_app(tmp_path: Path) -> Iterator[tuple[Any, io.StringIO]]:
    """An app logging JSON, and what its log handler wrote; the handler goes afterwards."""
    root = logging.getLogger()
    level = root.level
    app = create_app(app_config(tmp_path, f"sqlite:///{tmp_path / 'f.db'}", LOG_FORMAT="json"))
    installed = [h for h in root.handlers if isinstance(h, _JsonHandler)]
    assert len(installed) == 1
    # the handler configure_logging installed writes to stderr: read it here instead
    buffer = io.StringIO()
    installed[0].setStream(buffer)
    yield app, buffer
    for handler in [h for h in root.handlers if isinstance(h, _JsonHandler)]:
        root.removeHandler(handler)
    root.setLevel(level)
    with app.app_context():
        db.engine.dispose()


def _lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_json_request_line_carries_the_callers_request_id(
    json_app: tuple[Any, io.StringIO],
) -> None:
    app, buffer = json_app
    response = app.test_client().get("/healthz", headers={"X-Request-Id": "probe-42"})
    assert response.headers["X-Request-Id"] == "probe-42"
    lines = [e for e in _lines(buffer.getvalue()) if e["logger"] == "fieldbook.request"]
    assert len(lines) == 1
    entry = lines[0]
    assert entry["request_id"] == "probe-42"
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/healthz", 200)
    assert entry["level"] == "INFO"
    assert entry["time"].endswith("Z")
    assert isinstance(entry["duration_ms"], float)


def test_a_missing_or_unsafe_request_id_is_replaced(
    json_app: tuple[Any, io.StringIO],
) -> None:
    app, buffer = json_app
    client = app.test_client()
    generated = client.get("/healthz").headers["X-Request-Id"]
    forged = client.get("/healthz", headers={"X-Request-Id": 'x" "level": "ERROR'})
    replaced = forged.headers["X-Request-Id"]
    assert len(generated) == 32 and len(replaced) == 32 and generated != replaced
    ids = [e["request_id"] for e in _lines(buffer.getvalue())]
    assert ids == [generated, replaced]


def test_other_log_lines_in_a_request_carry_its_id(
    json_app: tuple[Any, io.StringIO],
) -> None:
    app, buffer = json_app
    # a failing readiness check logs a warning while the request runs
    app.config["JOBS"] = "redis"
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    response = app.test_client().get("/readyz", headers={"X-Request-Id": "ready-1"})
    assert response.status_code == 503
    entries = _lines(buffer.getvalue())
    warning = next(e for e in entries if e["logger"] == "server.health")
    assert warning["level"] == "WARNING"
    assert warning["request_id"] == "ready-1"
    assert warning["path"] == "/readyz"


def test_formatter_outside_a_request() -> None:
    record = logging.LogRecord(
        "fieldbook.cli", logging.ERROR, __file__, 1, "%s failed", ("x",), None
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "x failed"
    assert entry["logger"] == "fieldbook.cli"
    assert "request_id" not in entry
