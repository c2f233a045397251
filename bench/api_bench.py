"""Visits created per second through Fieldbook's API, as a ratio to a bare Flask endpoint.

Run from the repository root: ``python -m bench.api_bench [--requests N] [--clients C]``.

Fieldbook runs as operators run it on the embedded default: ``fieldbook serve`` (gunicorn
gthread, one worker, eight threads, SQLite, job threads in the server) after ``fieldbook
init``. The yardstick is a Flask app with one POST route that parses JSON and answers 201
JSON (``bench.baseline_app``), served by gunicorn with the same worker class, workers,
threads and access log. Each side gets the same number of visit creates from C client
threads with keep-alive sessions, after a warm-up; every visit has a fresh client UUID.
Prints a Markdown table and writes it to ``bench/results/api.md``. Target: Fieldbook at
least 0.3 times the yardstick's requests per second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import gunicorn
import requests

from tests.live.api_client import ApiClient, visit_body
from tests.live.server_process import (
    fieldbook_env,
    run_fieldbook,
    start_fieldbook,
    start_server,
)
from tests.services import free_port

TARGET_RATIO = 0.3
RESULTS = Path(__file__).resolve().parent / "results" / "api.md"
ADMIN_EMAIL = "admin@fieldbook.local"
WORKERS, THREADS = 1, 8
# the options ``fieldbook serve`` gives gunicorn (server/cli/runtime.py), for the yardstick
BASELINE_GUNICORN = [
    "--worker-class=gthread",
    f"--workers={WORKERS}",
    f"--threads={THREADS}",
    "--timeout=120",
    "--graceful-timeout=30",
    "--access-logfile=-",
    "--error-logfile=-",
    "--limit-request-line=8190",
]


@dataclass
class Run:
    """What one side of the benchmark measured."""

    name: str
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        """How many requests were sent."""
        return sum(self.statuses.values())

    @property
    def per_second(self) -> float:
        """Requests answered per second of wall time."""
        return self.requests / self.seconds

    def percentile(self, q: int) -> float:
        """Return the q-th percentile latency in milliseconds."""
        return statistics.quantiles(self.latencies_ms, n=100)[q - 1]

    @property
    def failures(self) -> int:
        """Requests not answered 201 (0 counts a connection error)."""
        return self.requests - self.statuses[201]


def drive(name: str, url: str, headers: dict[str, str], total: int, clients: int) -> Run:
    """POST ``total`` visit creates from ``clients`` threads, each on a keep-alive session."""
    run = Run(name)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    shares = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]

    def client(count: int) -> None:
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        with requests.Session() as session:
            session.headers.update(headers)
            start.wait()
            for _ in range(count):
                began = time.perf_counter()
                try:
                    status = session.post(url, json=visit_body(), timeout=60).status_code
                except requests.RequestException:
                    status = 0
                latencies.append((time.perf_counter() - began) * 1000)
                statuses[status] += 1
        with lock:
            run.latencies_ms.extend(latencies)
            run.statuses.update(statuses)

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - began
    return run


@dataclass
class Target:
    """A running server under test: where to POST, with which headers, and its totals."""

    name: str
    url: str
    headers: dict[str, str]
    total: Run


def merge(total: Run, run: Run) -> None:
    """Add one round's measurements to a side's totals."""
    total.seconds += run.seconds
    total.latencies_ms.extend(run.latencies_ms)
    total.statuses.update(run.statuses)


@contextmanager
def fieldbook_server(tmp: Path) -> Iterator[tuple[Target, Callable[[], int]]]:
    """Run ``fieldbook init`` and ``fieldbook serve``; make a study and a researcher.

    Yields the target and a function that counts the study's stored visits.
    """
    # a throwaway install: its password is made up for this run
    password = secrets.token_urlsafe(16)
    env = fieldbook_env(tmp, f"sqlite:///{tmp / 'fieldbook.db'}")
    init = run_fieldbook({**env, "FIELDBOOK_PASSWORD": password}, "init")
    if init.returncode != 0:
        raise SystemExit(f"fieldbook init failed:\n{init.stdout}{init.stderr}")
    extra = ["--workers", str(WORKERS), "--threads", str(THREADS)]
    server = start_fieldbook(env, free_port(), tmp / "fieldbook.log", *extra)
    try:
        admin = ApiClient.sign_in(server.base_url, ADMIN_EMAIL, password)
        study_id = admin.create_study("API benchmark")
        email = "bench-researcher@example.test"
        admin.add_member(study_id, admin.create_user(email, password), "researcher")
        researcher = ApiClient.sign_in(server.base_url, email, password)
        path = f"/studies/{study_id}/visits"
        headers = {"Authorization": f"Bearer {researcher.token}"}

        def stored() -> int:
            response = admin.get(path, params={"page_size": 1}, new_connection=True)
            response.raise_for_status()
            return int(json.loads(response.headers["X-Pagination"])["total"])

        yield (
            Target("fieldbook", f"{server.base_url}/api/v1{path}", headers, Run("fieldbook")),
            stored,
        )
        admin.session.close()
        researcher.session.close()
    finally:
        server.stop()


@contextmanager
def baseline_server(tmp: Path) -> Iterator[Target]:
    """Serve the bare Flask app the way ``fieldbook serve`` serves Fieldbook."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        *BASELINE_GUNICORN,
        f"--bind=127.0.0.1:{port}",
        "bench.baseline_app:create_app()",
    ]
    server = start_server(command, fieldbook_env(tmp, "sqlite://"), port, tmp / "baseline.log")
    try:
        yield Target("baseline", f"{server.base_url}/visits", {}, Run("baseline"))
    finally:
        server.stop()


