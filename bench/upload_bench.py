"""Benchmark resumable uploads on loopback against ``fieldbook serve``.

Run from the repository root: ``python -m bench.upload_bench [--size-mb 500] [--runs 3]``.
Prints a Markdown table and writes it to ``bench/results/uploads.md``. Measures:

1. the web worker's peak resident memory growth while one ``--size-mb`` recording streams
   through a single tus PATCH and is stored (target: under 64 MiB);
2. tus throughput, from creation to the evidence being stored, as a ratio to a plain
   streaming PUT endpoint (a tiny Flask app that writes ``request.stream`` to a file in
   1 MiB chunks and fsyncs it) under the same gunicorn configuration as ``fieldbook serve``
   (target: at least 0.7). The tus figure is given for one PATCH and for tuspy in 8 MiB
   chunks, the way the phone app sends.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import requests
from flask import Flask, request
from tusclient.client import TusClient
from werkzeug.utils import secure_filename

MIB = 1024 * 1024
MB = 1000 * 1000
MEMORY_TARGET = 64 * MIB
RATIO_TARGET = 0.7
TUS_CHUNK = 8 * MIB
RESULTS = Path(__file__).resolve().parent / "results" / "uploads.md"
FIELDBOOK = Path(sys.executable).with_name("fieldbook")
PUT_DIR_ENV = "FIELDBOOK_BENCH_PUT_DIR"
ADMIN_PASSWORD = secrets.token_urlsafe(16)
RESEARCHER_PASSWORD = secrets.token_urlsafe(16)
TUS = {"Tus-Resumable": "1.0.0"}
START_TIMEOUT_S = 60.0
TIMEOUT_S = 600.0
# the options `fieldbook serve` gives gunicorn (server/cli/runtime.py), for the PUT baseline
GUNICORN_OPTIONS = [
    "--workers=1",
    "--threads=8",
    "--worker-class=gthread",
    "--timeout=120",
    "--graceful-timeout=30",
    "--limit-request-line=8190",
]


def baseline_app() -> Flask:
    """Return the PUT baseline: stream the body to a file in 1 MiB chunks, fsync, 204."""
    app = Flask("upload_baseline")
    folder = Path(os.environ[PUT_DIR_ENV])

    @app.put("/files/<name>")
    def put(name: str) -> tuple[str, int]:
        with open(folder / secure_filename(name), "wb") as out:
            while data := request.stream.read(MIB):
                out.write(data)
            out.flush()
            os.fsync(out.fileno())
        return "", 204

    return app


def write_recording(path: Path, size: int) -> None:
    """Write a WAV call recording (48 kHz stereo, noise) of ``size`` bytes, 1 MiB at a time."""
    data = size - 44
    header = (
        b"RIFF"
        + struct.pack("<I", size - 8)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 2, 48_000, 192_000, 4, 16)
        + b"data"
        + struct.pack("<I", data)
    )
    with open(path, "wb") as out:
        out.write(header)
        left = data
        while left:
            block = os.urandom(min(MIB, left))
            out.write(block)
            left -= len(block)


def free_port() -> int:
    """Return a free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """A server process in its own process group."""

    process: subprocess.Popen[bytes]
    base_url: str

    def worker(self) -> psutil.Process:
        """Return gunicorn's single worker process."""
        [child] = psutil.Process(self.process.pid).children()
        return child

    def stop(self) -> None:
        """Stop the server and its worker."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@contextmanager
def serving(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[Served]:
    """Run ``command`` until the block ends; wait until it answers HTTP on ``port``."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    served = Served(process, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                requests.get(served.base_url + "/", timeout=2)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start; see {log}") from None
                time.sleep(0.2)
        yield served
    finally:
        served.stop()


