"""The tus protocol's guarantees against a live server: RELIABILITY 7, 8, 9 and 10.

Bad requests are refused before any byte of theirs is kept, and an upload only ever holds
the bytes of the recording, in order: every test ends by checking the evidence's sha256.
"""

from __future__ import annotations

import email.utils
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
import requests

from server.config import DEFAULTS
from tests.uploads.conftest import StartServer
from tests.uploads.live_uploads import TIMEOUT_S, Researcher, UploadServer, wait_until
from tests.uploads.recordings import MIB, SyntheticRecording
from tests.uploads.tus_wire import (
    OFFSET_STREAM,
    TUS,
    RawRequest,
    checksum_header,
    metadata_header,
)

# a body that is announced but never comes: the server must answer from the headers alone
ENDLESS = 10**12


def upload_id(url: str) -> str:
    """Return the id at the end of an upload URL."""
    return url.rstrip("/").rsplit("/", 1)[1]


def part_bytes(server: UploadServer, url: str) -> bytes:
    """Return what the spool file of an unfinished upload holds."""
    return (server.spool / f"{upload_id(url)}.part").read_bytes()


def finish(researcher: Researcher, url: str, recording: SyntheticRecording, visit_id: str) -> None:
    """Send the rest of ``recording`` and check the evidence it became, byte for byte."""
    offset = researcher.offset(url)
    done = researcher.patch(url, offset, recording.bytes_at(offset, recording.size - offset))
    assert done.status_code == 204, done.text
    assert int(done.headers["Upload-Offset"]) == recording.size
    evidence_id = done.headers["Fieldbook-Evidence-Id"]
    [item] = [item for item in researcher.evidence(visit_id) if item["id"] == evidence_id]
    assert item["sha256"] == recording.sha256()
    assert item["size"] == recording.size


def raw_headers(researcher: Researcher, **headers: str) -> dict[str, str]:
    """Return the headers of a hand-written tus request with the researcher's token."""
    return {**researcher.auth, **TUS, **{k.replace("_", "-"): v for k, v in headers.items()}}


# RELIABILITY 7 -------------------------------------------------------------------------


def test_rel7_wrong_offset_is_409_and_bytes_stay_unchanged(
    researcher: Researcher, shared_server: UploadServer
) -> None:
    """PATCHes at offsets behind and ahead of the server's are refused and keep nothing."""
    recording = SyntheticRecording(3 * MIB, seed=7)
    visit = researcher.new_visit()
    url = researcher.new_upload(visit, recording.size, sha256=recording.sha256())
    assert researcher.patch(url, 0, recording.bytes_at(0, MIB)).status_code == 204

    for wrong in (0, MIB - 1, MIB + 1, 2 * MIB):
        refused = researcher.patch(url, wrong, b"\xee" * (64 * 1024))

        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "upload.offset_mismatch"
        assert refused.headers["Upload-Offset"] == str(MIB)
        assert researcher.offset(url) == MIB
        assert part_bytes(shared_server, url) == recording.bytes_at(0, MIB)

    finish(researcher, url, recording, visit)


