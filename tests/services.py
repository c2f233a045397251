"""Finding the services tests need: present, skipped, or (in CI) required."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
POSTGRES_ADMIN_URL = os.environ.get(
    "FIELDBOOK_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("FIELDBOOK_TEST_REDIS", "redis://127.0.0.1:6379/15")


def services_required() -> bool:
    """Tell whether a missing service must fail the run (CI) instead of skipping."""
    return os.environ.get("FIELDBOOK_REQUIRE_SERVICES") == "1"


def missing(what: str) -> None:
    """Skip for a missing service, or fail when services are required."""
    if services_required():
        pytest.fail(f"{what} is required (FIELDBOOK_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} not available")


def require_module(name: str) -> None:
    """Skip when an optional module is missing, or fail when services are required."""
    import importlib.util

    if importlib.util.find_spec(name) is None:
        missing(f"the Python module {name!r}")


def port_open(host: str, port: int) -> bool:
    """Tell whether something listens on host:port."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    """Return a free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_postgres_database() -> str:
    """Create a fresh, uniquely named PostgreSQL database and return its URL."""
    import sqlalchemy as sa

    if not port_open("127.0.0.1", 5432):
        missing("PostgreSQL on 127.0.0.1:5432")
    name = f"fieldbook_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(url: str) -> None:
    """Drop a database made by ``create_postgres_database``."""
    import sqlalchemy as sa

    name = url.rsplit("/", 1)[1]
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()
