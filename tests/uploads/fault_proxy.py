"""A weak phone network between a client and the server: slow, and cut now and then.

The proxy accepts on a port of its own and relays each connection to the server. Bytes
towards the server are throttled and counted; every ``cut_every`` bytes forwarded it cuts
the connection in the middle of whatever is being sent. It first closes the server's side
and waits until the server has dealt with the cut request, so that the client, seeing a
reset, can resume at once instead of meeting its own broken request still holding the upload.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

BLOCK = 64 * 1024
SERVER_GRACE_S = 30.0


@dataclass
class Relay:
    """One client connection and its connection to the server."""

    client: socket.socket
    upstream: socket.socket
    cut: threading.Event = field(default_factory=threading.Event)


class FaultProxy:
    """Relay to ``upstream_port``, at most ``rate`` bytes/s upstream, cut every ``cut_every``."""

    def __init__(self, upstream_port: int, *, rate: float, cut_every: int) -> None:
        self.upstream_port = upstream_port
        self.rate = rate
        self.cut_every = cut_every
        self.forwarded = 0
        self.cuts = 0
        self.connections = 0
        self._next_cut = cut_every
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._spawn(self._accept)

    @property
    def base_url(self) -> str:
        """The address clients use instead of the server's."""
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            self._sockets += [client, upstream]
            self.connections += 1
            relay = Relay(client, upstream)
            self._spawn(self._towards_server, relay)
            self._spawn(self._towards_client, relay)

    def _allowance(self, wanted: int) -> tuple[int, bool]:
        """Count how many of ``wanted`` bytes go now; say whether to cut after them."""
        with self._lock:
            count = min(wanted, self._next_cut - self.forwarded)
            self.forwarded += count
            if self.forwarded >= self._next_cut:
                self._next_cut += self.cut_every
                self.cuts += 1
                return count, True
            # throttle: never ahead of the rate since the proxy started
            delay = self.forwarded / self.rate - (time.monotonic() - self._started)
        if delay > 0:
            time.sleep(delay)
        return count, False

    def _towards_server(self, relay: Relay) -> None:
        try:
            pending = b""
            while True:
                if not pending:
                    pending = relay.client.recv(BLOCK)
                    if not pending:
                        relay.upstream.shutdown(socket.SHUT_WR)
                        return
                count, cut = self._allowance(len(pending))
                relay.upstream.sendall(pending[:count])
                pending = pending[count:]
                if cut:
                    relay.cut.set()
                    relay.upstream.shutdown(socket.SHUT_WR)
                    return
        except OSError:
            relay.cut.set()
            _close(relay.upstream)

    def _towards_client(self, relay: Relay) -> None:
        try:
            relay.upstream.settimeout(SERVER_GRACE_S)
            while data := relay.upstream.recv(BLOCK):
                if not relay.cut.is_set():
                    relay.client.sendall(data)
        except OSError:
            pass
        finally:
            if relay.cut.is_set():
                _reset(relay.client)
            _close(relay.client)
            _close(relay.upstream)

    def close(self) -> None:
        """Stop accepting, close every connection and wait for the relay threads."""
        for sock in (self._listener, *self._sockets):
            # shutdown wakes a thread blocked in accept or recv on it; close would not
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            _close(sock)
        for thread in self._threads:
            thread.join(timeout=SERVER_GRACE_S)


def _reset(sock: socket.socket) -> None:
    """Make closing ``sock`` send a reset, as a dropped mobile link shows to the phone."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
