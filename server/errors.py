"""One error shape for the whole API: ``{code, status, message, errors}``.

``code`` is a stable machine code the phone app can branch on (``visit.transition_invalid``),
``status`` the HTTP status, ``message`` a sentence for people, ``errors`` the offending
fields. Pages get an HTML error template instead; no stack trace ever leaves the server.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from server.extensions import database_unavailable

log = logging.getLogger(__name__)

# machine codes for plain HTTP errors raised by Flask, Werkzeug and extensions
HTTP_CODES: dict[int, str] = {
    400: "request.bad",
    401: "auth.required",
    403: "auth.forbidden",
    404: "not_found",
    405: "request.method_not_allowed",
    406: "request.not_acceptable",
    409: "conflict",
    410: "gone",
    412: "request.precondition_failed",
    413: "request.too_large",
    415: "request.unsupported_media_type",
    422: "validation.failed",
    428: "request.precondition_required",
    429: "rate_limited",
    500: "server.error",
    503: "server.unavailable",
}


class AppError(Exception):
    """An error a client can act on, carried to the one error handler."""

    status = 400
    code = "request.bad"
    message = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.errors = errors or {}
        self.headers = headers or {}


class NotFound(AppError):
    status, code, message = 404, "not_found", "Not found."


class Unauthorized(AppError):
    status, code, message = 401, "auth.required", "Authentication required."


class Forbidden(AppError):
    status, code, message = 403, "auth.forbidden", "You may not do this."


class Conflict(AppError):
    status, code, message = 409, "conflict", "The request conflicts with the current state."


class ValidationFailed(AppError):
    status, code, message = 422, "validation.failed", "Some fields are not valid."


def field_error(field: str, message: str, code: str = "validation.failed") -> ValidationFailed:
    """Build a 422 naming one offending field."""
    return ValidationFailed(message, code=code, errors={field: [message]})


def error_payload(
    status: int, code: str, message: str, errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Return the error body shared by every API error."""
    return {"code": code, "status": status, "message": message, "errors": _named(errors or {})}


def _named(errors: Any) -> Any:
    """Give every offending field a string name (a nameless form part arrives as None)."""
    if isinstance(errors, dict):
        return {str(name): _named(value) for name, value in errors.items()}
    return errors


def flatten_validation_errors(messages: dict[str, Any]) -> dict[str, Any]:
    """Drop webargs' location level so clients see ``{field: [messages]}``."""
    flat: dict[str, Any] = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


def wants_json() -> bool:
    """Tell whether this request should get a JSON error (API) or a page."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _respond(
    status: int,
    code: str,
    message: str,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response | tuple[Any, int, dict[str, str]]:
    if wants_json():
        response = jsonify(error_payload(status, code, message, errors))
        response.status_code = status
        response.headers.update(headers or {})
        return response
    html = render_template("errors/error.html", status=status, code=code, message=message)
    return html, status, headers or {}


def handle_app_error(error: AppError) -> Any:
    """Answer an ``AppError`` in the shared shape."""
    return _respond(error.status, error.code, error.message, error.errors, error.headers)


def handle_http_exception(error: HTTPException) -> Any:
    """Answer Werkzeug and flask-smorest HTTP errors in the shared shape."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages") or {}
    if status == 422 and errors:
        errors = flatten_validation_errors(errors)
    code = data.get("code") or HTTP_CODES.get(status, f"http.{status}")
    message = data.get("message") or error.description or error.name
    headers = dict(data.get("headers") or {})
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    if status >= 500:
        message = "The server could not complete the request."
    return _respond(status, code, message, errors, headers)


def handle_csrf_error(error: CSRFError) -> Any:
    """Refuse a form or session-authenticated call without a valid CSRF token."""
    return _respond(400, "csrf.invalid", error.description or "The CSRF token is missing.")


def handle_database_error(error: sa.exc.DBAPIError) -> Any:
    """Answer 503 while the database is away (restarting, failing over), else 500.

    Nothing was written: the transaction did not commit. The client sends the same
    request again after ``Retry-After``; its client UUID makes that safe.
    """
    if not database_unavailable(error):
        return handle_unexpected(error)
    log.warning("database unavailable on %s %s: %s", request.method, request.path, error.orig)
    return _respond(
        503,
        "server.database_unavailable",
        "The database is not answering; try again shortly.",
        headers={"Retry-After": "5"},
    )


def handle_unexpected(error: Exception) -> Any:
    """Log an unexpected error and answer 500 without any detail."""
    log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)
    return _respond(500, "server.error", "The server could not complete the request.")


def register_error_handlers(app: Flask) -> None:
    """Install the handlers; flask-smorest's own handler is replaced by ours."""
    app.register_error_handler(AppError, handle_app_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(sa.exc.DBAPIError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)
