"""The Fieldbook API client: typed calls over HTTP, errors by code, retries by rule.

The client speaks to the server only through its REST API (``/api/v1``) and its tus
endpoint. Requests are retried with backoff when the connection fails or the server
answers 5xx or 429, never for other answers; every create carries a client UUID, so a
retry returns the record made the first time instead of a second one.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests

from field_kit.errors import (
    ChecksumMismatchError,
    ConflictError,
    FieldbookError,
    error_from_response,
    unreachable,
)
from field_kit.records import (
    Assignment,
    Evidence,
    Study,
    Target,
    UploadResult,
    User,
    Visit,
    VisitChanges,
    VisitFields,
)
from field_kit.retry import RetryPolicy, retryable_status
from field_kit.uploads import (
    MemoryUrlStore,
    ProgressCallback,
    TusOutcome,
    UploadGoneError,
    UploadSettings,
    UploadUrlStore,
    file_sha256,
    send_resumable,
)

API = "/api/v1"
USER_AGENT = "fieldkit (Fieldbook field kit)"
MAX_PAGE_SIZE = 100
EVIDENCE_KINDS = frozenset({"photo", "audio", "video", "screenshot", "document", "web_step"})


class FieldbookClient:
    """A signed-in (or signing-in) connection to one Fieldbook server."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 30.0,
        *,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    def close(self) -> None:
        """Close the connections this client holds."""
        self.session.close()

    def __enter__(self) -> FieldbookClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        """Return the Authorization header for this client's token."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def url(self, path: str) -> str:
        """Return the absolute URL of an API path such as ``/studies``."""
        return f"{self.base_url}{API}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        form: Callable[[ExitStack], dict[str, Any]] | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        """Send one API request, retrying what a retry can cure; raise ``FieldbookError``.

        ``form`` builds multipart ``data``/``files`` afresh for each attempt (files are
        reopened, so a retried upload sends the whole file again from its start).
        """
        attempt = 0
        while True:
            with ExitStack() as stack:
                kwargs: dict[str, Any] = form(stack) if form else {}
                try:
                    response = self.session.request(
                        method,
                        self.url(path),
                        json=json_body,
                        params=params,
                        headers=self.auth_headers(),
                        timeout=timeout or self.timeout,
                        **kwargs,
                    )
                except (requests.ConnectionError, requests.Timeout) as error:
                    if attempt >= self.retry.retries:
                        raise unreachable(self.base_url, error) from error
                    self.retry.wait(attempt)
                    attempt += 1
                    continue
            if response.status_code < 400:
                return response
            if retryable_status(response.status_code) and attempt < self.retry.retries:
                self.retry.wait(attempt, response.headers.get("Retry-After"))
                attempt += 1
                continue
            raise error_from_response(response)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    def _pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Yield every item of a paginated list, page by page."""
        page = 1
        while True:
            query = {**(params or {}), "page": page, "page_size": MAX_PAGE_SIZE}
            response = self.request("GET", path, params=query)
            yield from response.json()
            pagination = json.loads(response.headers.get("X-Pagination") or "{}")
            if page >= int(pagination.get("total_pages") or 1):
                return
            page += 1

    # -- accounts ---------------------------------------------------------------------

    def login(self, email: str, password: str, device_name: str) -> str:
        """Sign this device in, keep the new token on the client and return it."""
        data = self._json(
            "POST",
            "/tokens",
            json_body={"email": email, "password": password, "device_name": device_name},
        )
        self.token = str(data["token"])
        return self.token

    def me(self) -> User:
        """Return the signed-in user."""
        return User.from_json(self._json("GET", "/me"))

    # -- planning ---------------------------------------------------------------------

    def studies(self) -> list[Study]:
        """Return the studies you are a member of."""
        return [Study.from_json(item) for item in self._pages("/studies")]

    def assignments(self, study_id: str) -> list[Assignment]:
        """Return your assignments in a study."""
        return [
            Assignment.from_json(item) for item in self._pages(f"/studies/{study_id}/assignments")
        ]

    def assignment(self, assignment_id: str) -> Assignment:
        """Return one assignment."""
        return Assignment.from_json(self._json("GET", f"/assignments/{assignment_id}"))

    def target(self, target_id: str) -> Target:
        """Return one target (store, phone line or website)."""
        return Target.from_json(self._json("GET", f"/targets/{target_id}"))

    # -- visits -----------------------------------------------------------------------

    def create_visit(self, study_id: str, fields: VisitFields) -> Visit:
        """Create a visit; the same ``client_uuid`` and body again returns the same visit."""
        return Visit.from_json(
            self._json("POST", f"/studies/{study_id}/visits", json_body=dict(fields))
        )

    def visit(self, visit_id: str) -> Visit:
        """Return one visit."""
        return Visit.from_json(self._json("GET", f"/visits/{visit_id}"))

    def update_visit(self, visit_id: str, changes: VisitChanges) -> Visit:
        """Change a draft or returned visit."""
        return Visit.from_json(self._json("PATCH", f"/visits/{visit_id}", json_body=dict(changes)))

    def submit_visit(self, visit_id: str) -> Visit:
        """Submit a visit for review; a visit already submitted counts as done."""
        try:
            return Visit.from_json(
                self._json("POST", f"/visits/{visit_id}/transitions", json_body={"to": "submitted"})
            )
        except ConflictError as error:
            # the earlier attempt got through but its answer was lost
            if error.code == "visit.transition_invalid":
                visit = self.visit(visit_id)
                if visit.status == "submitted":
                    return visit
            raise

    def visits(
        self, study_id: str, *, status: str | None = None, channel: str | None = None
    ) -> list[Visit]:
        """Return the visits of a study you may see, optionally filtered."""
        params = {k: v for k, v in {"status": status, "channel": channel}.items() if v}
        return [
            Visit.from_json(item) for item in self._pages(f"/studies/{study_id}/visits", params)
        ]

    # -- evidence ---------------------------------------------------------------------

    def add_note(
        self, visit_id: str, text: str, client_uuid: str, captured_at: str | None = None
    ) -> Evidence:
        """Add a Markdown note to a visit; the same ``client_uuid`` and text is stored once."""
        body: dict[str, Any] = {"client_uuid": client_uuid, "text": text}
        if captured_at:
            body["captured_at"] = captured_at
        return Evidence.from_json(self._json("POST", f"/visits/{visit_id}/notes", json_body=body))

    def evidence(self, evidence_id: str) -> Evidence:
        """Return one evidence item."""
        return Evidence.from_json(self._json("GET", f"/evidence/{evidence_id}"))

    def visit_evidence(self, visit_id: str) -> list[Evidence]:
        """Return the evidence items of a visit."""
        return [Evidence.from_json(item) for item in self._pages(f"/visits/{visit_id}/evidence")]

    def upload_evidence(
        self,
        visit_id: str,
        path: Path | str,
        kind: str,
        client_uuid: str,
        *,
        sha256: str | None = None,
        captured_at: str | None = None,
        latitude: float | None = None,
        longitude: float | None = None,
        accuracy_m: float | None = None,
        device: str | None = None,
        metadata: dict[str, Any] | None = None,
        settings: UploadSettings | None = None,
        progress: ProgressCallback | None = None,
        resume_store: UploadUrlStore | None = None,
    ) -> UploadResult:
        """Send a file as evidence of a visit and return what the server stored.

        Files above ``settings.resumable_above`` bytes go through tus (resumable, with the
        upload URL kept in ``resume_store``); smaller ones in one multipart request. The
        sha256 is computed first (unless given) and checked against the server's answer.
        """
        if kind not in EVIDENCE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(sorted(EVIDENCE_KINDS))}")
        path = Path(path)
        settings = settings or UploadSettings()
        sha256 = sha256 or file_sha256(path)
        size = path.stat().st_size
        described = {
            "client_uuid": client_uuid,
            "kind": kind,
            "sha256": sha256,
            "captured_at": captured_at,
            "latitude": latitude,
            "longitude": longitude,
            "device": device,
        }
        if size > settings.resumable_above:
            result = self._upload_resumable(
                visit_id, path, described, settings, progress, resume_store or MemoryUrlStore()
            )
        else:
            extra = {
                "accuracy_m": accuracy_m,
                "metadata": json.dumps(metadata) if metadata else None,
            }
            result = self._upload_multipart(visit_id, path, {**described, **extra}, progress)
        if result.evidence.sha256 != sha256:
            raise ChecksumMismatchError(
                "evidence.checksum_mismatch",
                200,
                f"The server holds {result.evidence.sha256} for {path.name}, not {sha256}.",
            )
        return result

    def _upload_multipart(
        self,
        visit_id: str,
        path: Path,
        fields: dict[str, Any],
        progress: ProgressCallback | None,
    ) -> UploadResult:
        size = path.stat().st_size
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        data = {name: str(value) for name, value in fields.items() if value is not None}

        def form(stack: ExitStack) -> dict[str, Any]:
            fh = stack.enter_context(path.open("rb"))
            return {"data": data, "files": {"file": (path.name, fh, mime)}}

        if progress:
            progress(0, size)
        # an upload may take longer than a plain call on a slow link
        timeout = max(self.timeout, 120.0)
        response = self.request("POST", f"/visits/{visit_id}/evidence", form=form, timeout=timeout)
        if progress:
            progress(size, size)
        return UploadResult(Evidence.from_json(response.json()), "multipart", size, 0)

    def _upload_resumable(
        self,
        visit_id: str,
        path: Path,
        fields: dict[str, Any],
        settings: UploadSettings,
        progress: ProgressCallback | None,
        store: UploadUrlStore,
    ) -> UploadResult:
        key = str(fields["client_uuid"])
        metadata = {name: str(value) for name, value in fields.items() if value is not None}
        metadata.update({"visit_id": visit_id, "filename": path.name})
        endpoint = self.url("/uploads")
        if store.get_upload_url(key) is not None:
            # an earlier attempt may have finished with its answer lost: look before sending
            finished = self._find_finished(visit_id, key)
            if finished is not None:
                store.clear_upload_url(key)
                size = path.stat().st_size
                return UploadResult(self.evidence(finished), "tus", 0, size)

        def send() -> TusOutcome:
            return send_resumable(
                endpoint, self.auth_headers(), path, metadata, key, store, settings, progress
            )

        try:
            outcome = send()
        except UploadGoneError:
            # the stored upload expired mid-way: one fresh start, same client UUID
            outcome = send()
        evidence_id = outcome.evidence_id or self._find_finished(visit_id, key)
        sent = outcome.bytes_sent
        if evidence_id is None:
            # every byte had arrived before this run, but the answer naming the item was
            # lost: upload again; the same client UUID and sha256 end at the same item
            store.clear_upload_url(key)
            again = send()
            evidence_id, sent = again.evidence_id, sent + again.bytes_sent
        if evidence_id is None:
            raise FieldbookError(
                "upload.no_evidence_id",
                200,
                "The upload finished but the server did not name the stored item.",
            )
        store.clear_upload_url(key)
        return UploadResult(self.evidence(evidence_id), "tus", sent, outcome.resumed_from)

    def _find_finished(self, visit_id: str, client_uuid: str) -> str | None:
        """Return the id of the visit's item with this client UUID, if the list shows it."""
        try:
            items = self.visit_evidence(visit_id)
        except FieldbookError:
            return None
        return next((item.id for item in items if item.client_uuid == client_uuid), None)
