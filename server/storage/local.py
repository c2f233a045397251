"""Evidence blobs in a local folder: the embedded default, nothing else to run.

Layout under the root folder::

    blobs/ab/cd/<sha256>   originals, written once
    derived/<name>         derived copies
    tmp/<uuid4>.part       writes in progress (same filesystem, so publishing is atomic)

Every write goes to a uniquely named temporary file, is fsynced, and only then appears
at its final name in one atomic step, so a crash never leaves half a blob at a final key.
"""

from __future__ import annotations

import errno
import io
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from .base import (
    BLOB_PREFIX,
    CHUNK_SIZE,
    BlobNotFound,
    BlobStore,
    DerivedCopy,
    HashingReader,
    ReadableStream,
    StoredBlob,
    blob_key,
    check_sha256,
    derived_key,
    is_sha256,
    normalise_expected_sha256,
)
from .disposition import content_disposition

# Filesystems without hard links answer ``link`` with one of these.
_NO_HARD_LINKS = frozenset(
    {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK}
)
TEMP_SUFFIX = ".part"


def _fsync_directory(folder: Path) -> None:
    """Make a new or removed entry in ``folder`` survive a power cut."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class LocalBlobStore(BlobStore):
    """Store evidence originals and derived copies in a folder on this machine."""

    def __init__(self, root: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self.root = Path(root)
        self._chunk_size = chunk_size
        self._blobs = self.root / BLOB_PREFIX.rstrip("/")
        self._derived = self.root / "derived"
        self.temp_folder = self.root / "tmp"
        for folder in (self._blobs, self._derived, self.temp_folder):
            self._make_folders(folder)

    def close(self) -> None:
        """Do nothing: a local folder holds no connections."""

    def _make_folders(self, folder: Path) -> None:
        missing: list[Path] = []
        while not folder.is_dir():
            missing.append(folder)
            folder = folder.parent
        for created in reversed(missing):
            created.mkdir(exist_ok=True)
            _fsync_directory(created.parent)

    def _blob_path(self, sha256: str) -> Path:
        return self.root / blob_key(sha256)

    def _derived_path(self, name: str) -> Path:
        return self.root / derived_key(name)

    def _write_temp(self, chunks: Iterable[bytes]) -> Path:
        """Write chunks to a fresh, fsynced temporary file; remove it if anything fails."""
        temp = self.temp_folder / f"{uuid.uuid4().hex}{TEMP_SUFFIX}"
        try:
            with open(temp, "xb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return temp

    def _publish_once(self, temp: Path, final: Path, size: int) -> bool:
        """Give ``temp`` the name ``final`` unless an intact copy is already there."""
        self._make_folders(final.parent)
        try:
            # A hard link fails if the name exists, so of several writers racing for the
            # same content exactly one publishes it and learns that it did.
            os.link(temp, final)
        except FileExistsError:
            if final.stat().st_size == size:
                return False
            # Someone truncated the stored copy; put the verified bytes back.
            os.replace(temp, final)
        except OSError as error:
            if error.errno not in _NO_HARD_LINKS:
                raise
            if final.exists() and final.stat().st_size == size:
                return False
            os.replace(temp, final)
        _fsync_directory(final.parent)
        return True

    def put_stream(
        self,
        fileobj: ReadableStream,
        *,
        expected_sha256: str | None = None,
        size_limit: int | None = None,
    ) -> StoredBlob:
        """Store a stream once under its sha256; leave nothing behind if it is refused."""
        expected = normalise_expected_sha256(expected_sha256)
        reader = HashingReader(fileobj, size_limit=size_limit, chunk_size=self._chunk_size)
        temp = self._write_temp(reader.chunks())
        try:
            reader.check_expected(expected)
            sha256 = reader.sha256
            created = self._publish_once(temp, self._blob_path(sha256), reader.size)
        finally:
            temp.unlink(missing_ok=True)
        return StoredBlob(sha256=sha256, size=reader.size, key=blob_key(sha256), created=created)

    def adopt_file(self, path: str | os.PathLike[str], sha256: str, size: int) -> StoredBlob:
        """Publish a finished spool file by hard link when it is on this store's filesystem."""
        source = Path(path)
        if source.stat().st_dev != self.root.stat().st_dev or source.stat().st_size != size:
            return super().adopt_file(path, sha256, size)
        check_sha256(sha256)
        created = self._publish_once(source, self._blob_path(sha256), size)
        return StoredBlob(sha256=sha256, size=size, key=blob_key(sha256), created=created)

    def open(self, sha256: str) -> BinaryIO:
        """Open an original for reading; raise ``BlobNotFound`` if it is not stored."""
        try:
            return open(self._blob_path(sha256), "rb")
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def exists(self, sha256: str) -> bool:
        """Tell whether an original is stored."""
        return self._blob_path(sha256).is_file()

    def size(self, sha256: str) -> int:
        """Return the size in bytes of a stored original."""
        try:
            return self._blob_path(sha256).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(sha256) from None

    def delete(self, sha256: str) -> None:
        """Delete an original; deleting one that is not stored is not an error."""
        path = self._blob_path(sha256)
        if path.exists():
            path.unlink(missing_ok=True)
            _fsync_directory(path.parent)

    def iter_blobs(self) -> Iterator[str]:
        """Yield the sha256 of every stored original."""
        for first in sorted(os.scandir(self._blobs), key=lambda entry: entry.name):
            if not first.is_dir():
                continue
            for second in sorted(os.scandir(first.path), key=lambda entry: entry.name):
                if not second.is_dir():
                    continue
                prefix = first.name + second.name
                for entry in sorted(os.scandir(second.path), key=lambda entry: entry.name):
                    name = entry.name
                    if entry.is_file() and name.startswith(prefix) and is_sha256(name):
                        yield name

    def presigned_url(
        self,
        sha256: str,
        *,
        filename: str,
        content_type: str,
        disposition: str,
        expires: int = 300,
    ) -> str | None:
        """Return ``None``: the server streams local blobs itself."""
        check_sha256(sha256)
        content_disposition(disposition, filename)
        return None

    def put_derived(
        self, name: str, data_or_stream: bytes | ReadableStream, content_type: str
    ) -> DerivedCopy:
        """Store (or replace) a derived copy under ``derived/<name>``."""
        key = derived_key(name)
        if not content_type:
            raise ValueError("content_type is required")
        source: ReadableStream = (
            io.BytesIO(data_or_stream)
            if isinstance(data_or_stream, bytes | bytearray | memoryview)
            else data_or_stream
        )
        reader = HashingReader(source, chunk_size=self._chunk_size)
        temp = self._write_temp(reader.chunks())
        try:
            final = self._derived_path(name)
            self._make_folders(final.parent)
            os.replace(temp, final)
            _fsync_directory(final.parent)
        finally:
            temp.unlink(missing_ok=True)
        return DerivedCopy(
            name=name, key=key, size=reader.size, sha256=reader.sha256, content_type=content_type
        )

    def open_derived(self, name: str) -> BinaryIO:
        """Open a derived copy; raise ``BlobNotFound`` if there is none."""
        try:
            return open(self._derived_path(name), "rb")
        except (FileNotFoundError, IsADirectoryError):
            raise BlobNotFound(name) from None

    def derived_exists(self, name: str) -> bool:
        """Tell whether a derived copy is stored."""
        return self._derived_path(name).is_file()

    def delete_derived(self, name: str) -> None:
        """Delete a derived copy; deleting one that is not stored is not an error."""
        path = self._derived_path(name)
        if path.is_file():
            path.unlink(missing_ok=True)
            _fsync_directory(path.parent)

    def cleanup_stale(self, older_than: timedelta) -> int:
        """Remove temporary files untouched for longer than ``older_than``; return how many.

        A temporary file's modification time moves with every write, so a slow upload
        that is still arriving is never mistaken for an abandoned one.
        """
        cutoff = time.time() - older_than.total_seconds()
        removed = 0
        for entry in os.scandir(self.temp_folder):
            try:
                if entry.is_file() and entry.stat().st_mtime <= cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed
