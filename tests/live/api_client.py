"""Talking to a live Fieldbook over HTTP with ``requests``, as the phone app and tools do."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import requests

TIMEOUT_S = 30.0


def request_token(
    base_url: str, email: str, password: str, device_name: str = "live test"
) -> requests.Response:
    """Ask for a device token; return the raw response."""
    return requests.post(
        f"{base_url}/api/v1/tokens",
        json={"email": email, "password": password, "device_name": device_name},
        timeout=TIMEOUT_S,
    )


def visit_body(client_uuid: uuid.UUID | None = None, **fields: Any) -> dict[str, Any]:
    """Return the body of a visit create as a phone sends it."""
    body: dict[str, Any] = {
        "client_uuid": str(client_uuid or uuid.uuid4()),
        "channel": "in_person",
        "title": "Returned a faulty kettle at the high-street store",
        "summary": "Queue of four; the clerk asked for the receipt twice.",
        "started_at": "2026-03-02T10:15:00+00:00",
        "ended_at": "2026-03-02T10:42:00+00:00",
        "latitude": 51.5072,
        "longitude": -0.1276,
        "device": "Pixel 8",
        "checklist_answers": {"greeted": True},
    }
    body.update(fields)
    return body


@dataclass
class ApiClient:
    """A signed-in device: its token and a keep-alive session that sends it."""

    base_url: str
    token: str
    session: requests.Session

    @classmethod
    def sign_in(cls, base_url: str, email: str, password: str) -> ApiClient:
        """Get a device token for these credentials; fail loudly if refused."""
        response = request_token(base_url, email, password)
        if response.status_code != 201:
            raise AssertionError(f"sign-in refused: {response.status_code} {response.text}")
        token = str(response.json()["token"])
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        return cls(base_url, token, session)

    def get(self, path: str, *, new_connection: bool = False, **kwargs: Any) -> requests.Response:
        """GET an API path such as ``/me``, on the kept-alive connection or a new one."""
        url = f"{self.base_url}/api/v1{path}"
        if new_connection:
            headers = {"Authorization": f"Bearer {self.token}"}
            return requests.get(url, headers=headers, timeout=TIMEOUT_S, **kwargs)
        return self.session.get(url, timeout=TIMEOUT_S, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """POST to an API path."""
        return self.session.post(f"{self.base_url}/api/v1{path}", timeout=TIMEOUT_S, **kwargs)

    def created(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a create that must succeed with 201 and return the record."""
        response = self.post(path, json=body)
        if response.status_code != 201:
            raise AssertionError(f"POST {path}: {response.status_code} {response.text}")
        record: dict[str, Any] = response.json()
        return record

    def create_user(self, email: str, password: str) -> str:
        """Create a user (admins) and return its id."""
        return str(self.created("/users", {"email": email, "password": password})["id"])

    def create_study(self, name: str) -> str:
        """Create a study (admins) and return its id."""
        body = {"name": name, "company": "Acme Appliances", "channels": ["in_person", "phone"]}
        return str(self.created("/studies", body)["id"])

    def add_member(self, study_id: str, user_id: str, role: str) -> None:
        """Give a user a role in a study (managers)."""
        self.created(f"/studies/{study_id}/members", {"user_id": user_id, "role": role})

    def visits(self, study_id: str, *, new_connection: bool = False) -> list[dict[str, Any]]:
        """List every visit of a study this client may see."""
        response = self.get(
            f"/studies/{study_id}/visits",
            params={"page_size": 100},
            new_connection=new_connection,
        )
        if response.status_code != 200:
            raise AssertionError(f"listing visits: {response.status_code} {response.text}")
        visits: list[dict[str, Any]] = response.json()
        return visits
