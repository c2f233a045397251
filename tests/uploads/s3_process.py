"""An S3 API (moto's threaded server) in a process of its own, on a port the test chooses.

Running it apart lets a test take S3 away abruptly and bring it back on the same address,
as an outage of the object store looks to the server. Its data lives in memory, so a
restarted S3 starts empty.
"""

from __future__ import annotations

import subprocess
import sys

from moto.server import ThreadedMotoServer

READY = "ready"
STOP_WAIT_S = 10.0


def serve(port: int) -> None:
    """Serve S3 on ``port`` of 127.0.0.1 until standard input closes."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print(READY, flush=True)
    sys.stdin.read()
    server.stop()


class S3Process:
    """Start and kill the S3 server on one port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[str] | None = None

    @property
    def endpoint(self) -> str:
        """The URL the server and boto3 talk to."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start serving and wait until the port answers."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.uploads.s3_process", str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if line != READY:
            self.kill()
            raise RuntimeError(f"S3 did not start on port {self.port}")

    def kill(self) -> None:
        """Take S3 away at once (SIGKILL): every connection to it fails from now on."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=STOP_WAIT_S)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.process = None


if __name__ == "__main__":
    serve(int(sys.argv[1]))