class Researcher:
    """A researcher signed in on a Fieldbook server, with one visit to add recordings to."""

    def __init__(self, base_url: str) -> None:
        self.api = f"{base_url}/api/v1"
        admin = self._token("admin@fieldbook.local", ADMIN_PASSWORD)
        study = self._created(admin, "/studies", {"name": "Bench", "company": "Acme"})
        email = f"bench-{uuid.uuid4().hex[:8]}@example.test"
        user = self._created(admin, "/users", {"email": email, "password": RESEARCHER_PASSWORD})
        member = {"user_id": user["id"], "role": "researcher"}
        self._created(admin, f"/studies/{study['id']}/members", member)
        self.auth = self._token(email, RESEARCHER_PASSWORD)
        visit = {"channel": "phone", "client_uuid": str(uuid.uuid4())}
        self.visit_id = self._created(self.auth, f"/studies/{study['id']}/visits", visit)["id"]

    def _token(self, email: str, password: str) -> dict[str, str]:
        body = {"email": email, "password": password, "device_name": "bench"}
        response = requests.post(f"{self.api}/tokens", json=body, timeout=TIMEOUT_S)
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['token']}"}

    def _created(self, auth: dict[str, str], path: str, body: dict[str, Any]) -> Any:
        response = requests.post(f"{self.api}{path}", json=body, headers=auth, timeout=TIMEOUT_S)
        if response.status_code != 201:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
        return response.json()

    def metadata(self) -> dict[str, str]:
        """Return the tus metadata of a new recording of the visit."""
        return {
            "visit_id": self.visit_id,
            "kind": "audio",
            "client_uuid": str(uuid.uuid4()),
            "filename": "call.wav",
        }

    def upload_one_patch(self, path: Path) -> str:
        """Create an upload and send the whole file in one PATCH; return the evidence id."""
        client = TusClient(f"{self.api}/uploads", headers=self.auth)
        uploader = client.uploader(str(path), metadata=self.metadata())
        url = uploader.create_url()
        with path.open("rb") as body:
            headers = {
                **self.auth,
                **TUS,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            }
            response = requests.patch(url, data=body, headers=headers, timeout=TIMEOUT_S)
        if response.status_code != 204:
            raise RuntimeError(f"PATCH: {response.status_code} {response.text}")
        return str(response.headers["Fieldbook-Evidence-Id"])

    def upload_chunked(self, path: Path) -> str:
        """Send the file with tuspy in 8 MiB chunks; return the evidence id."""
        client = TusClient(f"{self.api}/uploads", headers=self.auth)
        uploader = client.uploader(str(path), chunk_size=TUS_CHUNK, metadata=self.metadata())
        uploader.upload()
        assert uploader.request is not None
        return str(uploader.request.response_headers["fieldbook-evidence-id"])

    def wait_processed(self, evidence_id: str) -> None:
        """Wait until the item's processing job has ended, so that runs do not overlap."""
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            response = requests.get(
                f"{self.api}/evidence/{evidence_id}", headers=self.auth, timeout=TIMEOUT_S
            )
            if response.json()["status"] in ("ready", "failed"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"evidence {evidence_id} was never processed")


def put_file(base_url: str, path: Path) -> str:
    """Stream the file to the PUT baseline; return where it went."""
    url = f"{base_url}/files/{path.name}"
    with path.open("rb") as body:
        response = requests.put(url, data=body, timeout=TIMEOUT_S)
    response.raise_for_status()
    return url


def timed(action: Callable[[], str]) -> tuple[float, str]:
    """Run ``action``; return how long it took in seconds, and what it returned."""
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def peak_rss_growth(process: psutil.Process, action: Callable[[], object]) -> int:
    """Run ``action`` while sampling ``process``'s RSS every 20 ms; return peak minus start."""
    before = process.memory_info().rss
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        action()
    finally:
        done.set()
        sampler.join()
    return peak - before


