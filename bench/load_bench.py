"""Mixed load on a live Fieldbook, and proof that nothing acknowledged is lost or doubled.

Run from the repository root::

    python -m bench.load_bench --profile embedded|scale|both --seconds 60 --phones 6 --reviewers 3

Each profile is started for real with ``bench.scale_stack`` (scale: PostgreSQL, moto S3,
Redis, gunicorn with 2 web workers x 8 threads, 2 job workers; embedded: SQLite, local
folder, job threads in one gunicorn worker x 8 threads). Phones (one researcher each)
create visits with client UUIDs and send two photos (generated JPEGs, multipart), a note
and a short recording (generated WAV), re-send every fifth item as a retry would, and
submit the visit. Reviewers list visits, list a visit's evidence, open an item's
metadata and its original, and search the study. Then ``GET /healthz`` is hammered by
the same number of threads: each request type is reported as a ratio to it.

Zero loss: every item acknowledged with 201/200 is recorded client-side (id, sha256 of
the bytes sent); afterwards every acknowledged visit and item must be listed by the API
with the same id and sha256, and no client UUID may appear twice. The report goes to
``bench/results/load.md``. Transcription is off (no Whisper model on a bench machine);
the job workers still process every photo and recording until it is ``ready``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import os
import platform
import random
import secrets
import struct
import threading
import time
import uuid
import wave
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from PIL import Image

from bench import scale_stack
from tests.live.api_client import ApiClient, visit_body

RESULTS = Path(__file__).resolve().parent / "results" / "load.md"
TIMEOUT_S = 60.0
READY_WAIT_S = 180.0
WORDS = ["receipt", "queue", "kettle", "refund", "manager", "greeting", "waiting", "return"]
BENCH_ENV = {
    # many devices sign in from one address within a minute
    "FIELDBOOK_LOGIN_RATE_LIMIT": "10000 per minute",
    "FIELDBOOK_AUTO_TRANSCRIBE": "false",
}


def jpeg_bytes(rng: random.Random, width: int = 320, height: int = 240) -> bytes:
    """Return a unique photo-like JPEG: a smooth random colour field."""
    small = Image.frombytes(
        "RGB", (width // 8, height // 8), rng.randbytes(width * height * 3 // 64)
    )
    image = small.resize((width, height), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def wav_bytes(rng: random.Random, seconds: float = 1.0, rate: int = 16_000) -> bytes:
    """Return a unique short mono 16-bit WAV: a tone with a little noise."""
    tone = rng.uniform(200, 900)
    samples = (
        int(8000 * math.sin(2 * math.pi * tone * i / rate)) + rng.randrange(-300, 300)
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return out.getvalue()


@dataclass
class Acked:
    """An item the server acknowledged, as the phone recorded it."""

    visit_id: str
    client_uuid: str
    item_id: str
    sha256: str
    kind: str


@dataclass
class Tally:
    """Latencies and outcomes per request type, shared by the client threads."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(
        self, kind: str, call: Callable[[], requests.Response], ok: tuple[int, ...] = (200,)
    ) -> requests.Response | None:
        """Run one request, note its latency and whether its status was expected."""
        started = time.perf_counter()
        try:
            response: requests.Response | None = call()
        except requests.RequestException:
            response = None
        elapsed = (time.perf_counter() - started) * 1000
        status = response.status_code if response is not None else 0
        with self.lock:
            self.latencies[kind].append(elapsed)
            self.statuses[(kind, status)] += 1
            if status not in ok:
                self.errors[kind] += 1
        return response if status in ok else None


@dataclass
class Scenario:
    """The shared state of one run: clients, the study, what was acknowledged."""

    base_url: str
    study_id: str
    admin: ApiClient
    tally: Tally = field(default_factory=Tally)
    visits: dict[str, str] = field(default_factory=dict)  # client uuid -> visit id
    items: list[Acked] = field(default_factory=list)
    retries_same: int = 0
    retries_other: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _send_file(
    scenario: Scenario, phone: ApiClient, visit_id: str, kind: str, data: bytes, name: str
) -> None:
    client_uuid = str(uuid.uuid4())
    sha = hashlib.sha256(data).hexdigest()
    mime = "image/jpeg" if kind == "photo" else "audio/wav"
    form = {"kind": kind, "client_uuid": client_uuid, "sha256": sha, "device": "Pixel 8"}
    path = f"/visits/{visit_id}/evidence"

    def post() -> requests.Response:
        return phone.post(path, data=form, files={"file": (name, data, mime)})

    response = scenario.tally.timed(f"upload_{kind}", post, ok=(201,))
    if response is None:
        return
    body = response.json()
    acked = Acked(visit_id, client_uuid, body["id"], sha, kind)
    with scenario.lock:
        scenario.items.append(acked)
    if random.random() < 0.2:
        again = scenario.tally.timed("retry_same_item", post, ok=(200,))
        with scenario.lock:
            if again is not None and again.json()["id"] == acked.item_id:
                scenario.retries_same += 1
            else:
                scenario.retries_other += 1


