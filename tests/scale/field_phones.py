"""Phones that keep working through faults: every create is sent until it is acknowledged.

This is how the field kit behaves on a bad day: each visit and each item has its client
UUID from the moment it is captured, and the outbox sends the same request again after a
dropped connection, a 5xx or a 429 until the server answers 201 or 200. Only then is the
item counted as acknowledged; the checks afterwards look for exactly those.

A phone stops between visits: told to stop, it finishes sending the visit it is on, so
that every capture it started is acknowledged before the check.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from bench import load_bench
from tests.live.api_client import visit_body

RETRYABLE = frozenset({0, 429, 500, 502, 503, 504})
TIMEOUT_S = 20.0


@dataclass
class Route:
    """Where the phones send their requests; a test points it at a fault proxy and back."""

    base_url: str


@dataclass
class Outcomes:
    """What the phones met on the way: attempts per answer, refusals that were not faults."""

    answers: Counter[int] = field(default_factory=Counter)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, status: int) -> None:
        """Count one answer (0 for no answer at all)."""
        with self.lock:
            self.answers[status] += 1


class Phone(threading.Thread):
    """One researcher's phone: visits with a photo, a note and a recording, sent until kept."""

    def __init__(
        self,
        scenario: load_bench.Scenario,
        route: Route,
        token: str,
        outcomes: Outcomes,
        seed: int,
        deadline_s: float = 240.0,
    ) -> None:
        super().__init__(name=f"phone-{seed}", daemon=True)
        self.scenario, self.route, self.outcomes = scenario, route, outcomes
        self.rng = random.Random(seed)
        self.deadline_s = deadline_s
        self.stopping = threading.Event()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.visits_done = 0

    def run(self) -> None:
        """Capture and send visits until told to stop, finishing the one under way."""
        try:
            while not self.stopping.is_set():
                self._one_visit()
                self.visits_done += 1
        finally:
            self.session.close()

    def _send(self, what: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Send one request until it is acknowledged with 201 or 200; return its body."""
        give_up = time.monotonic() + self.deadline_s
        pause = 0.1
        while True:
            try:
                response = self.session.request(
                    method, f"{self.route.base_url}/api/v1{path}", timeout=TIMEOUT_S, **kwargs
                )
                status = response.status_code
            except requests.RequestException:
                status = 0
            self.outcomes.note(status)
            if status in (200, 201):
                body: dict[str, Any] = response.json()
                return body
            if status not in RETRYABLE:
                message = f"{what}: {status} {response.text[:300]}"
                with self.outcomes.lock:
                    self.outcomes.refused.append(message)
                raise AssertionError(message)
            if time.monotonic() > give_up:
                raise AssertionError(f"{what}: not acknowledged in {self.deadline_s:.0f} s")
            time.sleep(pause)
            pause = min(2.0, pause * 2)

    def _one_visit(self) -> None:
        scenario, rng = self.scenario, self.rng
        client_uuid = str(uuid.uuid4())
        body = visit_body(uuid.UUID(client_uuid), title=f"Visit {rng.choice(load_bench.WORDS)}")
        visit = self._send("visit", "POST", f"/studies/{scenario.study_id}/visits", json=body)
        visit_id = str(visit["id"])
        with scenario.lock:
            scenario.visits[client_uuid] = visit_id
        photo = load_bench.jpeg_bytes(rng)
        self._send_file(visit_id, "photo", photo, "shelf.jpg", "image/jpeg")
        text = " ".join(rng.choice(load_bench.WORDS) for _ in range(20)) + f" {uuid.uuid4()}"
        note_uuid = str(uuid.uuid4())
        note = self._send(
            "note",
            "POST",
            f"/visits/{visit_id}/notes",
            json={"client_uuid": note_uuid, "text": text},
        )
        self._acked(visit_id, note_uuid, note, hashlib.sha256(text.encode()).hexdigest(), "note")
        sound = load_bench.wav_bytes(rng, seconds=0.5)
        self._send_file(visit_id, "audio", sound, "call.wav", "audio/wav")

    def _send_file(self, visit_id: str, kind: str, data: bytes, name: str, mime: str) -> None:
        client_uuid = str(uuid.uuid4())
        sha = hashlib.sha256(data).hexdigest()
        form = {"kind": kind, "client_uuid": client_uuid, "sha256": sha, "device": "Pixel 8"}
        record = self._send(
            kind,
            "POST",
            f"/visits/{visit_id}/evidence",
            data=form,
            files={"file": (name, data, mime)},
        )
        self._acked(visit_id, client_uuid, record, sha, kind)

    def _acked(
        self, visit_id: str, client_uuid: str, record: dict[str, Any], sha: str, kind: str
    ) -> None:
        acked = load_bench.Acked(visit_id, client_uuid, str(record["id"]), sha, kind)
        with self.scenario.lock:
            self.scenario.items.append(acked)


class Fleet:
    """Several phones started together and stopped together."""

    def __init__(
        self, scenario: load_bench.Scenario, route: Route, tokens: list[str], seed: int
    ) -> None:
        self.outcomes = Outcomes()
        self.phones = [
            Phone(scenario, route, token, self.outcomes, seed * 100 + n)
            for n, token in enumerate(tokens)
        ]

    def __enter__(self) -> Fleet:
        for phone in self.phones:
            phone.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for_visits(self, count: int, timeout: float = 60.0) -> None:
        """Wait until the phones together have sent ``count`` whole visits."""
        deadline = time.monotonic() + timeout
        while sum(p.visits_done for p in self.phones) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} visits sent in {timeout:.0f} s")
            if not any(p.is_alive() for p in self.phones):
                raise AssertionError(f"every phone stopped: {self.outcomes.refused}")
            time.sleep(0.1)

    def stop(self, timeout: float = 300.0) -> None:
        """Let each phone finish the visit it is on, then wait for all of them."""
        for phone in self.phones:
            phone.stopping.set()
        for phone in self.phones:
            phone.join(timeout)
        stuck = [p.name for p in self.phones if p.is_alive()]
        if stuck:
            raise AssertionError(f"phones still sending after {timeout:.0f} s: {stuck}")