@pytest.mark.parametrize("content_type", [None, "application/octet-stream", "text/plain"])
def test_rel7_wrong_content_type_is_415(
    researcher: Researcher, shared_server: UploadServer, content_type: str | None
) -> None:
    """A PATCH body that is not application/offset+octet-stream is refused unread."""
    recording = SyntheticRecording(MIB, seed=71)
    visit = researcher.new_visit()
    url = researcher.new_upload(visit, recording.size, sha256=recording.sha256())
    headers = {**TUS, "Upload-Offset": "0", "Connection": "close"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    # requests sends bytes without a Content-Type of its own
    sent = researcher.client.session.patch(
        url, data=recording.bytes_at(0, MIB), headers=headers, timeout=TIMEOUT_S
    )

    assert sent.status_code == 415, sent.text
    assert sent.json()["code"] == "upload.content_type"
    assert researcher.offset(url) == 0
    assert part_bytes(shared_server, url) == b""
    finish(researcher, url, recording, visit)


@pytest.mark.parametrize(
    ("kind", "length"),
    [
        pytest.param("photo", DEFAULTS["UPLOAD_LIMITS"]["photo"] + 1, id="over-the-photo-limit"),
        pytest.param("audio", ENDLESS, id="over-every-limit"),
    ],
)
def test_rel7_over_the_size_limit_is_413_before_the_body_is_read(
    researcher: Researcher, shared_server: UploadServer, kind: str, length: int
) -> None:
    """A creation with a too large Upload-Length is answered while its body never comes."""
    metadata = {"visit_id": researcher.new_visit(), "kind": kind, "client_uuid": str(uuid.uuid4())}
    spooled = shared_server.spool_files()
    request = RawRequest(
        researcher.uploads_url(),
        "POST",
        raw_headers(
            researcher,
            Upload_Length=str(length),
            Upload_Metadata=metadata_header(metadata),
            Content_Type=OFFSET_STREAM,
            Content_Length=str(length),
        ),
    )
    try:
        # the first KiB of a body that never ends; a server waiting for it would never answer
        request.send(b"\xff\xd8\xff\xe0" + bytes(1020))
        answer = request.answer()
    finally:
        request.close()

    assert answer.status == 413, answer.body
    assert b'"upload.too_large"' in answer.body
    assert b"Upload-Length" in answer.body
    assert shared_server.spool_files() == spooled


def test_rel7_patch_past_the_upload_length_is_413_before_the_body_is_read(
    researcher: Researcher, shared_server: UploadServer
) -> None:
    """A PATCH announcing more bytes than the upload has room for is answered unread."""
    recording = SyntheticRecording(2 * MIB, seed=72)
    visit = researcher.new_visit()
    url = researcher.new_upload(visit, recording.size, sha256=recording.sha256())
    request = RawRequest(
        url,
        "PATCH",
        raw_headers(
            researcher,
            Upload_Offset="0",
            Content_Type=OFFSET_STREAM,
            Content_Length=str(ENDLESS),
        ),
    )
    try:
        request.send(recording.bytes_at(0, 1024))
        answer = request.answer()
    finally:
        request.close()

    assert answer.status == 413, answer.body
    assert b'"upload.too_large"' in answer.body
    assert researcher.offset(url) == 0
    finish(researcher, url, recording, visit)


# RELIABILITY 8 -------------------------------------------------------------------------


def test_rel8_flipped_byte_with_checksum_is_460_and_offset_stays(
    researcher: Researcher, shared_server: UploadServer
) -> None:
    """A chunk whose sha256 differs from its Upload-Checksum is dropped; the right one fits."""
    recording = SyntheticRecording(2 * MIB + 4321, seed=8)
    visit = researcher.new_visit()
    url = researcher.new_upload(visit, recording.size, sha256=recording.sha256())
    first = recording.bytes_at(0, MIB)
    sent = researcher.patch(url, 0, first, Upload_Checksum=checksum_header(first))
    assert sent.status_code == 204, sent.text
    second = recording.bytes_at(MIB, MIB)
    flipped = bytearray(second)
    flipped[len(flipped) // 2] ^= 0x01

    refused = researcher.patch(url, MIB, bytes(flipped), Upload_Checksum=checksum_header(second))

    assert refused.status_code == 460, refused.text
    assert refused.json()["code"] == "upload.checksum_mismatch"
    assert researcher.offset(url) == MIB
    assert part_bytes(shared_server, url) == first
    assert not [name for name in shared_server.spool_files() if name.endswith(".chunk")]
    accepted = researcher.patch(url, MIB, second, Upload_Checksum=checksum_header(second))
    assert accepted.status_code == 204, accepted.text
    assert accepted.headers["Upload-Offset"] == str(2 * MIB)
    finish(researcher, url, recording, visit)


def test_rel8_checksummed_chunk_cut_off_midway_keeps_nothing(
    researcher: Researcher, shared_server: UploadServer
) -> None:
    """A checksummed chunk whose connection drops joins nothing and leaves no side file."""
    recording = SyntheticRecording(3 * MIB, seed=81)
    visit = researcher.new_visit()
    url = researcher.new_upload(visit, recording.size, sha256=recording.sha256())
    assert researcher.patch(url, 0, recording.bytes_at(0, MIB)).status_code == 204
    second = recording.bytes_at(MIB, MIB)
    request = RawRequest(
        url,
        "PATCH",
        raw_headers(
            researcher,
            Upload_Offset=str(MIB),
            Content_Type=OFFSET_STREAM,
            Content_Length=str(len(second)),
            Upload_Checksum=checksum_header(second),
        ),
    )
    request.send(second[: MIB // 2])
    request.close()

    # the server lets go of the upload once it notices the cut; until then it says 423
    def resumed() -> requests.Response | None:
        rest = recording.bytes_at(MIB, recording.size - MIB)
        response = researcher.patch(url, MIB, rest)
        return None if response.status_code == 423 else response

    done = wait_until(resumed, "the cut PATCH to release the upload")
    assert done.status_code == 204, done.text
    [item] = researcher.evidence(visit)
    assert item["sha256"] == recording.sha256()
    assert not [name for name in shared_server.spool_files() if upload_id(url) in name]


# RELIABILITY 9 -------------------------------------------------------------------------


def test_rel9_second_patch_while_one_is_writing_is_refused(
    researcher: Researcher, shared_server: UploadServer
) -> None:
    """While one PATCH is half sent, PATCHes at the reported or the old offset are refused."""
    recording = SyntheticRecording(6 * MIB, seed=9)
    visit = researcher.new_visit()
    url = researcher.new_upload(visit, recording.size, sha256=recording.sha256())
    body = recording.bytes_at(0, 4 * MIB)
    writer = RawRequest(
        url,
        "PATCH",
        raw_headers(
            researcher, Upload_Offset="0", Content_Type=OFFSET_STREAM, Content_Length=str(len(body))
        ),
    )
    try:
        writer.send(body[: 2 * MIB])
        reported = wait_until(
            lambda: researcher.offset(url) or None, "the first PATCH to write its first bytes"
        )
        assert 0 < reported <= 2 * MIB

        for offset in (reported, 0):
            intruder = RawRequest(
                url,
                "PATCH",
                raw_headers(
                    researcher,
                    Upload_Offset=str(offset),
                    Content_Type=OFFSET_STREAM,
                    Content_Length=str(2 * MIB),
                ),
            )
            try:
                # other bytes than the recording's: any of them kept would change the sha256
                intruder.send(b"\x00" * (64 * 1024))
                refused = intruder.answer()
            finally:
                intruder.close()
            assert refused.status in (409, 423), refused.body
            assert refused.status != 423 or b'"upload.locked"' in refused.body

        writer.send(body[2 * MIB :])
        written = writer.answer()
    finally:
        writer.close()

    assert written.status == 204, written.body
    assert written.headers["upload-offset"] == str(4 * MIB)
    assert part_bytes(shared_server, url) == body
    finish(researcher, url, recording, visit)


# RELIABILITY 10 ------------------------------------------------------------------------


def expires_at(headers: Mapping[str, str]) -> datetime:
    """Return the time an ``Upload-Expires`` header names."""
    return email.utils.parsedate_to_datetime(headers["Upload-Expires"])


def test_rel10_abandoned_upload_past_its_expiry_is_gone_and_its_space_reclaimed(
    start_server: StartServer,
) -> None:
    """An expired upload answers 410/404 and its spool file is removed, asked about or not."""
    # 0.002 h = 7.2 s; no periodic sweep during the test (that one is tested below)
    server = start_server(FIELDBOOK_UPLOAD_EXPIRY_HOURS="0.002", FIELDBOOK_JOB_SWEEP_SECONDS="3600")
    phone = server.researcher
    visit = phone.new_visit()
    recording = SyntheticRecording(2 * MIB, seed=10)
    head = recording.bytes_at(0, MIB)
    started = phone.create_upload(visit, recording.size, body=head)
    forgotten = phone.create_upload(visit, recording.size, body=head)
    for created in (started, forgotten):
        assert created.status_code == 201, created.text
        assert created.headers["Upload-Offset"] == str(MIB)
        answered_at = email.utils.parsedate_to_datetime(created.headers["Date"])
        assert expires_at(created.headers) > answered_at
    url, forgotten_url = started.headers["Location"], forgotten.headers["Location"]
    assert (server.spool / f"{upload_id(url)}.part").stat().st_size == MIB

    # the phone comes back after the upload expired
    def expired() -> requests.Response | None:
        answer = phone.head(url)
        return None if answer.status_code == 200 else answer

    gone = wait_until(expired, "the upload to expire")
    assert gone.status_code == 410
    assert not [name for name in server.spool_files() if upload_id(url) in name]
    assert phone.patch(url, MIB, recording.bytes_at(MIB, MIB)).status_code in (404, 410)
    assert phone.head(url).status_code in (404, 410)

    # the phone that never comes back: its space is reclaimed when others make new uploads
    wait_for = (expires_at(forgotten.headers) - datetime.now(UTC)).total_seconds() + 1.5
    time.sleep(max(0.0, wait_for))
    assert [name for name in server.spool_files() if upload_id(forgotten_url) in name]
    fresh = phone.new_upload(visit, recording.size)
    assert server.spool_files() == [f"{upload_id(fresh)}.part"]
    assert phone.head(forgotten_url).status_code == 404
    assert phone.evidence(visit) == []


def test_rel10_the_server_reclaims_expired_uploads_even_when_no_new_upload_comes(
    start_server: StartServer,
) -> None:
    """The embedded server's sweeper removes abandoned uploads on its own schedule."""
    # 0.001 h = 3.6 s
    server = start_server(FIELDBOOK_UPLOAD_EXPIRY_HOURS="0.001", FIELDBOOK_JOB_SWEEP_SECONDS="1")
    phone = server.researcher
    visit = phone.new_visit()
    recording = SyntheticRecording(2 * MIB, seed=11)
    forgotten = phone.create_upload(visit, recording.size, body=recording.bytes_at(0, MIB))
    assert forgotten.status_code == 201, forgotten.text
    url = forgotten.headers["Location"]
    assert f"{upload_id(url)}.part" in server.spool_files()

    # nobody asks about it and nobody uploads anything else
    def reclaimed() -> bool | None:
        return True if server.spool_files() == [] else None

    wait_until(reclaimed, "the sweeper to reclaim the expired upload", timeout=30)
    assert datetime.now(UTC) >= expires_at(forgotten.headers)
    assert phone.head(url).status_code == 404
    assert phone.evidence(visit) == []