def _send_note(scenario: Scenario, phone: ApiClient, visit_id: str, rng: random.Random) -> None:
    client_uuid = str(uuid.uuid4())
    text = " ".join(rng.choice(WORDS) for _ in range(30)) + f"\n\n{uuid.uuid4().hex}"
    body = {"client_uuid": client_uuid, "text": text}
    response = scenario.tally.timed(
        "create_note", lambda: phone.post(f"/visits/{visit_id}/notes", json=body), ok=(201,)
    )
    if response is not None:
        # a note is kept exactly as written: its sha256 is that of the UTF-8 text sent
        sha = hashlib.sha256(text.encode()).hexdigest()
        with scenario.lock:
            scenario.items.append(Acked(visit_id, client_uuid, response.json()["id"], sha, "note"))


def submit_one_visit(scenario: Scenario, phone: ApiClient, rng: random.Random) -> None:
    """Create a visit, send two photos, a note and a recording, and submit it."""
    client_uuid = str(uuid.uuid4())
    body = visit_body(uuid.UUID(client_uuid), title=f"Visit {rng.choice(WORDS)}")
    path = f"/studies/{scenario.study_id}/visits"
    response = scenario.tally.timed("create_visit", lambda: phone.post(path, json=body), ok=(201,))
    if response is None:
        return
    visit_id = str(response.json()["id"])
    with scenario.lock:
        scenario.visits[client_uuid] = visit_id
    for number in range(2):
        _send_file(scenario, phone, visit_id, "photo", jpeg_bytes(rng), f"p{number}.jpg")
    _send_note(scenario, phone, visit_id, rng)
    _send_file(scenario, phone, visit_id, "audio", wav_bytes(rng), "call.wav")
    scenario.tally.timed(
        "submit_visit",
        lambda: phone.post(f"/visits/{visit_id}/transitions", json={"to": "submitted"}),
    )


def phone_loop(scenario: Scenario, phone: ApiClient, seed: int, stop: threading.Event) -> None:
    """Submit visits with their evidence until told to stop."""
    rng = random.Random(seed)
    while not stop.is_set():
        submit_one_visit(scenario, phone, rng)


def reviewer_loop(
    scenario: Scenario, reviewer: ApiClient, seed: int, stop: threading.Event
) -> None:
    """List visits, open evidence and search until told to stop."""
    rng = random.Random(seed)
    tally = scenario.tally
    while not stop.is_set():
        response = tally.timed(
            "list_visits",
            lambda: reviewer.get(f"/studies/{scenario.study_id}/visits", params={"page_size": 20}),
        )
        visits = response.json() if response is not None else []
        if visits:
            visit_id = rng.choice(visits)["id"]
            listed = tally.timed(
                "list_evidence", lambda v=visit_id: reviewer.get(f"/visits/{v}/evidence")
            )
            items = listed.json() if listed is not None else []
            if items:
                item_id = rng.choice(items)["id"]
                tally.timed("open_evidence", lambda i=item_id: reviewer.get(f"/evidence/{i}"))
                tally.timed(
                    "download_original",
                    lambda i=item_id: reviewer.get(f"/evidence/{i}/original"),
                )
        word = rng.choice(WORDS)
        tally.timed(
            "search",
            lambda w=word: reviewer.get(f"/studies/{scenario.study_id}/search", params={"q": w}),
        )


def health_loop(base_url: str, tally: Tally, stop: threading.Event) -> None:
    """Hammer ``GET /healthz`` on one keep-alive connection."""
    with requests.Session() as session:
        while not stop.is_set():
            tally.timed("healthz", lambda: session.get(f"{base_url}/healthz", timeout=TIMEOUT_S))


def _run_threads(targets: list[Callable[[threading.Event], None]], seconds: float) -> float:
    stop = threading.Event()
    threads = [threading.Thread(target=t, args=(stop,), daemon=True) for t in targets]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=TIMEOUT_S * 2)
    return time.perf_counter() - started


