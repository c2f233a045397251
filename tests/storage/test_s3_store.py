"""S3 backend behaviour against moto's S3 server over real HTTP, with faults injected in
the network path by an HTTP relay."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from server.storage import S3BlobStore, StorageUnavailable, content_disposition

from .conftest import list_bucket
from .s3_relay import RelayedRequest, S3Relay
from .streams import MIB, GeneratedStream, TriggerStream, generated_sha256

MakeStore = Callable[..., S3BlobStore]
THREE_PARTS = 11 * MIB


def closed_port_endpoint() -> str:
    """Return the URL of a port on 127.0.0.1 that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def part_uploads(requests_seen: list[RelayedRequest]) -> list[str]:
    """Return the part numbers of every part upload the relay saw, in order."""
    return [
        request.query["partNumber"][0]
        for request in requests_seen
        if request.method == "PUT" and "partNumber" in request.query
    ]


def checksum_headers(request: RelayedRequest) -> list[str]:
    """Return the flexible-checksum headers some S3-compatible stores refuse."""
    return [
        name
        for name in request.headers
        if name.startswith("x-amz-checksum") or name in {"x-amz-sdk-checksum-algorithm"}
    ]


def test_short_stream_is_one_put_with_content_md5_and_no_crc(
    make_s3_store: MakeStore, s3_relay: S3Relay
) -> None:
    store = make_s3_store(endpoint_url=s3_relay.endpoint_url, max_attempts=1)

    stored = store.put_stream(GeneratedStream(MIB, seed=1))

    writes = [request for request in s3_relay.requests if request.method in {"PUT", "POST"}]
    assert len(writes) == 1
    assert writes[0].path.endswith(f"/evidence/{stored.key}")
    assert writes[0].body_size == MIB
    assert "content-md5" in writes[0].headers
    assert checksum_headers(writes[0]) == []


def test_long_stream_goes_part_by_part_through_staging_to_its_content_key(
    make_s3_store: MakeStore, s3_relay: S3Relay, s3_admin: Any, bucket: str
) -> None:
    store = make_s3_store(endpoint_url=s3_relay.endpoint_url, max_attempts=1)

    stored = store.put_stream(GeneratedStream(THREE_PARTS, seed=2))

    seen = s3_relay.requests
    assert part_uploads(seen) == ["1", "2", "3"]
    parts = [request for request in seen if "partNumber" in request.query]
    assert all("/evidence/staging/" in request.path for request in parts)
    assert [request.body_size for request in parts] == [5 * MIB, 5 * MIB, MIB]
    assert all("content-md5" in request.headers for request in parts)
    assert [name for request in seen for name in checksum_headers(request)] == []
    assert any("x-amz-copy-source" in request.headers for request in seen)
    head = s3_admin.head_object(Bucket=bucket, Key=f"evidence/{stored.key}")
    assert head["Metadata"] == {"sha256": generated_sha256(THREE_PARTS, seed=2)}
    assert list_bucket(s3_admin, bucket) == [f"evidence/{stored.key}"]


def test_reliability_15_retried_part_replaces_the_damaged_one(
    make_s3_store: MakeStore, s3_relay: S3Relay, s3_admin: Any, bucket: str
) -> None:
    store = make_s3_store(endpoint_url=s3_relay.endpoint_url, max_attempts=1)
    # The server keeps a damaged part 2 and answers 500; only a resend can repair it.
    s3_relay.damage_part_once(2)

    stored = store.put_stream(GeneratedStream(THREE_PARTS, seed=3))

    assert part_uploads(s3_relay.requests) == ["1", "2", "2", "3"]
    expected = generated_sha256(THREE_PARTS, seed=3)
    assert stored.sha256 == expected
    body = s3_admin.get_object(Bucket=bucket, Key=f"evidence/{stored.key}")["Body"].read()
    assert len(body) == THREE_PARTS
    assert hashlib.sha256(body).hexdigest() == expected
    assert list_bucket(s3_admin, bucket) == [f"evidence/{stored.key}"]


def test_reliability_15_part_failing_every_attempt_aborts_the_upload(
    make_s3_store: MakeStore, s3_relay: S3Relay, s3_admin: Any, bucket: str
) -> None:
    store = make_s3_store(endpoint_url=s3_relay.endpoint_url, max_attempts=1, part_attempts=3)
    for _ in range(3):
        s3_relay.damage_part_once(2)

    with pytest.raises(StorageUnavailable):
        store.put_stream(GeneratedStream(THREE_PARTS, seed=4))

    assert part_uploads(s3_relay.requests) == ["1", "2", "2", "2"]
    assert list_bucket(s3_admin, bucket) == []


@pytest.mark.parametrize("size", [0, MIB, THREE_PARTS], ids=["empty", "small", "multipart"])
def test_reliability_13_unreachable_s3_refuses_the_upload(
    make_s3_store: MakeStore, size: int
) -> None:
    store = make_s3_store(endpoint_url=closed_port_endpoint(), max_attempts=1)

    with pytest.raises(StorageUnavailable):
        store.put_stream(GeneratedStream(size, seed=5))
    with pytest.raises(StorageUnavailable):
        store.exists(generated_sha256(size, seed=5))