def fieldbook_env(data_dir: Path) -> dict[str, str]:
    """Return an environment for a Fieldbook with its data under ``data_dir``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FIELDBOOK_")}
    env.update(
        {
            "FIELDBOOK_DATA_DIR": str(data_dir),
            "FIELDBOOK_SECRET_KEY": secrets.token_urlsafe(32),
            "FIELDBOOK_LOGIN_RATE_LIMIT": "1000 per minute",
            # the benchmark is about bytes: Whisper would compete with the uploads
            "FIELDBOOK_AUTO_TRANSCRIBE": "false",
            "XDG_RUNTIME_DIR": str(data_dir),
        }
    )
    return env


def main(argv: list[str] | None = None) -> int:
    """Measure, print and save the upload benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=500, help="recording size in MB")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per row")
    args = parser.parse_args(argv)
    size = args.size_mb * MB
    # a SIGTERM still stops both servers and removes the scratch folder
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with tempfile.TemporaryDirectory(prefix="fieldbook-bench-") as scratch_name:
        scratch = Path(scratch_name)
        recording = scratch / "call.wav"
        write_recording(recording, size)
        data_dir, put_dir = scratch / "fieldbook", scratch / "put"
        data_dir.mkdir()
        put_dir.mkdir()
        env = fieldbook_env(data_dir)
        subprocess.run(
            [str(FIELDBOOK), "init"],
            env={**env, "FIELDBOOK_PASSWORD": ADMIN_PASSWORD},
            check=True,
            capture_output=True,
        )
        fb_port, put_port = free_port(), free_port()
        fieldbook = [str(FIELDBOOK), "serve", "--host", "127.0.0.1", "--port", str(fb_port)]
        baseline = [
            sys.executable,
            "-m",
            "gunicorn",
            *GUNICORN_OPTIONS,
            f"--bind=127.0.0.1:{put_port}",
            "bench.upload_bench:baseline_app()",
        ]
        with (
            serving(fieldbook, env, fb_port, scratch / "fieldbook.log") as server,
            serving(
                baseline, {**env, PUT_DIR_ENV: str(put_dir)}, put_port, scratch / "put.log"
            ) as plain,
        ):
            researcher = Researcher(server.base_url)
            # warm-up: the first upload loads code that stays loaded
            researcher.wait_processed(researcher.upload_one_patch(recording))
            put_file(plain.base_url, recording)
            growth_ids: list[str] = []
            growth = peak_rss_growth(
                server.worker(), lambda: growth_ids.append(researcher.upload_one_patch(recording))
            )
            researcher.wait_processed(growth_ids[0])
            timings: dict[str, list[float]] = {"put": [], "tus": [], "tuspy": []}
            for _ in range(args.runs):
                put_s, _ = timed(lambda: put_file(plain.base_url, recording))
                tus_s, tus_id = timed(lambda: researcher.upload_one_patch(recording))
                researcher.wait_processed(tus_id)
                tuspy_s, tuspy_id = timed(lambda: researcher.upload_chunked(recording))
                researcher.wait_processed(tuspy_id)
                for name, value in (("put", put_s), ("tus", tus_s), ("tuspy", tuspy_s)):
                    timings[name].append(value)
        shutil.rmtree(data_dir, ignore_errors=True)
    table = render(size, args.runs, growth, timings)
    print(table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table, encoding="utf-8")
    return 0


def render(size: int, runs: int, growth: int, timings: dict[str, list[float]]) -> str:
    """Format the measurements as a Markdown table."""
    rate = {name: size / MB / statistics.median(values) for name, values in timings.items()}
    ratio, chunked = rate["tus"] / rate["put"], rate["tuspy"] / rate["put"]
    memory_verdict = "met" if growth < MEMORY_TARGET else "MISSED"
    ratio_verdict = "met" if ratio >= RATIO_TARGET else "MISSED"
    mb = size / MB
    lines = [
        "# Resumable uploads on loopback",
        "",
        f"One {mb:.0f} MB WAV recording; median of {runs} runs; {os.cpu_count()} CPUs "
        f"(load average {os.getloadavg()[0]:.1f} at the end), Python "
        f"{platform.python_version()}, SQLite and the local blob store. tus times run from "
        "creation to the answer naming the stored evidence (hashing and storing included).",
        "",
        "| measurement | value | target | verdict |",
        "| --- | ---: | --- | --- |",
        f"| web worker peak RSS growth, {mb:.0f} MB through one PATCH | "
        f"{growth / MIB:.1f} MiB | < 64 MiB | {memory_verdict} |",
        f"| plain streaming PUT (same gunicorn config, 1 MiB writes, fsync) | "
        f"{rate['put']:.1f} MB/s | baseline | |",
        f"| tus, one PATCH | {rate['tus']:.1f} MB/s (ratio {ratio:.2f}) | ratio >= 0.7 | "
        f"{ratio_verdict} |",
        f"| tus, tuspy in 8 MiB chunks | {rate['tuspy']:.1f} MB/s (ratio {chunked:.2f}) | "
        "(for reference) | |",
        "",
        "Seconds per run: "
        + "; ".join(
            f"{name} " + ", ".join(f"{value:.2f}" for value in values)
            for name, values in timings.items()
        )
        + ".",
        "",
        "Where the time goes: a tus upload writes each byte once, to the spool file, "
        "hashing it as it arrives; when complete the spool file is published into the blob "
        "store by a hard link (no second copy). Beyond the PUT it pays for sha256, the "
        "evidence row and the type check; the processing job reads the file once more.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
