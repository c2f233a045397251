"""Fixtures: an app per database backend, a rolled-back transaction per test, users.

API tests run on SQLite and on the PostgreSQL server of this machine. The schema is
built once per backend by the real migrations; each test runs inside a transaction
that is rolled back, so tests neither see each other nor rebuild the schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server import create_app, migrate
from server.extensions import db
from server.models import Membership, Role, Study, User
from server.services import accounts
from tests.services import SHARED, create_postgres_database, drop_postgres_database

BACKENDS = ["sqlite", "postgres"]
PASSWORD = "correct horse battery staple"


def app_config(tmp: Path, url: str, **extra: Any) -> dict[str, Any]:
    """Return the configuration of a test app with its data under ``tmp``."""
    config: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATA_DIR": str(tmp),
        "DATABASE_URL": url,
        "JOBS": "immediate",
        "LOGIN_RATE_LIMIT": "10000 per minute",
        "UPLOAD_RATE_LIMIT": "100000 per minute",
        # the tiny model in shared/: nothing is ever downloaded in tests
        "WHISPER_MODEL": str(SHARED / "models" / "faster-whisper-tiny.en"),
        "SESSION_COOKIE_SECURE": True,
        # cheap hashes keep fixtures fast; production uses Argon2id's defaults
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_KIB": 64,
    }
    config.update(extra)
    return config


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Flask]]:
    """Yield (name, app) for one database backend with the migrated schema."""
    tmp = tmp_path_factory.mktemp(f"app-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'fieldbook.db'}"
    else:
        url = create_postgres_database()
    app = create_app(app_config(tmp, url))
    with app.app_context():
        migrate.upgrade()
    yield request.param, app
    with app.app_context():
        db.engine.dispose()
    if request.param == "postgres":
        drop_postgres_database(url)


@pytest.fixture
def app(backend: tuple[str, Flask]) -> Iterator[Flask]:
    """Yield the backend's app with every database change of the test rolled back."""
    _, flask_app = backend
    with flask_app.app_context():
        connection = db.engine.connect()
    outer = connection.begin()
    db.session.remove()
    db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
    # No app context stays pushed: each request of the test client must get its own
    # (and its own ``g``), as it would in a server. The session is bound explicitly,
    # so tests can query it without a context.
    try:
        yield flask_app
    finally:
        db.session.remove()
        db.session.configure(bind=None)
        outer.rollback()
        connection.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@dataclass
class Actor:
    """A user with a device token, and a client that sends it."""

    user: User
    token: str
    client: FlaskClient

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self.headers, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers=self.headers, **kw)

    def patch(self, url: str, **kw: Any) -> Any:
        return self.client.patch(url, headers=self.headers, **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.client.delete(url, headers=self.headers, **kw)


class Factory:
    """Builds users, studies and memberships directly through the services."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def user(self, *, admin: bool = False, email: str | None = None) -> User:
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.test"
        with self.app.app_context():
            user = accounts.create_user(email, PASSWORD, name=email.split("@")[0], is_admin=admin)
            db.session.commit()
        return user

    def actor(self, *, admin: bool = False, user: User | None = None) -> Actor:
        user = user or self.user(admin=admin)
        with self.app.app_context():
            _, secret = accounts.issue_token(user, "test device")
            db.session.commit()
        return Actor(user=user, token=secret, client=self.app.test_client())

    def study(self, name: str = "Kettle returns", **fields: Any) -> Study:
        study = Study(
            name=name,
            company=fields.pop("company", "Acme Appliances"),
            journey_stages=fields.pop("journey_stages", ["discover", "buy", "return"]),
            checklist=fields.pop(
                "checklist",
                [
                    {
                        "key": "greeted",
                        "question": "Were you greeted?",
                        "kind": "yes_no",
                        "weight": 1.0,
                    }
                ],
            ),
            **fields,
        )
        db.session.add(study)
        db.session.commit()
        return study

    def member(self, study: Study, role: Role, *, user: User | None = None) -> Actor:
        actor = self.actor(user=user)
        db.session.add(Membership(study_id=study.id, user_id=actor.user.id, role=role))
        db.session.commit()
        return actor


@pytest.fixture
def factory(app: Flask) -> Factory:
    """Build domain objects for a test."""
    return Factory(app)


@dataclass
class StudyTeam:
    """A study with one member of each role, an admin, and an outsider from another study."""

    study: Study
    other_study: Study
    admin: Actor
    manager: Actor
    reviewer: Actor
    researcher: Actor
    researcher2: Actor
    outsider: Actor


@pytest.fixture
def team(factory: Factory) -> StudyTeam:
    """A study with a member of each role and a member of another study."""
    study = factory.study()
    other = factory.study("Broadband sign-up", company="Northwind Telecom")
    return StudyTeam(
        study=study,
        other_study=other,
        admin=factory.actor(admin=True),
        manager=factory.member(study, Role.manager),
        reviewer=factory.member(study, Role.reviewer),
        researcher=factory.member(study, Role.researcher),
        researcher2=factory.member(study, Role.researcher),
        outsider=factory.member(other, Role.manager),
    )
