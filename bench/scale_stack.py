"""Fieldbook's scale profile on one machine, started for real and stopped cleanly.

``start("scale")`` brings up: a fresh PostgreSQL database, moto's S3 server with a new
bucket, a dedicated (flushed) database number on the local Redis, ``fieldbook init``,
``fieldbook serve --workers 2 --threads 8`` (gunicorn) and two ``fieldbook worker``
processes, then waits until ``/readyz`` answers 200. ``start("embedded")`` runs the
default profile instead (SQLite, local folder, job threads inside one web worker) so
that both can be measured the same way. ``Stack.stop()`` stops every process, drops
the database, flushes the Redis database and removes the data folder, also after a
failed start.

From the shell: ``scripts/scale-stack.sh [--profile scale|embedded] [--port N]`` starts
a stack, prints where it is and how to sign in, and stops it on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.live.server_process import FIELDBOOK, fieldbook_env, run_fieldbook
from tests.services import POSTGRES_ADMIN_URL, free_port, port_open
from tests.storage.s3_relay import S3Relay

ADMIN_EMAIL = "admin@fieldbook.local"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
BUCKET = "fieldbook-evidence"
READY_TIMEOUT_S = 90.0
STOP_GRACE_S = 20.0


class StackError(RuntimeError):
    """The stack could not be started."""


@dataclass
class Process:
    """One process of the stack, in its own process group, writing to its own log."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    stop_signal: signal.Signals = signal.SIGTERM

    def kill(self, signum: signal.Signals = signal.SIGKILL) -> None:
        """Send ``signum`` to the whole group and wait until the process has exited."""
        _signal_group(self.popen.pid, signum)
        self.popen.wait(timeout=STOP_GRACE_S * 3)

    def respawn(self) -> None:
        """Start the same command again, in a new group, appending to the same log."""
        if self.popen.poll() is None:
            raise StackError(f"{self.name} is still running")
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def tail(self, lines: int = 40) -> str:
        """Return the last lines the process printed."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM the group, wait, then SIGKILL whatever is left of it."""
        group = self.popen.pid
        if self.popen.poll() is None:
            _signal_group(group, self.stop_signal)
            try:
                self.popen.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                _signal_group(group, signal.SIGKILL)
                self.popen.wait(timeout=STOP_GRACE_S)
        _signal_group(group, signal.SIGKILL)


@dataclass
class Stack:
    """A running Fieldbook install and everything it was started with."""

    profile: str
    data_dir: Path
    base_url: str = ""
    password: str = ""
    env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    database_url: str | None = None
    redis_db: int | None = None
    s3_endpoint: str | None = None
    admin_email: str = ADMIN_EMAIL
    s3_relay: S3Relay | None = None
    service_ports: dict[str, int] = field(default_factory=dict)
    extra_dirs: list[Path] = field(default_factory=list)

    def process(self, name: str) -> Process:
        """Return the process with this name (``web``, ``worker-1``, ``s3``...)."""
        return next(p for p in self.processes if p.name == name)

    def logs(self, lines: int = 40) -> str:
        """Return the tail of every process's log, for a failure message."""
        return "\n".join(f"--- {p.name}\n{p.tail(lines)}" for p in self.processes)

    def restart(
        self, name: str, signum: signal.Signals = signal.SIGKILL, down_s: float = 0
    ) -> None:
        """Stop one process with ``signum``, leave it down ``down_s``, start it again.

        Returns once it answers again: ``/readyz`` for the web server, its port for
        PostgreSQL and Redis; a job worker is back as soon as it runs.
        """
        process = self.process(name)
        process.kill(signum)
        time.sleep(down_s)
        process.respawn()
        if name == "web":
            _wait_for(self, "/readyz", lambda: _is_ready(self.base_url))
        elif name in self.service_ports:
            port = self.service_ports[name]
            _wait_for(self, name, lambda: _accepts_queries(name, port))

    def stop(self) -> None:
        """Stop the processes (last started first), drop the database, flush Redis, clean up."""
        for process in reversed(self.processes):
            with contextlib.suppress(Exception):
                process.stop()
        if self.s3_relay is not None:
            self.s3_relay.close()
        if "postgres" in self.service_ports:
            self.database_url = None  # it went with its cluster
        if self.database_url is not None:
            with contextlib.suppress(Exception):
                _drop_database(self.database_url)
        if self.redis_db is not None:
            with contextlib.suppress(Exception):
                _flush_redis(self.redis_db)
        for folder in (self.data_dir, *self.extra_dirs):
            shutil.rmtree(folder, ignore_errors=True)


