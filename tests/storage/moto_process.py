"""Run moto's threaded S3 server in a process of its own for the storage tests.

Out of process, the server's own memory never shows in the store's tracemalloc figures
and it does not compete with the store for the GIL. It prints its port, then serves until
its standard input closes.
"""

from __future__ import annotations

import sys

from moto.server import ThreadedMotoServer


def main() -> None:
    """Serve S3 on a free port of 127.0.0.1 until standard input closes."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(port, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
