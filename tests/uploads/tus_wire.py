"""Speaking tus to a live server: headers, and raw sockets for what ``requests`` cannot do.

``requests`` always sends a whole body before it reads the answer; the tests that must see
the server answer early, or keep a body half sent, write HTTP/1.1 by hand instead.
"""

from __future__ import annotations

import base64
import hashlib
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

TUS_VERSION = "1.0.0"
TUS = {"Tus-Resumable": TUS_VERSION}
OFFSET_STREAM = "application/offset+octet-stream"
SOCKET_TIMEOUT_S = 60.0


def metadata_header(metadata: dict[str, str]) -> str:
    """Encode ``Upload-Metadata``: comma-separated ``key base64(value)`` pairs."""
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in metadata.items()
    )


def checksum_header(chunk: bytes) -> str:
    """Return ``Upload-Checksum`` for ``chunk`` with sha256."""
    return "sha256 " + base64.b64encode(hashlib.sha256(chunk).digest()).decode()


@dataclass
class RawAnswer:
    """An HTTP answer read off a raw socket."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class RawRequest:
    """One HTTP/1.1 request written by hand on its own connection."""

    def __init__(self, url: str, method: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        self.sock = socket.create_connection((parts.hostname, parts.port), SOCKET_TIMEOUT_S)
        lines = [f"{method} {parts.path} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send(self, data: bytes) -> None:
        """Send part of the body."""
        self.sock.sendall(data)

    def answer(self) -> RawAnswer:
        """Read the status line, headers and a Content-Length body."""
        received = b""
        while b"\r\n\r\n" not in received:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError(f"the server closed the connection after {received!r}")
            received += data
        head, _, body = received.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            data = self.sock.recv(65536)
            if not data:
                break
            body += data
        return RawAnswer(int(status_line.split()[1]), headers, body[:length])

    def close(self) -> None:
        """Close the connection, whatever was sent."""
        self.sock.close()
