"""Watch a file with inotify, to prove that the decoder never opened or read it."""

from __future__ import annotations

import ctypes
import os
import struct
from types import TracebackType

_IN_ACCESS = 0x001
_IN_OPEN = 0x020
_IN_NONBLOCK = 0o4000


class FileWatch:
    """Collects open and read events on one path while the context is active."""

    def __init__(self, path: os.PathLike[str] | str) -> None:
        self.path = os.fspath(path)
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = -1

    def __enter__(self) -> FileWatch:
        self._fd = self._libc.inotify_init1(_IN_NONBLOCK)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        watch = self._libc.inotify_add_watch(self._fd, self.path.encode(), _IN_OPEN | _IN_ACCESS)
        if watch < 0:
            raise OSError(ctypes.get_errno(), f"cannot watch {self.path}")
        return self

    def events(self) -> list[int]:
        masks = []
        while True:
            try:
                data = os.read(self._fd, 4096)
            except BlockingIOError:
                return masks
            offset = 0
            while offset < len(data):
                _, mask, _, length = struct.unpack_from("iIII", data, offset)
                masks.append(mask)
                offset += 16 + length

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        os.close(self._fd)
