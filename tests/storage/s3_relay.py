"""An HTTP relay between the S3 store and the S3 server that can misbehave on demand.

It records every request, can damage one part on its way to the server and answer the
store with a 500 (so the store must send that part again), and can go dark: every
connection is dropped until it comes back, as when the network to S3 fails.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "expect", "content-length"}
)
_INTERNAL_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message></Error>"
)


@dataclass(frozen=True)
class RelayedRequest:
    """One request as the relay saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body_size: int


@dataclass
class _PartFault:
    part_number: str
    remaining: int = 1


@dataclass
class _RelayState:
    upstream_host: str
    upstream_port: int
    down: bool = False
    requests: list[RelayedRequest] = field(default_factory=list)
    faults: list[_PartFault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fault(self, request: RelayedRequest) -> bool:
        if request.method != "PUT" or "uploadId" not in request.query:
            return False
        number = request.query.get("partNumber", [""])[0]
        with self.lock:
            for fault in self.faults:
                if fault.part_number == number and fault.remaining > 0:
                    fault.remaining -= 1
                    return True
        return False


class _RelayServer(ThreadingHTTPServer):
    daemon_threads = True
    state: _RelayState


class _RelayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _RelayServer

    def log_message(self, format: str, *args: object) -> None:
        """Keep the relay quiet."""

    def _relay(self) -> None:
        state = self.server.state
        if state.down:
            # Drop the connection without an answer, as a dead network path would.
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = RelayedRequest(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body_size=len(body),
        )
        with state.lock:
            state.requests.append(request)
        damaged = state.take_fault(request)
        if damaged and body:
            # The server keeps a damaged part; only a resend of the same part repairs it.
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        upstream = http.client.HTTPConnection(state.upstream_host, state.upstream_port, timeout=60)
        try:
            forward_headers = {
                name: value
                for name, value in self.headers.items()
                if name.lower() not in _HOP_BY_HOP
            }
            upstream.request(self.command, self.path, body=body or None, headers=forward_headers)
            response = upstream.getresponse()
            payload = response.read()
            status = response.status
            headers = [
                (name, value)
                for name, value in response.getheaders()
                if name.lower() not in _HOP_BY_HOP
            ]
            upstream_length = response.getheader("Content-Length")
        finally:
            upstream.close()
        if damaged:
            status, payload, upstream_length = 500, _INTERNAL_ERROR, None
            headers = [("Content-Type", "application/xml")]
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if self.command == "HEAD":
            self.send_header("Content-Length", upstream_length or "0")
        else:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay


class S3Relay:
    """Relay HTTP from 127.0.0.1 to the S3 server, recording requests and injecting faults."""

    def __init__(self, upstream_endpoint: str) -> None:
        upstream = urlsplit(upstream_endpoint)
        self._state = _RelayState(upstream.hostname or "127.0.0.1", upstream.port or 80)
        self._server = _RelayServer(("127.0.0.1", 0), _RelayHandler)
        self._server.state = self._state
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[RelayedRequest]:
        """Return the requests relayed so far."""
        with self._state.lock:
            return list(self._state.requests)

    def damage_part_once(self, part_number: int) -> None:
        """Damage the next upload of this part number and answer it with a 500."""
        with self._state.lock:
            self._state.faults.append(_PartFault(str(part_number)))

    def go_down(self) -> None:
        """Drop every connection from now on."""
        self._state.down = True

    def come_back(self) -> None:
        """Relay again."""
        self._state.down = False

    def close(self) -> None:
        """Stop relaying and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
