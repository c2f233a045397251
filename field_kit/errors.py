"""Errors from the Fieldbook server, mapped from its one error shape.

Every API error arrives as ``{code, status, message, errors}``; ``code`` is a stable machine
string (``idempotency.conflict``, ``validation.failed``) that callers branch on. The
subclasses group statuses by what a caller can do about them: sign in again, fix the
request, or wait and retry.
"""

from __future__ import annotations

import json
from typing import Any

import requests


class FieldbookError(Exception):
    """An error answered by (or on the way to) the Fieldbook server."""

    retryable = False

    def __init__(
        self, code: str, status: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.errors: dict[str, Any] = errors or {}

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status else "no answer"
        return f"{self.message} ({self.code}, {where})"

    def field_messages(self) -> list[str]:
        """Return the offending fields as ``field: message`` lines."""
        lines = []
        for field, messages in sorted(self.errors.items()):
            text = "; ".join(str(m) for m in messages) if isinstance(messages, list) else messages
            lines.append(f"{field}: {text}")
        return lines


class AuthError(FieldbookError):
    """The token is missing, wrong, expired or revoked (401)."""


class ForbiddenError(AuthError):
    """Signed in, but not allowed to do this (403)."""


class NotFoundError(FieldbookError):
    """The thing does not exist or is not visible to you (404, 410)."""


class ConflictError(FieldbookError):
    """The request conflicts with what the server has (409), e.g. a reused client UUID."""


class ValidationError(FieldbookError):
    """The request was refused as it stands (400, 413, 415, 422): fix it, do not retry."""


class ServerError(FieldbookError):
    """The server failed or is overloaded (5xx, 429); the same request may succeed later."""

    retryable = True


class UnavailableError(ServerError):
    """The server could not be reached at all, or said it is unavailable (503)."""


class ChecksumMismatchError(ValidationError):
    """The server holds other bytes than the file that was sent (sha256 differs)."""


_BY_STATUS: dict[int, type[FieldbookError]] = {
    400: ValidationError,
    401: AuthError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    410: NotFoundError,
    413: ValidationError,
    415: ValidationError,
    422: ValidationError,
    429: ServerError,
    503: UnavailableError,
}


def error_class(status: int) -> type[FieldbookError]:
    """Return the error class for an HTTP status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return FieldbookError


def error_from_body(status: int, body: bytes | str | None, reason: str = "") -> FieldbookError:
    """Build the error for a status and a response body in the error shape (or not)."""
    payload: Any = None
    if body:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
    if isinstance(payload, dict) and isinstance(payload.get("code"), str):
        errors = payload.get("errors")
        return error_class(status)(
            payload["code"],
            status,
            str(payload.get("message") or reason or payload["code"]),
            errors if isinstance(errors, dict) else {},
        )
    # not the server's error shape: a proxy page or an unexpected answer
    return error_class(status)(f"http.{status}", status, reason or f"HTTP {status}", {})


def error_from_response(response: requests.Response) -> FieldbookError:
    """Build the error for a failed response."""
    return error_from_body(response.status_code, response.content, response.reason or "")


def unreachable(base_url: str, cause: Exception) -> UnavailableError:
    """Build the error for a server that could not be reached."""
    return UnavailableError(
        "network.unreachable", 0, f"Could not reach {base_url}: {type(cause).__name__}", {}
    )