def test_reliability_13_s3_lost_mid_upload_is_not_acknowledged_and_cleaned_up_later(
    make_s3_store: MakeStore, s3_relay: S3Relay, s3_admin: Any, bucket: str
) -> None:
    store = make_s3_store(endpoint_url=s3_relay.endpoint_url, max_attempts=1)
    source = TriggerStream(GeneratedStream(THREE_PARTS, seed=6), 6 * MIB, s3_relay.go_down)

    with pytest.raises(StorageUnavailable):
        store.put_stream(source)

    s3_relay.come_back()
    assert not store.exists(generated_sha256(THREE_PARTS, seed=6))
    # The abort could not reach S3 either: the unfinished upload waits for the cleanup.
    leftover = list_bucket(s3_admin, bucket)
    assert len(leftover) == 1 and leftover[0].startswith("multipart:evidence/staging/")
    assert store.cleanup_abandoned_multipart(timedelta(0)) == 1
    assert list_bucket(s3_admin, bucket) == []


def test_reliability_15_abandoned_multipart_uploads_are_cleaned_up(
    make_s3_store: MakeStore, s3_admin: Any, bucket: str
) -> None:
    store = make_s3_store()
    for key in ("evidence/staging/crashed", "evidence/derived/display/crashed.jpg"):
        upload = s3_admin.create_multipart_upload(Bucket=bucket, Key=key)
        s3_admin.upload_part(
            Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024
        )
    s3_admin.create_multipart_upload(Bucket=bucket, Key="another-app/upload")
    # Every upload above started after this threshold, so none is old enough yet.
    since_2000 = datetime.now(UTC) - datetime(2000, 1, 1, tzinfo=UTC)

    assert store.cleanup_abandoned_multipart(since_2000) == 0
    assert len(list_bucket(s3_admin, bucket)) == 3
    assert store.cleanup_abandoned_multipart(timedelta(0)) == 2
    assert list_bucket(s3_admin, bucket) == ["multipart:another-app/upload"]


def test_cleanup_stale_removes_staging_objects_left_by_a_crash(
    make_s3_store: MakeStore, s3_admin: Any, bucket: str
) -> None:
    store = make_s3_store()
    kept = store.put_stream(GeneratedStream(MIB, seed=7))
    s3_admin.put_object(Bucket=bucket, Key="evidence/staging/crashed-before-copy", Body=b"x")

    assert store.cleanup_stale(timedelta(days=1)) == 0
    assert store.cleanup_stale(timedelta(0)) == 1
    assert list_bucket(s3_admin, bucket) == [f"evidence/{kept.key}"]


def test_objects_over_the_copy_threshold_are_copied_part_by_part(
    make_s3_store: MakeStore, s3_admin: Any, bucket: str
) -> None:
    store = make_s3_store(copy_threshold=6 * MIB, copy_part_size=5 * MIB)

    stored = store.put_stream(GeneratedStream(THREE_PARTS, seed=8))

    head = s3_admin.head_object(Bucket=bucket, Key=f"evidence/{stored.key}")
    assert head["ETag"].strip('"').endswith("-3")
    assert head["ContentLength"] == THREE_PARTS
    assert store.verify(stored.sha256)
    assert list_bucket(s3_admin, bucket) == [f"evidence/{stored.key}"]


def test_presigned_url_is_short_lived_and_names_the_download(make_s3_store: MakeStore) -> None:
    store = make_s3_store()
    stored = store.put_stream(GeneratedStream(MIB, seed=9))

    url = store.presigned_url(
        stored.sha256,
        filename="../Beleg März\n.jpg",
        content_type="image/jpeg",
        disposition="attachment",
        expires=60,
    )

    assert url is not None and "X-Amz-Expires=60" in url
    response = requests.get(url, timeout=30)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == stored.sha256
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Content-Disposition"] == content_disposition(
        "attachment", "Beleg März.jpg"
    )


@pytest.mark.parametrize("expires", [0, 3601])
def test_presigned_url_refuses_long_lives(make_s3_store: MakeStore, expires: int) -> None:
    store = make_s3_store()
    with pytest.raises(ValueError, match="expires"):
        store.presigned_url(
            "0" * 64,
            filename="a.jpg",
            content_type="image/jpeg",
            disposition="inline",
            expires=expires,
        )


def test_key_prefix_keeps_stores_in_one_bucket_apart(
    make_s3_store: MakeStore, s3_admin: Any, bucket: str
) -> None:
    berlin = make_s3_store(prefix="berlin/")
    lisbon = make_s3_store(prefix="/lisbon")

    stored = berlin.put_stream(GeneratedStream(MIB, seed=10))

    assert not lisbon.exists(stored.sha256)
    assert list(lisbon.iter_blobs()) == []
    assert list(berlin.iter_blobs()) == [stored.sha256]
    assert list_bucket(s3_admin, bucket) == [f"berlin/{stored.key}"]
