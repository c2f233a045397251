"""The blob store contract shared by every evidence storage backend.

Originals are addressed by their sha256 and stored once under a generated key
(``blobs/ab/cd/<sha256>``); the client's file name never takes part in a key. Derived
copies (thumbnails, GPS-stripped display copies, redacted renditions) live apart from
originals under ``derived/<name>``.
"""

from __future__ import annotations

import hashlib
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO, Protocol

CHUNK_SIZE = 1024 * 1024
"""Bytes read from a source at a time: every backend streams in constant memory."""

BLOB_PREFIX = "blobs/"
DERIVED_PREFIX = "derived/"

_SHA256 = re.compile(r"[0-9a-f]{64}")
_DERIVED_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_MAX_DERIVED_SEGMENTS = 8


class ReadableStream(Protocol):
    """Anything with a binary ``read``: an open file, a request stream, a socket file."""

    def read(self, size: int = -1, /) -> bytes: ...


class StorageError(Exception):
    """Raise when the blob store cannot do what was asked."""


class StorageUnavailable(StorageError):
    """Raise when the backing store cannot be reached; nothing was stored."""


class BlobNotFound(StorageError, LookupError):
    """Raise when no blob or derived copy exists under the requested address."""


class ChecksumMismatch(StorageError, ValueError):
    """Raise when received bytes do not hash to the sha256 the client announced."""

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"expected sha256 {expected}, received {actual}")
        self.expected = expected
        self.actual = actual


class SizeLimitExceeded(StorageError, ValueError):
    """Raise when a stream is longer than the size limit it was put with."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"stream is larger than the limit of {limit} bytes")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """An original stored by content: its sha256, size, key and whether this put wrote it."""

    sha256: str
    size: int
    key: str
    created: bool


@dataclass(frozen=True, slots=True)
class DerivedCopy:
    """A derived copy stored apart from the original it was made from."""

    name: str
    key: str
    size: int
    sha256: str
    content_type: str


def is_sha256(value: object) -> bool:
    """Tell whether ``value`` is a sha256 as blobs are addressed: 64 lowercase hex digits."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def check_sha256(sha256: str) -> str:
    """Return ``sha256`` if it is 64 lowercase hex digits, else raise ``ValueError``."""
    if not is_sha256(sha256):
        raise ValueError("sha256 must be 64 lowercase hexadecimal digits")
    return sha256


def normalise_expected_sha256(expected: str | None) -> str | None:
    """Lower-case an announced sha256 and check its form; ``None`` passes through."""
    if expected is None:
        return None
    return check_sha256(expected.strip().lower())


def blob_key(sha256: str) -> str:
    """Return the generated key of an original: ``blobs/ab/cd/<sha256>``."""
    check_sha256(sha256)
    return f"{BLOB_PREFIX}{sha256[:2]}/{sha256[2:4]}/{sha256}"


def derived_key(name: str) -> str:
    """Return the key of a derived copy, refusing names that could leave ``derived/``.

    A name is one to eight ``/``-separated segments of letters, digits, ``.``, ``_``
    and ``-`` that do not start with a dot, e.g. ``thumbnails/<sha256>-320.jpg``.
    """
    segments = name.split("/") if isinstance(name, str) else []
    if not 0 < len(segments) <= _MAX_DERIVED_SEGMENTS or not all(
        _DERIVED_SEGMENT.fullmatch(segment) for segment in segments
    ):
        raise ValueError(f"invalid derived copy name: {name!r}")
    return DERIVED_PREFIX + name


