"""Liveness and readiness probes for process managers and load balancers.

``GET /healthz`` answers as long as the process serves requests; it touches nothing else.
``GET /readyz`` checks what a request needs: the database answers ``SELECT 1``, the blob
store can be reached (the local folder is writable, or the S3 bucket answers a HEAD) and
the job broker answers (Redis ``PING``, or the SQLite job file opens). Neither needs a
sign-in, and neither shows a URL, a host name or an error message: only check names and
the kind of failure.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify

from server.extensions import db
from server.storage.local import LocalBlobStore
from server.storage.s3 import S3BlobStore

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)
PROBE_TIMEOUT_S = 3.0


def check_database() -> None:
    """Run ``SELECT 1`` on the application's database."""
    try:
        db.session.execute(sa.text("SELECT 1")).scalar_one()
    finally:
        db.session.rollback()


def check_storage() -> None:
    """Make sure the blob store can be reached: write a probe file, or HEAD the bucket."""
    store = current_app.extensions["fieldbook.store"]
    if isinstance(store, LocalBlobStore):
        store.temp_folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="readyz-", dir=store.temp_folder)
        os.close(fd)
        os.unlink(name)
    elif isinstance(store, S3BlobStore):
        store._client.head_bucket(Bucket=store.bucket)
    else:  # pragma: no cover - every configured store is one of the two
        raise TypeError(f"unknown blob store {type(store).__name__}")


def check_jobs() -> None:
    """Reach the job broker: Redis ``PING``, or open the SQLite job file."""
    config = current_app.config
    mode = config["JOBS"]
    if mode == "redis":
        import redis

        client = redis.Redis.from_url(
            config["REDIS_URL"],
            socket_timeout=PROBE_TIMEOUT_S,
            socket_connect_timeout=PROBE_TIMEOUT_S,
        )
        try:
            if not client.ping():
                raise ConnectionError("no PONG")
        finally:
            client.close()
    elif mode == "sqlite":
        path = Path(config["JOBS_PATH"])
        connection = sqlite3.connect(path, timeout=PROBE_TIMEOUT_S)
        try:
            connection.execute("SELECT 1").fetchone()
        finally:
            connection.close()
    # "immediate" runs jobs inline: there is no broker to reach


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "storage": check_storage,
    "jobs": check_jobs,
}


def run_checks() -> tuple[dict[str, str], list[str]]:
    """Run every check; return each one's outcome and the names of those that failed."""
    outcomes: dict[str, str] = {}
    failed: list[str] = []
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as error:
            # the operator's log gets the details; the response only the kind of failure
            log.warning("readiness check %s failed: %s: %s", name, type(error).__name__, error)
            outcomes[name] = f"failed: {type(error).__name__}"
            failed.append(name)
        else:
            outcomes[name] = "ok"
    return outcomes, failed


@bp.get("/healthz")
def healthz() -> Response:
    """Answer while the process is alive; no database, store or broker involved."""
    return _no_store(jsonify(status="alive"))


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Answer 200 when the database, blob store and job broker all answer, else 503."""
    outcomes, failed = run_checks()
    body: dict[str, Any] = {"status": "ready" if not failed else "unavailable"}
    body["checks"] = outcomes
    if failed:
        body["failed"] = failed
        return _no_store(jsonify(body)), 503
    return _no_store(jsonify(body)), 200


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
