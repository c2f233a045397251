"""S3 going away under a live server: RELIABILITY 13.

Nothing is acknowledged unless it is in the object store. A file sent in one request is
refused with 503 and leaves no item; a resumable upload keeps its bytes in the spool and
is finished by an empty PATCH once S3 is back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.services import free_port
from tests.uploads.conftest import StartServer
from tests.uploads.live_uploads import UploadServer
from tests.uploads.recordings import MIB, SyntheticRecording, phone_photo, sha256_hex
from tests.uploads.s3_process import S3Process

S3_REGION = "eu-central-1"
S3_KEY_ID = "fieldbook-upload-test"
S3_SECRET = "fieldbook-upload-test-secret"


@pytest.fixture
def s3() -> Iterator[S3Process]:
    """Run an S3 API on a port of its own; stop it at the end, whatever happened."""
    process = S3Process(free_port())
    process.start()
    try:
        yield process
    finally:
        process.kill()


def create_bucket(s3: S3Process, bucket: str) -> None:
    """Create the evidence bucket, as an operator does before the first start."""
    client: Any = boto3.session.Session().client(
        "s3",
        endpoint_url=s3.endpoint,
        region_name=S3_REGION,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
        config=Config(s3={"addressing_style": "path"}),
    )
    try:
        client.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": S3_REGION}
        )
    finally:
        client.close()


def s3_server(start_server: StartServer, s3: S3Process, bucket: str) -> UploadServer:
    """Start a server that keeps evidence in ``bucket``, failing fast when S3 is away."""
    return start_server(
        FIELDBOOK_STORAGE="s3",
        FIELDBOOK_S3_BUCKET=bucket,
        FIELDBOOK_S3_ENDPOINT_URL=s3.endpoint,
        FIELDBOOK_S3_REGION=S3_REGION,
        FIELDBOOK_S3_ACCESS_KEY_ID=S3_KEY_ID,
        FIELDBOOK_S3_SECRET_ACCESS_KEY=S3_SECRET,
        FIELDBOOK_S3_ADDRESSING_STYLE="path",
        FIELDBOOK_S3_MAX_ATTEMPTS="2",
        FIELDBOOK_S3_PART_ATTEMPTS="2",
        FIELDBOOK_S3_CONNECT_TIMEOUT="2",
        FIELDBOOK_S3_READ_TIMEOUT="10",
    )


def test_rel13_s3_unreachable_acknowledges_nothing_and_the_upload_finishes_later(
    start_server: StartServer, s3: S3Process
) -> None:
    """503 and no item while S3 is away; the kept upload completes once it is back."""
    bucket = f"fieldbook-{uuid.uuid4().hex[:16]}"
    create_bucket(s3, bucket)
    server = s3_server(start_server, s3, bucket)
    phone = server.researcher
    visit = phone.new_visit()
    before = phone.send_photo(visit, phone_photo(seed=13))
    assert before.status_code == 201, before.text
    assert phone.settled(visit, before.json()["id"])["status"] == "ready"
    recording = SyntheticRecording(MIB + 123, seed=13)
    expected = recording.sha256()
    url = phone.new_upload(visit, recording.size, sha256=expected)
    part = server.spool / f"{url.rsplit('/', 1)[1]}.part"

    s3.kill()
    photo = phone_photo(seed=131)
    single = phone.send_photo(visit, photo, sha256=sha256_hex(photo))
    last_patch = phone.patch(url, 0, recording.bytes_at(0, recording.size))

    for refused in (single, last_patch):
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "storage.unavailable"
    assert [item["id"] for item in phone.evidence(visit)] == [before.json()["id"]]
    progress = phone.head(url)
    assert progress.headers["Upload-Offset"] == str(recording.size)
    assert "Fieldbook-Evidence-Id" not in progress.headers
    assert part.read_bytes() == recording.bytes_at(0, recording.size)

    # S3 comes back on the same address (empty: moto keeps its data in memory)
    s3.start()
    create_bucket(s3, bucket)
    finished = phone.patch(url, recording.size, b"")

    assert finished.status_code == 204, finished.text
    item_id = finished.headers["Fieldbook-Evidence-Id"]
    item = phone.settled(visit, item_id)
    assert (item["status"], item["sha256"], item["size"]) == ("ready", expected, recording.size)
    original = phone.api("GET", f"/evidence/{item_id}/original")
    assert original.status_code == 200
    assert sha256_hex(original.content) == expected
    assert not [name for name in server.spool_files() if part.stem in name]
    resent = phone.send_photo(visit, photo, sha256=sha256_hex(photo))
    assert resent.status_code == 201, resent.text
    assert len(phone.evidence(visit)) == 3