class HashingReader:
    """Read a source in fixed-size chunks, hashing, counting and enforcing a size limit."""

    def __init__(
        self,
        source: ReadableStream,
        *,
        size_limit: int | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        if size_limit is not None and size_limit < 0:
            raise ValueError("size_limit must not be negative")
        self._source = source
        self._size_limit = size_limit
        self._chunk_size = chunk_size
        self._digest = hashlib.sha256()
        self._size = 0
        self._finished = False

    @property
    def size(self) -> int:
        """Return the number of bytes read so far."""
        return self._size

    @property
    def sha256(self) -> str:
        """Return the hex sha256 of the bytes read so far."""
        return self._digest.hexdigest()

    def _next_chunk(self, wanted: int) -> bytes:
        if self._finished:
            return b""
        limit = self._size_limit
        # One byte past the limit is enough to know the stream is too long.
        if limit is not None:
            wanted = min(wanted, limit + 1 - self._size)
        chunk = self._source.read(wanted)
        if not chunk:
            self._finished = True
            return b""
        self._size += len(chunk)
        if limit is not None and self._size > limit:
            raise SizeLimitExceeded(limit)
        self._digest.update(chunk)
        return chunk

    def chunks(self) -> Iterator[bytes]:
        """Yield the source chunk by chunk until it ends."""
        while chunk := self._next_chunk(self._chunk_size):
            yield chunk

    def read_part(self, part_size: int) -> bytearray:
        """Return the next ``part_size`` bytes, fewer only at the end of the source."""
        part = bytearray()
        while len(part) < part_size:
            chunk = self._next_chunk(min(self._chunk_size, part_size - len(part)))
            if not chunk:
                break
            part += chunk
        return part

    def check_expected(self, expected_sha256: str | None) -> None:
        """Raise ``ChecksumMismatch`` unless the bytes read hash to ``expected_sha256``."""
        if expected_sha256 is not None and expected_sha256 != self.sha256:
            raise ChecksumMismatch(expected_sha256, self.sha256)


class BlobStore(ABC):
    """Evidence blob storage: originals by sha256, derived copies by name."""

    @abstractmethod
    def put_stream(
        self,
        fileobj: ReadableStream,
        *,
        expected_sha256: str | None = None,
        size_limit: int | None = None,
    ) -> StoredBlob:
        """Store a stream once under its sha256; leave nothing behind if it is refused."""

    def put_file(
        self,
        path: str | os.PathLike[str],
        *,
        expected_sha256: str | None = None,
        size_limit: int | None = None,
    ) -> StoredBlob:
        """Store the file at ``path`` as an original."""
        with open(path, "rb") as source:
            return self.put_stream(source, expected_sha256=expected_sha256, size_limit=size_limit)

    def adopt_file(self, path: str | os.PathLike[str], sha256: str, size: int) -> StoredBlob:
        """Store a finished file whose sha256 the caller computed as the bytes arrived.

        Stores that can take the file over without copying it (a local folder on the
        same filesystem) do so; the others store it like any file, verifying the hash.
        The caller removes ``path`` afterwards either way.
        """
        return self.put_file(path, expected_sha256=sha256)

    @abstractmethod
    def open(self, sha256: str) -> BinaryIO:
        """Open an original for reading; raise ``BlobNotFound`` if it is not stored."""

    @abstractmethod
    def exists(self, sha256: str) -> bool:
        """Tell whether an original is stored."""

    @abstractmethod
    def size(self, sha256: str) -> int:
        """Return the size in bytes of a stored original."""

    @abstractmethod
    def delete(self, sha256: str) -> None:
        """Delete an original; deleting one that is not stored is not an error."""

    @abstractmethod
    def iter_blobs(self) -> Iterator[str]:
        """Yield the sha256 of every stored original."""

    @abstractmethod
    def presigned_url(
        self,
        sha256: str,
        *,
        filename: str,
        content_type: str,
        disposition: str,
        expires: int = 300,
    ) -> str | None:
        """Return a short-lived download URL, or ``None`` when the server must stream it."""

    @abstractmethod
    def put_derived(
        self, name: str, data_or_stream: bytes | ReadableStream, content_type: str
    ) -> DerivedCopy:
        """Store (or replace) a derived copy under ``derived/<name>``."""

    @abstractmethod
    def open_derived(self, name: str) -> BinaryIO:
        """Open a derived copy; raise ``BlobNotFound`` if there is none."""

    @abstractmethod
    def derived_exists(self, name: str) -> bool:
        """Tell whether a derived copy is stored."""

    @abstractmethod
    def delete_derived(self, name: str) -> None:
        """Delete a derived copy; deleting one that is not stored is not an error."""

    @abstractmethod
    def cleanup_stale(self, older_than: timedelta) -> int:
        """Remove unfinished writes idle for longer than ``older_than``; return how many."""

    @abstractmethod
    def close(self) -> None:
        """Release the connections the store holds."""

    def verify(self, sha256: str) -> bool:
        """Re-read a stored original and tell whether it still hashes to its address."""
        digest = hashlib.sha256()
        with self.open(sha256) as stream:
            while chunk := stream.read(CHUNK_SIZE):
                digest.update(chunk)
        return digest.hexdigest() == sha256
