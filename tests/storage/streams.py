"""Sources of evidence bytes for the storage tests: generated on the fly, or faulty."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

from server.storage import ReadableStream

MIB = 1024 * 1024


class GeneratedStream:
    """Yield ``size`` deterministic pseudo-random bytes without ever holding them all."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self._remaining = size
        self._random = random.Random(seed)

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes (at most 1 MiB when ``size`` is negative)."""
        wanted = MIB if size < 0 else size
        count = min(wanted, self._remaining)
        self._remaining -= count
        return self._random.randbytes(count)


def generated_sha256(size: int, seed: int = 0) -> str:
    """Return the sha256 of what ``GeneratedStream(size, seed)`` yields."""
    digest = hashlib.sha256()
    stream = GeneratedStream(size, seed)
    while chunk := stream.read(MIB):
        digest.update(chunk)
    return digest.hexdigest()


class BrokenStream:
    """Pass a source through, then raise once it has given ``fail_after`` bytes.

    Stands for a phone whose connection drops in the middle of an upload.
    """

    def __init__(self, source: ReadableStream, fail_after: int) -> None:
        self._source = source
        self._left = fail_after
        self.failed = False

    def read(self, size: int = -1, /) -> bytes:
        """Return the next bytes, or raise ``ConnectionResetError`` at the failure point."""
        if not self.failed:
            if self._left <= 0:
                self.failed = True
                raise ConnectionResetError("the phone went out of coverage")
            if size < 0 or size > self._left:
                size = self._left
        chunk = self._source.read(size)
        self._left -= len(chunk)
        return chunk


class TriggerStream:
    """Pass a source through and call ``action`` once after ``after`` bytes have gone by."""

    def __init__(self, source: ReadableStream, after: int, action: Callable[[], None]) -> None:
        self._source = source
        self._left = after
        self._action: Callable[[], None] | None = action

    def read(self, size: int = -1, /) -> bytes:
        """Return the next bytes, running the action when the threshold is crossed."""
        chunk = self._source.read(size)
        self._left -= len(chunk)
        if self._left <= 0 and self._action is not None:
            action, self._action = self._action, None
            action()
        return chunk
