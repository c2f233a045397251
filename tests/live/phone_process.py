"""A phone in its own process: it sends one create when released, with its own session.

Kept apart from the test modules so that a spawned process imports only what it needs.
"""

from __future__ import annotations

from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

import requests

TIMEOUT_S = 60.0


def submit_when_released(
    base_url: str,
    token: str,
    path: str,
    body: dict[str, Any],
    start: Barrier,
    results: Queue[tuple[int, dict[str, Any]]],
) -> None:
    """Open a connection, wait for the others, POST ``body`` and report (status, JSON)."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        # connect and authenticate first so that the creates leave at nearly the same moment
        session.get(f"{base_url}/api/v1/me", timeout=TIMEOUT_S).raise_for_status()
        start.wait(timeout=TIMEOUT_S)
        response = session.post(f"{base_url}/api/v1{path}", json=body, timeout=TIMEOUT_S)
        results.put((response.status_code, response.json()))
