"""Schema migrations with Alembic, driven from ``fieldbook db``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from server.extensions import db

MIGRATIONS = Path(__file__).parent / "migrations"


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave the database's own full-text objects out of model comparisons.

    They are made by hand in the search migration (FTS5 tables on SQLite, a GIN index on
    PostgreSQL) and have no model.
    """
    return not (name and (name.startswith("search_fts") or name == "ix_search_entries_fulltext"))


def alembic_config() -> Config:
    """Build Alembic's configuration for the current app's database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.engine.url.render_as_string(hide_password=False))
    return config


def upgrade(revision: str = "head") -> None:
    """Bring the database schema up to ``revision``."""
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(revision: str) -> None:
    """Take the database schema down to ``revision``."""
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def revision(message: str) -> None:
    """Write a new migration from the difference between models and database."""
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)


def current_revision() -> str | None:
    """Return the revision the database is at, or None for an empty database."""
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """Return the newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