def _all_pages(client: ApiClient, path: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    page = 1
    while True:
        response = client.get(path, params={"page": page, "page_size": 100})
        response.raise_for_status()
        batch = response.json()
        records.extend(batch)
        if len(batch) < 100:
            return records
        page += 1


@dataclass
class LossReport:
    """What the after-run check found."""

    visits_acked: int
    visits_found: int
    visits_doubled: int
    items_acked: int
    items_found_same_sha: int
    items_missing: list[str]
    items_wrong_sha: list[str]
    items_doubled: int
    statuses: Counter[str]
    ready_wait_s: float

    @property
    def zero_loss(self) -> bool:
        """Tell whether everything acknowledged is there, once, with its sha256."""
        return (
            self.visits_found == self.visits_acked
            and not self.visits_doubled
            and self.items_found_same_sha == self.items_acked
            and not self.items_missing
            and not self.items_wrong_sha
            and not self.items_doubled
        )


def check_zero_loss(scenario: Scenario, wait_ready_s: float = READY_WAIT_S) -> LossReport:
    """List every acknowledged visit and item through the API and compare."""
    admin = scenario.admin
    listed = _all_pages(admin, f"/studies/{scenario.study_id}/visits")
    by_uuid = Counter(v["client_uuid"] for v in listed)
    found = sum(1 for u, vid in scenario.visits.items() if by_uuid[u] == 1 and vid)
    doubled = sum(1 for count in by_uuid.values() if count > 1)
    acked_by_visit: dict[str, list[Acked]] = defaultdict(list)
    for item in scenario.items:
        acked_by_visit[item.visit_id].append(item)
    deadline = time.monotonic() + wait_ready_s
    started = time.monotonic()
    while True:
        listings = {vid: _all_pages(admin, f"/visits/{vid}/evidence") for vid in acked_by_visit}
        statuses = Counter(e["status"] for es in listings.values() for e in es)
        pending = statuses["receiving"] + statuses["stored"] + statuses["processing"]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1)
    missing, wrong, same, items_doubled = [], [], 0, 0
    for vid, acked in acked_by_visit.items():
        listing = listings[vid]
        per_uuid = Counter(e["client_uuid"] for e in listing)
        items_doubled += sum(1 for count in per_uuid.values() if count > 1)
        by_client = {e["client_uuid"]: e for e in listing}
        for item in acked:
            record = by_client.get(item.client_uuid)
            if record is None or record["id"] != item.item_id:
                missing.append(item.client_uuid)
            elif record["sha256"] != item.sha256:
                wrong.append(item.client_uuid)
            else:
                same += 1
    return LossReport(
        visits_acked=len(scenario.visits),
        visits_found=found,
        visits_doubled=doubled,
        items_acked=len(scenario.items),
        items_found_same_sha=same,
        items_missing=missing,
        items_wrong_sha=wrong,
        items_doubled=items_doubled,
        statuses=statuses,
        ready_wait_s=time.monotonic() - started,
    )


def prepare(
    base_url: str, password: str, phones: int, reviewers: int
) -> tuple[Scenario, list, list]:
    """Sign in the admin, make a study, researchers and reviewers, and sign them in."""
    admin = ApiClient.sign_in(base_url, scale_stack.ADMIN_EMAIL, password)
    study_id = admin.create_study("Kettle returns under load")
    scenario = Scenario(base_url, study_id, admin)
    secret = secrets.token_urlsafe(16)

    def member(role: str, number: int) -> ApiClient:
        email = f"{role}{number}-{uuid.uuid4().hex[:6]}@fieldbook.local"
        admin.add_member(study_id, admin.create_user(email, secret), role)
        return ApiClient.sign_in(base_url, email, secret)

    return (
        scenario,
        [member("researcher", n) for n in range(phones)],
        [member("reviewer", n) for n in range(reviewers)],
    )


@dataclass
class ProfileResult:
    """Everything measured on one profile."""

    profile: str
    seconds: float
    health_seconds: float
    tally: Tally
    health: Tally
    loss: LossReport
    retries_same: int
    retries_other: int


