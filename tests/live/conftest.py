"""Live servers: ``fieldbook serve`` (gunicorn) in its own process, on SQLite and PostgreSQL.

Each backend gets one server for the whole session (the backends start side by side), on
a fresh database set up by ``fieldbook init`` with a known admin password; it runs with
``FIELDBOOK_ENV=production`` and is stopped (SIGTERM, then SIGKILL) at the end, and a
PostgreSQL database it used is dropped. SQLite runs the embedded default (one
web process, job threads inside it); PostgreSQL runs the scale shape (two web processes,
jobs left to separate workers), so races there cross process boundaries on the server too.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live.api_client import ApiClient
from tests.live.server_process import ServerProcess, fieldbook_env, run_fieldbook, start_fieldbook
from tests.services import create_postgres_database, drop_postgres_database, free_port

BACKEND_NAMES = ("sqlite", "postgres")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
ADMIN_EMAIL = "admin@fieldbook.local"
ADMIN_PASSWORD = "live admin password 7"
MEMBER_PASSWORD = "live member password 7"


@contextmanager
def fresh_database(backend: str, tmp: Path) -> Iterator[str]:
    """Yield the URL of a new, empty database; a PostgreSQL one is dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'fieldbook.db'}"
        return
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@dataclass
class LiveServer:
    """A running ``fieldbook serve`` with the environment that points commands at its data."""

    backend: str
    base_url: str
    env: dict[str, str]
    data_dir: Path
    init_output: str
    admin: ApiClient
    process: ServerProcess

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run a ``fieldbook`` command on this server's database and data folder."""
        return run_fieldbook({**self.env, **env}, *args)


@contextmanager
def running_server(backend: str, tmp: Path) -> Iterator[LiveServer]:
    """Set up a fresh install with ``fieldbook init``, serve it, and stop it afterwards."""
    with fresh_database(backend, tmp) as url:
        extra = {"FIELDBOOK_ENV": "production", "FIELDBOOK_LOGIN_RATE_LIMIT": "1000 per minute"}
        serve_args: list[str] = []
        if backend == "postgres":
            extra["FIELDBOOK_INPROCESS_WORKER"] = "false"
            serve_args = ["--workers", "2"]
        env = fieldbook_env(tmp, url, **extra)
        init = run_fieldbook({**env, "FIELDBOOK_PASSWORD": ADMIN_PASSWORD}, "init")
        if init.returncode != 0:
            pytest.fail(f"fieldbook init failed:\n{init.stdout}{init.stderr}")
        server = start_fieldbook(env, free_port(), tmp / "server.log", *serve_args)
        try:
            admin = ApiClient.sign_in(server.base_url, ADMIN_EMAIL, ADMIN_PASSWORD)
            yield LiveServer(
                backend=backend,
                base_url=server.base_url,
                env=env,
                data_dir=tmp,
                init_output=init.stdout + init.stderr,
                admin=admin,
                process=server,
            )
            admin.session.close()
        finally:
            server.stop()


class ServerPool:
    """Live servers started side by side in the background, all stopped at the end.

    Starting one means two ``fieldbook`` processes importing the whole app; doing the
    backends at once keeps the suite's set-up time close to that of one.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=len(BACKEND_NAMES))
        self._starting: dict[str, Future[tuple[LiveServer, ExitStack]]] = {}

    def has(self, backend: str) -> bool:
        """Tell whether a server for ``backend`` is running or on its way."""
        return backend in self._starting

    def start(self, backend: str, tmp: Path) -> None:
        """Begin starting a server for ``backend`` in the background."""
        self._starting[backend] = self._executor.submit(self._enter, backend, tmp)

    @staticmethod
    def _enter(backend: str, tmp: Path) -> tuple[LiveServer, ExitStack]:
        with ExitStack() as stack:
            server = stack.enter_context(running_server(backend, tmp))
            return server, stack.pop_all()

    def get(self, backend: str) -> LiveServer:
        """Wait for the backend's server; a skip or failure while starting is raised here."""
        return self._starting[backend].result()[0]

    def close(self) -> None:
        """Stop every server that started and drop its database."""
        wait(self._starting.values())
        started = [f.result()[1] for f in self._starting.values() if f.exception() is None]
        # side by side again: each waits out its own graceful shutdown
        closing = [self._executor.submit(stack.close) for stack in started]
        wait(closing)
        self._executor.shutdown()
        for future in closing:
            future.result()


def backends_in_use(session: pytest.Session) -> list[str]:
    """Return the backends the selected tests run a live server on."""
    used = {
        item.callspec.params["live_server"]
        for item in session.items
        if isinstance(item, pytest.Function)
        and hasattr(item, "callspec")
        and "live_server" in item.callspec.params
    }
    return [name for name in BACKEND_NAMES if name in used]


@pytest.fixture(scope="session")
def server_pool(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerPool]:
    """Start the live servers the selected tests need, all at once."""
    pool = ServerPool()
    try:
        for backend in backends_in_use(request.session):
            pool.start(backend, tmp_path_factory.mktemp(f"live-{backend}"))
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="session", params=BACKENDS)
def live_server(
    request: pytest.FixtureRequest,
    server_pool: ServerPool,
    tmp_path_factory: pytest.TempPathFactory,
) -> LiveServer:
    """Return the live server of one backend, on a fresh database."""
    backend: str = request.param
    if not server_pool.has(backend):
        server_pool.start(backend, tmp_path_factory.mktemp(f"live-{backend}"))
    return server_pool.get(backend)


@dataclass
class LiveStudy:
    """A fresh study on a live server with one researcher signed in on a device."""

    server: LiveServer
    study_id: str
    researcher: ApiClient

    @property
    def visits_path(self) -> str:
        """The API path where this study's visits are listed and created."""
        return f"/studies/{self.study_id}/visits"


def unique_email(role: str) -> str:
    """Return an e-mail address no other test uses."""
    return f"{role}-{uuid.uuid4().hex[:10]}@example.test"


@pytest.fixture
def live_study(live_server: LiveServer) -> Iterator[LiveStudy]:
    """Create a study and a researcher member through the API, and sign the researcher in."""
    admin = live_server.admin
    study_id = admin.create_study(f"Kettle returns {uuid.uuid4().hex[:6]}")
    email = unique_email("researcher")
    admin.add_member(study_id, admin.create_user(email, MEMBER_PASSWORD), "researcher")
    researcher = ApiClient.sign_in(live_server.base_url, email, MEMBER_PASSWORD)
    yield LiveStudy(live_server, study_id, researcher)
    researcher.session.close()
