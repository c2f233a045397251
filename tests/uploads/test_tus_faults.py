"""Large recordings under faults and load: RELIABILITY 6, 11 and 12.

A server killed mid-upload, a weak link that keeps dropping, and a recording bigger than
any buffer: each ends with one stored copy whose sha256 is the recording's.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from tests.uploads.conftest import StartServer
from tests.uploads.fault_proxy import FaultProxy
from tests.uploads.live_uploads import Researcher, UploadServer, wait_until
from tests.uploads.recordings import MIB, SyntheticRecording

MB = 1000 * 1000
CHUNK = 8 * MIB
# the request line and headers of one tus request through the proxy, generously
REQUEST_OVERHEAD = 2048
MEMORY_BOUND = 64 * MIB
JOIN_S = 60.0


def file_sha256(path: Path) -> str:
    """Return the sha256 of a stored file in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as stored:
        while data := stored.read(8 * MIB):
            digest.update(data)
    return digest.hexdigest()


def evidence_id(researcher: Researcher, url: str) -> str:
    """Return the evidence a finished upload became."""
    answer = researcher.head(url)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Upload-Offset"] == answer.headers["Upload-Length"]
    return str(answer.headers["Fieldbook-Evidence-Id"])


# RELIABILITY 6 -------------------------------------------------------------------------


def test_rel6_server_killed_at_60_percent_resumes_to_one_identical_copy(
    start_server: StartServer,
) -> None:
    """SIGKILL at 60% of 200 MB, restart, HEAD, resume: one copy, one row, no temp files."""
    server = start_server()
    phone = server.researcher
    visit = phone.new_visit()
    recording = SyntheticRecording(200 * MB, seed=6)
    expected = recording.sha256()
    uploader = phone.uploader(recording, visit, sha256=expected, chunk_size=CHUNK)
    url = uploader.create_url()
    uploader.set_url(url)
    failures: list[BaseException] = []

    def send() -> None:
        try:
            uploader.upload()
        except Exception as error:  # the server dies under it
            failures.append(error)

    def sixty_percent() -> int | None:
        assert not failures, failures
        offset = phone.offset(url)
        return offset if offset >= 0.6 * recording.size else None

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        seen = wait_until(sixty_percent, "60% of the recording to arrive")
        server.kill()
    finally:
        sender.join(JOIN_S)
    assert not sender.is_alive()
    assert failures, "the upload should have been cut off by the kill"
    part = server.spool / f"{url.rsplit('/', 1)[1]}.part"
    held = part.stat().st_size
    assert seen <= held < recording.size

    server.restart()
    assert phone.offset(url) == held
    phone.uploader(recording, visit, sha256=expected, chunk_size=CHUNK, url=url).upload()

    item_id = evidence_id(phone, url)
    item = phone.settled(visit, item_id)
    assert item["status"] == "ready", item
    assert (item["sha256"], item["size"]) == (expected, recording.size)
    assert [entry["id"] for entry in phone.evidence(visit)] == [item_id]
    [blob] = server.blob_files()
    assert blob.name == expected
    assert file_sha256(blob) == expected
    assert server.spool_files() == []
    assert server.store_temp_files() == []


# RELIABILITY 11 ------------------------------------------------------------------------


def test_rel11_throttled_link_with_resets_completes_resending_under_a_chunk_per_reset(
    researcher: Researcher, shared_server: UploadServer
) -> None:
    """100 MB through a slow link cut every 16 MB: tuspy resumes, re-sends little."""
    recording = SyntheticRecording(100 * MB, seed=11)
    expected = recording.sha256()
    visit = researcher.new_visit()
    chunk = 4 * MIB
    proxy = FaultProxy(shared_server.port, rate=25 * MB, cut_every=16 * MB)
    try:
        uploader = researcher.uploader(
            recording,
            visit,
            sha256=expected,
            chunk_size=chunk,
            base_url=proxy.base_url,
            upload_checksum=True,
            retries=5,
            retry_delay=0,
        )
        uploader.upload()
    finally:
        proxy.close()

    assert proxy.cuts >= 5
    resent = proxy.forwarded - recording.size
    assert 0 < resent <= proxy.cuts * chunk + proxy.connections * REQUEST_OVERHEAD
    assert uploader.url is not None
    upload_id = uploader.url.rsplit("/", 1)[1]
    item_id = evidence_id(researcher, f"{researcher.uploads_url()}/{upload_id}")
    [item] = researcher.evidence(visit)
    assert item["id"] == item_id
    assert (item["sha256"], item["size"]) == (expected, recording.size)
    assert not [name for name in shared_server.spool_files() if upload_id in name]


# RELIABILITY 12 ------------------------------------------------------------------------


class PeakMemory:
    """Sample a process's resident memory in a thread; keep the highest figure."""

    def __init__(self, server: UploadServer) -> None:
        self.process = server.worker()
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def stop(self) -> int:
        """Stop sampling and return the peak in bytes."""
        self._stop.set()
        self._thread.join(JOIN_S)
        return self.peak


@pytest.mark.slow
def test_rel12_memory_stays_flat_while_500_mb_stream_through(
    researcher: Researcher, shared_server: UploadServer
) -> None:
    """One 500 MB PATCH, stored and processed, grows the web worker by under 64 MiB."""
    visit = researcher.new_visit()
    # a first upload loads the code every later one uses; it is not growth
    warm_up = SyntheticRecording(2 * MIB, seed=120)
    url = researcher.new_upload(visit, warm_up.size, sha256=warm_up.sha256())
    assert researcher.patch(url, 0, warm_up).status_code == 204
    researcher.settled(visit, evidence_id(researcher, url))
    recording = SyntheticRecording(500 * MB, seed=12)
    expected = recording.sha256()
    url = researcher.new_upload(visit, recording.size, sha256=expected)
    baseline = shared_server.worker().memory_info().rss

    memory = PeakMemory(shared_server)
    try:
        sent = researcher.patch(url, 0, recording, timeout=600)
        assert sent.status_code == 204, sent.text
        item = researcher.settled(visit, sent.headers["Fieldbook-Evidence-Id"])
    finally:
        peak = memory.stop()

    assert (item["status"], item["sha256"]) == ("ready", expected)
    growth = peak - baseline
    assert growth < MEMORY_BOUND, f"the worker grew by {growth / MIB:.1f} MiB"
