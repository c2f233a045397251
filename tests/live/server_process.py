"""Fieldbook run the way operators run it: the ``fieldbook`` command in its own process."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

# the console script installed beside this interpreter (the project's virtualenv)
FIELDBOOK = Path(sys.executable).with_name("fieldbook")
REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 20.0


def fieldbook_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """Return an environment for ``fieldbook`` with its data under ``data_dir``.

    ``FIELDBOOK_*`` variables of the calling shell are dropped so that nothing leaks in.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("FIELDBOOK_")}
    runtime_dir = data_dir / "run"
    runtime_dir.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "FIELDBOOK_DATA_DIR": str(data_dir),
            "FIELDBOOK_DATABASE_URL": database_url,
            "FIELDBOOK_SECRET_KEY": secrets.token_urlsafe(32),
            # gunicorn puts its control socket here; one folder per server keeps them apart
            "XDG_RUNTIME_DIR": str(runtime_dir),
            "PYTHONUNBUFFERED": "1",
            # the code of this checkout, whatever the state of the editable install
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
    )
    env.update(extra)
    return env


def run_fieldbook(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run one ``fieldbook`` command to its end and return what it printed.

    A command still running after ``timeout`` (a server that should have refused to
    start) is killed with everything it started, and reported.
    """
    command = [str(FIELDBOOK), *args]
    with subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            message = f"{' '.join(args)} still running after {timeout}s:\n{out}{err}"
            raise TimeoutError(message) from None
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def answers_http(base_url: str) -> bool:
    """Tell whether anything answers HTTP at ``base_url`` (any status counts)."""
    try:
        requests.get(base_url + "/", timeout=2)
    except requests.ConnectionError:
        return False
    return True


@dataclass
class ServerProcess:
    """A server started in its own process group, with its output in ``log_path``."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        """Return the last lines the server printed."""
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> int | None:
        """Stop the server and its workers: SIGTERM, then SIGKILL after a grace period."""
        group = self.process.pid
        if self.process.poll() is None:
            _signal_group(group, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                _signal_group(group, signal.SIGKILL)
                self.process.wait(timeout=STOP_GRACE_S)
        # workers left behind by a master that died are in the same group
        _signal_group(group, signal.SIGKILL)
        return self.process.returncode


def _signal_group(group: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


def start_server(
    command: list[str], env: dict[str, str], port: int, log_path: Path
) -> ServerProcess:
    """Start ``command`` and wait until it answers HTTP on ``port``; stop it if it never does."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = ServerProcess(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not answers_http(server.base_url):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(
                f"{' '.join(command)} did not start (exit {process.returncode}):\n"
                + server.log_tail()
            )
        time.sleep(0.2)
    return server


def start_fieldbook(env: dict[str, str], port: int, log_path: Path, *args: str) -> ServerProcess:
    """Start ``fieldbook serve`` on ``port`` with extra serve options ``args``."""
    command = [str(FIELDBOOK), "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    return start_server(command, env, port, log_path)