def _signal_group(group: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


def _create_database() -> str:
    import sqlalchemy as sa

    if not port_open("127.0.0.1", 5432):
        raise StackError("PostgreSQL is not listening on 127.0.0.1:5432")
    name = f"fieldbook_scale_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(url: str) -> None:
    import sqlalchemy as sa

    name = url.rsplit("/", 1)[1]
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        engine.dispose()


def _flush_redis(number: int) -> None:
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


def _create_bucket(endpoint: str, key_id: str, secret: str) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )
    try:
        client.create_bucket(Bucket=BUCKET)
    finally:
        client.close()


def _spawn(
    stack: Stack,
    name: str,
    command: list[str],
    env: dict[str, str],
    stop_signal: signal.Signals = signal.SIGTERM,
) -> Process:
    log_path = stack.data_dir / "logs" / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    process = Process(name, popen, log_path, command, env, stop_signal)
    stack.processes.append(process)
    return process


def _postgres_bin() -> Path:
    """Return the folder of the PostgreSQL server programs (initdb, postgres)."""
    found = shutil.which("initdb")
    if found and Path(found).resolve().name == "initdb":
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not candidates:
        raise StackError("the PostgreSQL server programs (initdb, postgres) are not installed")
    return candidates[-1].parent


def _as_postgres_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the ``postgres`` account there."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _start_private_postgres(stack: Stack) -> str:
    """Start a PostgreSQL cluster of the stack's own, so that it can be restarted.

    Its data lives in a folder of its own (owned by ``postgres`` when run as root);
    ``Stack.stop`` stops it and removes the folder.
    """
    bindir = _postgres_bin()
    data = Path(tempfile.mkdtemp(prefix="fieldbook-pg-"))
    stack.extra_dirs.append(data)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    init = subprocess.run(
        _as_postgres_user(
            [str(bindir / "initdb"), "-D", str(data / "cluster"), "-A", "trust", "-U", "fieldbook"]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode != 0:
        raise StackError(f"initdb failed:\n{init.stdout}{init.stderr}")
    port = free_port()
    command = _as_postgres_user(
        [
            str(bindir / "postgres"),
            "-D", str(data / "cluster"),
            "-p", str(port),
            "-k", str(data),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "max_connections=200",
        ]
    )  # fmt: skip
    # SIGINT is PostgreSQL's fast shutdown: clients are cut, the cluster closes cleanly
    _spawn(stack, "postgres", command, {**os.environ}, stop_signal=signal.SIGINT)
    stack.service_ports["postgres"] = port
    _wait_for(stack, "PostgreSQL", lambda: _accepts_queries("postgres", port), 60)
    import sqlalchemy as sa

    admin = sa.create_engine(
        f"postgresql+psycopg://fieldbook@127.0.0.1:{port}/postgres", isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE fieldbook")
    finally:
        admin.dispose()
    return f"postgresql+psycopg://fieldbook@127.0.0.1:{port}/fieldbook"


def _start_private_redis(stack: Stack) -> int:
    """Start a Redis of the stack's own that keeps nothing on disk, as the machine's."""
    port = free_port()
    folder = stack.data_dir / "redis"
    folder.mkdir()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(folder)]
    _spawn(stack, "redis", command, {**os.environ})
    stack.service_ports["redis"] = port
    _wait_for(stack, "Redis", lambda: _accepts_queries("redis", port), 30)
    return port


def _accepts_queries(name: str, port: int) -> bool:
    """Tell whether the service on ``port`` answers a query (not only accepts)."""
    if not port_open("127.0.0.1", port):
        return False
    try:
        if name == "redis":
            import redis

            client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
            try:
                return bool(client.ping())
            finally:
                client.close()
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={port} user=fieldbook dbname=postgres", connect_timeout=2
        ) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


def _wait_for(stack: Stack, what: str, ready: object, timeout: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        for process in stack.processes:
            if process.popen.poll() is not None:
                raise StackError(f"{process.name} exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise StackError(f"{what} not ready after {timeout:.0f}s")
        time.sleep(0.2)


def _is_ready(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/readyz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _scale_env(stack: Stack, redis_db: int, private_services: bool) -> dict[str, str]:
    if private_services:
        stack.database_url = _start_private_postgres(stack)
        redis_port, redis_db = _start_private_redis(stack), 0
    else:
        stack.database_url = _create_database()
        redis_port = REDIS_PORT
        _flush_redis(redis_db)
        stack.redis_db = redis_db
    s3_port = free_port()
    _spawn(
        stack,
        "s3",
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
        {**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    _wait_for(stack, "the S3 server", lambda: port_open("127.0.0.1", s3_port), 60)
    stack.s3_endpoint = f"http://127.0.0.1:{s3_port}"
    key_id, secret = "fieldbook-local", secrets.token_urlsafe(24)
    _create_bucket(stack.s3_endpoint, key_id, secret)
    if private_services:
        # the store reaches S3 through a relay that can cut it off (tests/storage)
        stack.s3_relay = S3Relay(stack.s3_endpoint)
        stack.s3_endpoint = stack.s3_relay.endpoint_url
    redis_url = f"redis://{REDIS_HOST}:{redis_port}/{redis_db}"
    return fieldbook_env(
        stack.data_dir,
        stack.database_url,
        FIELDBOOK_STORAGE="s3",
        FIELDBOOK_S3_BUCKET=BUCKET,
        FIELDBOOK_S3_ENDPOINT_URL=stack.s3_endpoint,
        FIELDBOOK_S3_REGION="us-east-1",
        FIELDBOOK_S3_ACCESS_KEY_ID=key_id,
        FIELDBOOK_S3_SECRET_ACCESS_KEY=secret,
        FIELDBOOK_S3_ADDRESSING_STYLE="path",
        FIELDBOOK_JOBS="redis",
        FIELDBOOK_REDIS_URL=redis_url,
        FIELDBOOK_RATE_LIMIT_STORAGE_URL=redis_url,
    )


def start(
    profile: str = "scale",
    *,
    port: int | None = None,
    redis_db: int = 13,
    web_workers: int = 2,
    threads: int = 8,
    job_workers: int = 2,
    extra_env: dict[str, str] | None = None,
    private_services: bool = False,
) -> Stack:
    """Start a Fieldbook stack of this profile and return it once ``/readyz`` is 200.

    ``extra_env`` adds ``FIELDBOOK_*`` settings (the load bench raises the sign-in limit
    and leaves transcription off: this machine has no Whisper model).

    With ``private_services`` the scale profile gets a PostgreSQL cluster and a Redis of
    its own (processes ``postgres`` and ``redis``) and reaches moto's S3 through
    ``stack.s3_relay``, so that a test can restart them and cut S3 off without touching
    the machine's shared services.
    """
    if profile not in ("scale", "embedded"):
        raise ValueError(f"profile must be 'scale' or 'embedded', not {profile!r}")
    stack = Stack(profile, Path(tempfile.mkdtemp(prefix=f"fieldbook-{profile}-")))
    try:
        if profile == "scale":
            env = _scale_env(stack, redis_db, private_services)
        else:
            web_workers, job_workers = 1, 0
            env = fieldbook_env(stack.data_dir, f"sqlite:///{stack.data_dir / 'fieldbook.db'}")
        env.update({"FIELDBOOK_LOG_FORMAT": "json", **(extra_env or {})})
        stack.password = secrets.token_urlsafe(16)
        stack.env = env
        init = run_fieldbook({**env, "FIELDBOOK_PASSWORD": stack.password}, "init")
        if init.returncode != 0:
            raise StackError(f"fieldbook init failed:\n{init.stdout}{init.stderr}")
        port = port or free_port()
        stack.base_url = f"http://127.0.0.1:{port}"
        serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
        serve += ["--workers", str(web_workers), "--threads", str(threads)]
        # the web server first: a worker's job may need what a request just stored
        _spawn(stack, "web", [str(FIELDBOOK), *serve], env)
        for number in range(1, job_workers + 1):
            _spawn(stack, f"worker-{number}", [str(FIELDBOOK), "worker"], env)
        _wait_for(stack, "/readyz", lambda: _is_ready(stack.base_url))
    except BaseException as error:
        message = stack.logs()
        stack.stop()
        if isinstance(error, StackError):
            raise StackError(f"{error}\n{message}") from None
        raise
    return stack


def main(argv: list[str] | None = None) -> int:
    """Start a stack, print how to reach it, and stop it on Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["scale", "embedded"], default="scale")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--redis-db", type=int, default=13)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    stack = start(args.profile, port=args.port, redis_db=args.redis_db)
    try:
        print(f"Fieldbook ({stack.profile} profile) at {stack.base_url}", flush=True)
        print(f"  sign in: {stack.admin_email} / {stack.password}", flush=True)
        if stack.s3_endpoint:
            print(f"  S3 (moto): {stack.s3_endpoint}  bucket {BUCKET}", flush=True)
            print(f"  Redis: redis://{REDIS_HOST}:{REDIS_PORT}/{stack.redis_db}", flush=True)
        print(f"  logs: {stack.data_dir / 'logs'}   Ctrl-C stops everything", flush=True)
        while all(p.popen.poll() is None for p in stack.processes):
            time.sleep(1)
        print("A process of the stack exited:\n" + stack.logs(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()
        print("Stopped; database dropped, Redis database flushed, files removed.", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