def render(
    fieldbook: Run, baseline: Run, args: argparse.Namespace, load: tuple[float, float]
) -> str:
    """Return the results as a Markdown document."""
    ratio = fieldbook.per_second / baseline.per_second
    verdict = "met" if ratio >= TARGET_RATIO else "not met"
    rows = [
        ("Fieldbook `POST /api/v1/studies/{id}/visits`", fieldbook),
        ("Flask, one JSON POST route (yardstick)", baseline),
    ]
    lines = [
        "# Visits created per second through the API",
        "",
        f"{fieldbook.requests} creates per side in {args.rounds} alternating rounds after "
        f"{args.warmup} warm-up, {args.clients} client "
        f"threads with keep-alive `requests` sessions, a fresh client UUID each. Both served by "
        f"gunicorn {gunicorn.__version__} gthread, {WORKERS} worker x {THREADS} threads, access "
        "log on; Fieldbook on the embedded default (SQLite WAL, job threads in the server), "
        "authenticating a device token on every request. "
        f"{os.cpu_count()} CPUs shared by server and clients (load average {load[0]:.1f} at "
        f"the start, {load[1]:.1f} at the end), Python {platform.python_version()}.",
        "",
        "| server | requests/s | p50 ms | p95 ms | not 201 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, run in rows:
        lines.append(
            f"| {label} | {run.per_second:.0f} | {run.percentile(50):.1f} | "
            f"{run.percentile(95):.1f} | {run.failures} |"
        )
    lines += [
        "",
        f"Ratio Fieldbook / yardstick: **{ratio:.2f}** (target >= {TARGET_RATIO}): {verdict}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run both sides, print the table and write it to ``bench/results/api.md``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="creates measured per side")
    parser.add_argument("--warmup", type=int, default=200, help="creates sent first, not measured")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per side")
    args = parser.parse_args(argv)

    def check(run: Run, stored: int) -> None:
        if stored != run.statuses[201]:
            raise SystemExit(f"{run.statuses[201]} creates answered 201 but {stored} stored")

    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="fieldbook-api-bench-") as folder:
        tmp = Path(folder)
        (tmp / "fieldbook").mkdir()
        (tmp / "baseline").mkdir()
        with (
            fieldbook_server(tmp / "fieldbook") as (fieldbook, stored),
            baseline_server(tmp / "baseline") as baseline,
        ):
            for target in (fieldbook, baseline):
                drive(target.name, target.url, target.headers, args.warmup, args.clients)
            before = stored()
            # rounds alternate so that both sides share whatever else the machine is doing
            per_round = args.requests // args.rounds
            for number in range(args.rounds):
                order = (fieldbook, baseline) if number % 2 == 0 else (baseline, fieldbook)
                for target in order:
                    run = drive(target.name, target.url, target.headers, per_round, args.clients)
                    merge(target.total, run)
            check(fieldbook.total, stored() - before)
    table = render(fieldbook.total, baseline.total, args, (load_start, os.getloadavg()[0]))
    print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")
    return 0 if fieldbook.total.failures == 0 and baseline.total.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
