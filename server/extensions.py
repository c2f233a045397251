"""Extensions, created once here and bound to an app in ``create_app``.

Nothing here reads configuration or connects to anything at import time.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from functools import partial
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g, has_app_context
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached, scoped_session, sessionmaker


class AppSession(Session):
    """A session that finds its engine on the current app unless bound explicitly."""

    def get_bind(self, mapper: Any = None, clause: Any = None, **kw: Any) -> Any:
        if self.bind is not None:
            return self.bind
        return current_app.extensions["fieldbook.engine"]


class Database:
    """SQLAlchemy 2 engine per app and one scoped session, removed after each request."""

    def __init__(self) -> None:
        self.session = scoped_session(sessionmaker(class_=AppSession, expire_on_commit=False))

    def init_app(self, app: Flask) -> None:
        """Create the app's engine and bind the session's lifetime to the app context."""
        app.extensions["fieldbook.engine"] = create_engine(
            app.config["DATABASE_URL"], echo=app.config["DATABASE_ECHO"]
        )
        app.teardown_appcontext(self._remove_session)

    def _remove_session(self, exc: BaseException | None) -> None:
        self.session.remove()

    @property
    def engine(self) -> sa.Engine:
        """Return the engine of the current app."""
        engine: sa.Engine = current_app.extensions["fieldbook.engine"]
        return engine

    def insert(self, record: Any, *, unless_taken: str | None = None) -> bool:
        """Insert a new record with one INSERT now; say whether it went in.

        The hot create paths use this instead of the session's unit of work, which costs
        several times more Python for a single row. Column defaults are filled in on
        ``record`` first. Once inserted, the record joins the session as a loaded row,
        so later changes to it are flushed as usual. With ``unless_taken`` naming a
        unique column, a row already holding the record's value there is left alone and
        nothing is inserted (``ON CONFLICT DO NOTHING``), without a savepoint.
        """
        session = self.session
        session.flush()  # rows this one may refer to go first
        table = sa.inspect(type(record)).local_table
        given = record.__dict__
        values = _with_defaults(table, given)
        for key, value in values.items():
            if value is not given.get(key, given):
                # every column is set, so that none is loaded again from the database
                setattr(record, key, value)
        if not self._insert_values(table, values, unless_taken):
            return False
        make_transient_to_detached(record)
        session.add(record)
        return True

    def insert_row(self, table: sa.Table, values: dict[str, Any]) -> None:
        """Insert one row from column values now, its defaults filled in, with no ORM object.

        For rows that nothing reads back during the request, such as audit events: making
        and registering an ORM object for them costs more than the INSERT itself.
        """
        self.session.flush()  # rows this one may refer to go first
        self._insert_values(table, _with_defaults(table, values), None)

    def _insert_values(
        self, table: sa.Table, values: dict[str, Any], unless_taken: str | None
    ) -> bool:
        connection = self.session.connection()
        statement = _insert_statement(connection.dialect.name, table, unless_taken)
        return bool(connection.execute(statement, values).rowcount == 1)


def _with_defaults(table: sa.Table, given: Any) -> dict[str, Any]:
    """Return a value for every column of ``table``, defaults where ``given`` has none."""
    values = {}
    for column in table.columns:
        value = given.get(column.key)
        if value is None and column.default is not None:
            value = _default(column)
        values[column.key] = value
    return values


@functools.cache
def _insert_statement(dialect_name: str, table: sa.Table, unless_taken: str | None) -> Any:
    """Build each table's INSERT once; the values go in as parameters."""
    statement: Any = table.insert()
    if unless_taken is not None:
        dialect = postgresql if dialect_name == "postgresql" else sqlite
        statement = dialect.insert(table).on_conflict_do_nothing(index_elements=[unless_taken])
    # psycopg reports how many rows an INSERT made only when asked to keep the count
    return statement.execution_options(preserve_rowcount=True)


def _default(column: sa.Column[Any]) -> Any:
    default = column.default
    if isinstance(default, sa.ColumnDefault) and default.is_scalar:
        return default.arg
    if isinstance(default, sa.ColumnDefault) and default.is_callable:
        # SQLAlchemy wraps a default that takes no arguments to accept a context
        return default.arg(None)
    raise TypeError(f"{column} has a default that only the database can compute")


def database_unavailable(error: BaseException) -> bool:
    """Tell whether an error says the database is away (down, restarting, unreachable).

    Such an error says nothing about the request or job that met it: nothing committed,
    and the same work may be tried again once the database is back.
    """
    if isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError):
        return True
    return isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated


def create_engine(url: str, *, echo: bool = False) -> sa.Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False}
        )
        writer = threading.Lock()
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", partial(_sqlite_begin, writer))
        event.listen(engine, "checkin", partial(_sqlite_checkin, writer))
        return engine
    return sa.create_engine(url, echo=echo, pool_pre_ping=True)


SQLITE_BUSY_SECONDS = 30
_HOLDS_WRITER = "fieldbook.holds_writer"


def _sqlite_begin(writer: threading.Lock, conn: sa.Connection) -> None:
    """Begin a transaction; one that may write takes SQLite's write lock up front.

    Taking it at the start means two writers queue instead of failing when one would
    upgrade a read snapshot that the other has since changed. Requests marked read-only
    share the database: under WAL, readers never wait for the writer.

    Writers of one process queue on ``writer`` first. SQLite lets one writer in and makes
    the others poll, sleeping longer after each try (1 ms, then up to 100 ms), so the
    database sits idle while they sleep; a lock wakes the next writer as soon as the
    connection of the last one is back in the pool. Other processes still queue on
    SQLite's own lock.
    """
    if has_app_context() and g.get("read_only"):
        conn.exec_driver_sql("BEGIN")
        return
    if not conn.info.get(_HOLDS_WRITER):
        if not writer.acquire(timeout=SQLITE_BUSY_SECONDS):
            raise sa.exc.OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
            )
        conn.info[_HOLDS_WRITER] = True
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_checkin(writer: threading.Lock, _dbapi_conn: Any, record: Any) -> None:
    """Let the next writer of this process in once a writing connection is returned."""
    if record.info.pop(_HOLDS_WRITER, False):
        writer.release()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def caller_key() -> str:
    """Rate-limit signed-in callers per account and everyone else per address."""
    user = g.get("user") if has_app_context() else None
    return f"user:{user.id}" if user is not None else get_remote_address()


def upload_limit() -> str:
    """The configured cap on uploads a caller may start (RELIABILITY 28)."""
    return str(current_app.config["UPLOAD_RATE_LIMIT"])


db = Database()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
