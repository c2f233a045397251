"""Logging: plain text by default, one JSON object per line with ``LOG_FORMAT=json``.

Every request gets an id: the caller's ``X-Request-Id`` when it is a sensible token,
otherwise a generated one. It is echoed in the response's ``X-Request-Id`` header and
carried by every log line written while the request runs. In JSON mode each request
also ends with one ``fieldbook.request`` line: method, path, status, duration and the
signed-in user's id when known.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-Id"
# ids we accept from callers: short, printable, nothing that could forge a log line
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_FIELDS = ("request_id", "method", "path", "status", "duration_ms", "user_id")
request_log = logging.getLogger("fieldbook.request")


def _user_id() -> str | None:
    user = g.get("user")
    user_id = getattr(user, "id", None)
    return str(user_id) if user_id is not None else None


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as JSON: time (UTC), level, logger, message and context."""
        stamp = datetime.fromtimestamp(record.created, UTC)
        entry: dict[str, Any] = {
            "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if has_request_context():
            entry.setdefault("request_id", g.get("request_id"))
            entry.setdefault("method", request.method)
            entry.setdefault("path", request.path)
            user_id = _user_id()
            if user_id is not None:
                entry.setdefault("user_id", user_id)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _JsonHandler(logging.StreamHandler):
    """The handler ``configure_logging`` installs; marked so it is never installed twice."""


def _install_root_handler(json_format: bool, level: str) -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _JsonHandler)]:
        root.removeHandler(handler)
    if json_format:
        # one line per record: the plain handler ``basicConfig`` may have added goes
        for plain in [h for h in root.handlers if type(h) is logging.StreamHandler]:
            root.removeHandler(plain)
        handler = _JsonHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.setLevel(level)
    else:
        logging.basicConfig(level=level)


def start_request() -> None:
    """Take the caller's request id or make one, and note when the request started."""
    supplied = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def finish_request(response: Response) -> Response:
    """Echo the request id; in JSON mode, log the request with its status and duration."""
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    if g.get("log_requests"):
        started = g.get("request_started", time.perf_counter())
        request_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": _user_id(),
            },
        )
    return response


def configure_logging(app: Flask) -> None:
    """Set up logging from ``LOG_FORMAT`` (``text`` or ``json``) and ``LOG_LEVEL``."""
    json_format = str(app.config.get("LOG_FORMAT") or "text").lower() == "json"
    _install_root_handler(json_format, str(app.config.get("LOG_LEVEL") or "INFO").upper())

    def mark() -> None:
        start_request()
        g.log_requests = json_format

    # registered first, so it runs before the other hooks and its response hook runs last
    app.before_request(mark)
    app.after_request(finish_request)
