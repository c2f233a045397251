"""Local folder backend: atomic publication, crash safety and separate server processes."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from server.storage import LocalBlobStore

from .conftest import REPO_ROOT, list_folder
from .streams import MIB, GeneratedStream

WRITER = [sys.executable, "-m", "tests.storage.local_writer"]


def start_writer(root: Path) -> subprocess.Popen[bytes]:
    """Start a separate process that stores its standard input in the store at ``root``."""
    return subprocess.Popen(
        [*WRITER, str(root)], cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )


def wait_for_temp_bytes(
    store: LocalBlobStore, at_least: int, writer: subprocess.Popen[bytes]
) -> None:
    """Wait until a write in progress has put ``at_least`` bytes in its temporary file."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if writer.poll() is not None:
            pytest.fail("the writer process ended early")
        if any(path.stat().st_size >= at_least for path in store.temp_folder.iterdir()):
            return
        time.sleep(0.01)
    pytest.fail("the writer process never started writing")


def test_blob_lands_at_its_generated_path(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "media" / "evidence")

    stored = store.put_stream(io.BytesIO(b"a photo of the returns desk"))

    sha256 = hashlib.sha256(b"a photo of the returns desk").hexdigest()
    path = tmp_path / "media" / "evidence" / "blobs" / sha256[:2] / sha256[2:4] / sha256
    assert path.read_bytes() == b"a photo of the returns desk"
    assert list_folder(store.root) == [stored.key]


def test_presigned_url_is_none_so_the_server_streams(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    stored = store.put_stream(io.BytesIO(b"call recording"))

    url = store.presigned_url(
        stored.sha256, filename="call.m4a", content_type="audio/mp4", disposition="attachment"
    )

    assert url is None
    with pytest.raises(ValueError, match="disposition"):
        store.presigned_url(
            stored.sha256, filename="call.m4a", content_type="audio/mp4", disposition="evil"
        )


def test_killed_writer_leaves_no_half_blob_and_its_temp_file_is_cleaned(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = GeneratedStream(6 * MIB, seed=1).read(6 * MIB)
    writer = start_writer(tmp_path)
    assert writer.stdin is not None and writer.stdout is not None
    writer.stdin.write(data[: 3 * MIB])
    writer.stdin.flush()
    wait_for_temp_bytes(store, 2 * MIB, writer)

    writer.kill()
    writer.wait()
    writer.stdin.close()
    writer.stdout.close()

    sha256 = hashlib.sha256(data).hexdigest()
    assert not store.exists(sha256)
    assert list(store.iter_blobs()) == []
    assert [path.parent.name for path in map(Path, list_folder(tmp_path))] == ["tmp"]
    # A temporary file that is still fresh may belong to a slow upload: keep it.
    assert store.cleanup_stale(timedelta(hours=1)) == 0
    assert store.cleanup_stale(timedelta(0)) == 1
    assert list_folder(tmp_path) == []

    assert store.put_stream(io.BytesIO(data)).created is True
    assert store.verify(sha256)


def test_two_processes_writing_the_same_blob_end_with_one_file(tmp_path: Path) -> None:
    data = GeneratedStream(4 * MIB, seed=2).read(4 * MIB)
    writers = [start_writer(tmp_path), start_writer(tmp_path)]
    # Feed both processes in turns so their writes overlap from start to end.
    step = 64 * 1024
    for offset in range(0, len(data), step):
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write(data[offset : offset + step])
    results = []
    for writer in writers:
        assert writer.stdin is not None and writer.stdout is not None
        writer.stdin.close()
        results.append(json.loads(writer.stdout.read()))
        writer.stdout.close()
        assert writer.wait() == 0

    sha256 = hashlib.sha256(data).hexdigest()
    assert [result["sha256"] for result in results] == [sha256, sha256]
    assert sorted(result["created"] for result in results) == [False, True]
    store = LocalBlobStore(tmp_path)
    assert list_folder(tmp_path) == [results[0]["key"]]
    assert store.verify(sha256)


def test_damaged_stored_copy_is_rewritten_by_the_next_put(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = GeneratedStream(MIB, seed=3).read(MIB)
    stored = store.put_stream(io.BytesIO(data))
    (tmp_path / stored.key).write_bytes(data[:1000])

    again = store.put_stream(io.BytesIO(data))

    assert again.created is True
    assert store.verify(stored.sha256)
