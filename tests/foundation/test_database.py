"""The database layer: one-statement inserts, and SQLite writers taking turns in a process."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, g

from server import extensions
from server.extensions import create_engine, database_unavailable, db
from server.models import Channel, Visit, VisitStatus
from tests.conftest import Factory


class Statements:
    """Count the SQL statements sent on the session's connection while active."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.connection = db.session.connection()

    def __enter__(self) -> Statements:
        sa.event.listen(self.connection, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.connection, "before_cursor_execute", self._note)

    def _note(self, _conn: Any, _cursor: Any, statement: str, *args: Any) -> None:
        self.sent.append(statement.split()[0].upper())


def new_visit(factory: Factory, **fields: Any) -> Visit:
    study = factory.study()
    researcher = factory.user()
    return Visit(study_id=study.id, researcher_id=researcher.id, channel=Channel.phone, **fields)


def test_insert_fills_defaults_and_joins_the_session(app: Flask, factory: Factory) -> None:
    visit = new_visit(factory, title="Called about a refund")
    with Statements() as sql:
        assert db.insert(visit) is True
        # every column came from the record: reading them asks the database nothing
        read = {column.key: getattr(visit, column.key) for column in Visit.__table__.columns}
    assert sql.sent == ["INSERT"]
    assert isinstance(read["id"], uuid.UUID)
    assert read["status"] is VisitStatus.draft
    assert read["created_at"].tzinfo is not None
    assert read["checklist_answers"] == {} and read["evidence_manifest"] == []
    assert sa.inspect(visit).persistent

    # later changes are the session's business, as for any loaded row
    visit.summary = "Transferred twice"
    db.session.flush()
    stored = db.session.execute(
        sa.select(Visit.__table__.c.title, Visit.__table__.c.summary).where(
            Visit.__table__.c.id == visit.id
        )
    ).one()
    assert tuple(stored) == ("Called about a refund", "Transferred twice")


def test_insert_unless_taken_leaves_the_row_in_the_way(app: Flask, factory: Factory) -> None:
    client_uuid = uuid.uuid4()
    first = new_visit(factory, title="First", client_uuid=client_uuid)
    assert db.insert(first, unless_taken="client_uuid") is True
    second = Visit(
        study_id=first.study_id,
        researcher_id=first.researcher_id,
        channel=Channel.web,
        title="Second",
        client_uuid=client_uuid,
    )
    with Statements() as sql:
        assert db.insert(second, unless_taken="client_uuid") is False
    # no savepoint and no failed statement: the transaction goes on
    assert sql.sent == ["INSERT"]
    assert not sa.inspect(second).persistent
    titles = db.session.scalars(sa.select(Visit.title).where(Visit.client_uuid == client_uuid))
    assert list(titles) == ["First"]


def test_insert_refuses_a_default_only_the_database_knows(app: Flask) -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        "t", metadata, sa.Column("id", sa.Integer, primary_key=True, default=sa.text("1"))
    )
    with pytest.raises(TypeError, match="only the database"):
        extensions._default(table.c.id)


# --- SQLite writers of one process ----------------------------------------------------


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, writer INTEGER)")
    yield engine
    engine.dispose()


def count_notes(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM notes").scalar_one())


def test_writers_of_one_process_take_turns_without_errors(sqlite_engine: sa.Engine) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def write(writer: int) -> None:
        start.wait()
        try:
            for _ in range(40):
                with sqlite_engine.begin() as connection:
                    connection.exec_driver_sql("INSERT INTO notes (writer) VALUES (?)", (writer,))
                    time.sleep(0)  # let the others run while the lock is held
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert count_notes(sqlite_engine) == 8 * 40


def test_a_failed_or_rolled_back_writer_lets_the_next_one_in(
    sqlite_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extensions, "SQLITE_BUSY_SECONDS", 2)
    with pytest.raises(RuntimeError), sqlite_engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO notes (writer) VALUES (1)")
        raise RuntimeError("the request failed")
    connection = sqlite_engine.connect()
    connection.begin()
    connection.exec_driver_sql("INSERT INTO notes (writer) VALUES (2)")
    connection.rollback()
    connection.close()
    # another thread gets in at once: neither writer kept the lock
    done: list[float] = []

    def write() -> None:
        began = time.perf_counter()
        with sqlite_engine.begin() as other:
            other.exec_driver_sql("INSERT INTO notes (writer) VALUES (3)")
        done.append(time.perf_counter() - began)

    thread = threading.Thread(target=write)
    thread.start()
    thread.join(10)
    assert done and done[0] < 1
    assert count_notes(sqlite_engine) == 1


@contextmanager
def another_thread_writing(engine: sa.Engine) -> Iterator[None]:
    """Hold a write transaction open in another thread for the duration of the block."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO notes (writer) VALUES (1)")
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join(10)


def test_a_writer_waiting_too_long_gets_database_locked(
    sqlite_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extensions, "SQLITE_BUSY_SECONDS", 0.3)
    with (
        another_thread_writing(sqlite_engine),
        pytest.raises(sa.exc.OperationalError, match="database is locked") as refused,
        sqlite_engine.begin() as connection,
    ):
        connection.exec_driver_sql("INSERT INTO notes (writer) VALUES (2)")
    # the API answers this as the database being away: 503, try again later
    assert database_unavailable(refused.value)
    assert count_notes(sqlite_engine) == 1


def test_read_only_requests_do_not_queue_behind_a_writer(
    sqlite_engine: sa.Engine, app: Flask
) -> None:
    with another_thread_writing(sqlite_engine), app.test_request_context("/api/v1/studies"):
        g.read_only = True
        began = time.perf_counter()
        with sqlite_engine.connect() as connection:
            # under WAL a reader sees the last commit, not the writer's open change
            assert connection.exec_driver_sql("SELECT count(*) FROM notes").scalar() == 0
        assert time.perf_counter() - began < 1
