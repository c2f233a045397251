"""Extensions, created once here and bound to an app in ``create_app``.

Nothing here reads configuration or connects to anything at import time.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g, has_app_context
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session, sessionmaker


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
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(url, echo=echo, pool_pre_ping=True)


def _sqlite_begin(conn: sa.Connection) -> None:
    """Begin a transaction; one that may write takes SQLite's write lock up front.

    Taking it at the start means two writers queue (busy_timeout) instead of failing when
    one would upgrade a read snapshot that the other has since changed. Requests marked
    read-only share the database: under WAL, readers never wait for the writer.
    """
    read_only = has_app_context() and bool(g.get("read_only"))
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
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