def run_profile(profile: str, seconds: float, phones: int, reviewers: int) -> ProfileResult:
    """Start the profile's stack, run the scenario and the yardstick, check, stop."""
    stack = scale_stack.start(profile, extra_env=BENCH_ENV)
    try:
        scenario, phone_clients, reviewer_clients = prepare(
            stack.base_url, stack.password, phones, reviewers
        )
        targets: list[Callable[[threading.Event], None]] = []
        for n, phone in enumerate(phone_clients):
            targets.append(lambda s, p=phone, n=n: phone_loop(scenario, p, n, s))
        for n, reviewer in enumerate(reviewer_clients):
            targets.append(lambda s, r=reviewer, n=n: reviewer_loop(scenario, r, 1000 + n, s))
        elapsed = _run_threads(targets, seconds)
        loss = check_zero_loss(scenario)
        health = Tally()
        health_seconds = max(10.0, seconds / 3)
        health_elapsed = _run_threads(
            [lambda s: health_loop(stack.base_url, health, s)] * (phones + reviewers),
            health_seconds,
        )
        for client in (scenario.admin, *phone_clients, *reviewer_clients):
            client.session.close()
        return ProfileResult(
            profile,
            elapsed,
            health_elapsed,
            scenario.tally,
            health,
            loss,
            scenario.retries_same,
            scenario.retries_other,
        )
    finally:
        stack.stop()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def render(
    results: list[ProfileResult], profile: str, seconds: float, phones: int, reviewers: int
) -> str:
    """Return the Markdown report."""
    lines = [
        "# Mixed load: phones and reviewers, both profiles",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; client and every server process on the same machine.",
        f"Concurrency: {phones} phones + {reviewers} reviewers (one thread each, keep-alive); "
        f"the yardstick `GET /healthz` is hammered by {phones + reviewers} threads.",
        f"Command: `python -m bench.load_bench --profile {profile} "
        f"--seconds {seconds:g} --phones {phones} --reviewers {reviewers}`",
        "",
        "Read the ratios, not the absolute figures: the load client, PostgreSQL, Redis, "
        "moto (a Python S3 stand-in, much slower than a real store) and every Fieldbook "
        "process share the same cores, so the scale profile pays for its extra processes "
        "here instead of spreading them over machines.",
        "",
    ]
    for result in results:
        health = result.health.latencies["healthz"]
        h50, h95 = _pct(health, 0.5), _pct(health, 0.95)
        health_rps = len(health) / result.health_seconds
        total = sum(len(v) for v in result.tally.latencies.values())
        lines += [
            f"## {result.profile} profile ({result.seconds:.0f} s)",
            "",
            f"`GET /healthz`: {health_rps:.0f} req/s, p50 {h50:.1f} ms, p95 {h95:.1f} ms, "
            f"errors {result.health.errors['healthz']}.",
            f"Scenario: {total} requests, {total / result.seconds:.1f} req/s "
            f"({total / result.seconds / health_rps:.3f} x healthz throughput).",
            "",
            "| request | count | errors | req/s | p50 ms | p95 ms | p99 ms "
            "| p50 / healthz p50 | p95 / healthz p95 |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for kind in sorted(result.tally.latencies):
            values = result.tally.latencies[kind]
            p50, p95, p99 = _pct(values, 0.5), _pct(values, 0.95), _pct(values, 0.99)
            lines.append(
                f"| {kind} | {len(values)} | {result.tally.errors[kind]} "
                f"| {len(values) / result.seconds:.1f} | {p50:.1f} | {p95:.1f} | {p99:.1f} "
                f"| {p50 / h50:.1f} | {p95 / h95:.1f} |"
            )
        loss = result.loss
        odd = sorted((k, s) for (k, s), _ in result.tally.statuses.items() if s >= 400 or s == 0)
        lines += [
            "",
            f"Zero loss: **{'yes' if loss.zero_loss else 'NO'}**: visits acknowledged "
            f"{loss.visits_acked}, listed once {loss.visits_found}, doubled "
            f"{loss.visits_doubled}; items acknowledged {loss.items_acked}, listed with the "
            f"same id and sha256 {loss.items_found_same_sha}, missing "
            f"{len(loss.items_missing)}, wrong sha256 {len(loss.items_wrong_sha)}, client "
            f"UUIDs listed twice {loss.items_doubled}. Retries of an acknowledged item "
            f"answered 200 with the same id: {result.retries_same} "
            f"(other answers {result.retries_other}).",
            f"Processing after the run: {dict(loss.statuses)} "
            f"(waited {loss.ready_wait_s:.0f} s for workers).",
            f"Unexpected statuses: {odd or 'none'}.",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["embedded", "scale", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--phones", type=int, default=6)
    parser.add_argument("--reviewers", type=int, default=3)
    args = parser.parse_args(argv)
    profiles = ["embedded", "scale"] if args.profile == "both" else [args.profile]
    results = [run_profile(p, args.seconds, args.phones, args.reviewers) for p in profiles]
    report = render(results, args.profile, args.seconds, args.phones, args.reviewers)
    RESULTS.write_text(report)
    print(report)
    return 0 if all(r.loss.zero_loss for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
