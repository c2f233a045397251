"""Migrations: the same history builds the same schema on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask

from server import create_app, migrate
from server.extensions import db
from server.migrate import include_object
from server.models import Base
from tests.conftest import app_config
from tests.services import create_postgres_database, drop_postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
def empty_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on an empty database of each kind."""
    url = (
        f"sqlite:///{tmp_path / 'm.db'}"
        if request.param == "sqlite"
        else create_postgres_database()
    )
    app = create_app(app_config(tmp_path, url))
    yield app
    with app.app_context():
        db.engine.dispose()
    if request.param == "postgres":
        drop_postgres_database(url)


def test_upgrade_builds_every_table_and_matches_the_models(empty_app: Flask) -> None:
    with empty_app.app_context():
        assert migrate.current_revision() is None
        migrate.upgrade()
        assert migrate.current_revision() == migrate.head_revision()
        tables = set(sa.inspect(db.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": include_object})
            diff = compare_metadata(context, Base.metadata)
        assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_downgrade_to_base_and_up_again(empty_app: Flask) -> None:
    with empty_app.app_context():
        migrate.upgrade()
        migrate.downgrade("base")
        left = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert left == set()
        migrate.upgrade()
        assert migrate.current_revision() == migrate.head_revision()
