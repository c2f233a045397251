"""Fixtures for the evidence storage tests: a real S3 API server and both backends."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from server.storage import BlobStore, LocalBlobStore, S3BlobStore, S3Settings

from .s3_relay import S3Relay
from .streams import MIB

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_PART_SIZE = 5 * MIB
S3_REGION = "eu-central-1"
S3_KEY_ID = "fieldbook-test"
S3_SECRET = "fieldbook-test-secret"


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start moto's threaded S3 server on a free port of 127.0.0.1; yield its URL."""
    log_path = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.storage.moto_process"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
        )
    assert server.stdout is not None and server.stdin is not None
    port = server.stdout.readline().strip()
    if not port.isdigit():
        server.kill()
        server.wait()
        pytest.fail(f"moto server did not start: {log_path.read_text(errors='replace')}")
    try:
        yield f"http://127.0.0.1:{int(port)}"
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()


@pytest.fixture(scope="session")
def s3_admin(moto_endpoint: str) -> Iterator[Any]:
    """Yield a plain boto3 client for setting up and inspecting buckets."""
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=S3_REGION,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
        config=Config(s3={"addressing_style": "path"}),
    )
    yield client
    client.close()


@pytest.fixture
def bucket(s3_admin: Any) -> str:
    """Create a fresh, empty bucket for one test."""
    name = f"fieldbook-{uuid.uuid4().hex[:20]}"
    s3_admin.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": S3_REGION})
    return name


@pytest.fixture
def s3_settings(moto_endpoint: str, bucket: str) -> S3Settings:
    """Return settings for a store on the test bucket with 5 MiB parts and no retry pause."""
    # botocore keeps its usual three attempts: moto's server is not thread-safe and now and
    # then answers a racing request with a 500, which real S3 clients retry as well.
    return S3Settings(
        bucket=bucket,
        prefix="evidence",
        endpoint_url=moto_endpoint,
        region=S3_REGION,
        access_key_id=S3_KEY_ID,
        secret_access_key=S3_SECRET,
        addressing_style="path",
        part_size=TEST_PART_SIZE,
        max_attempts=3,
        part_attempts=3,
        retry_delay=0.0,
        connect_timeout=2.0,
        read_timeout=30.0,
    )


@pytest.fixture
def make_s3_store(s3_settings: S3Settings) -> Iterator[Callable[..., S3BlobStore]]:
    """Build S3 stores on the test bucket, with settings changed as asked; close them after."""
    stores: list[S3BlobStore] = []

    def make(**changes: Any) -> S3BlobStore:
        store = S3BlobStore(replace(s3_settings, **changes))
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def s3_relay(moto_endpoint: str) -> Iterator[S3Relay]:
    """Put a fault-injecting HTTP relay in front of the S3 server."""
    relay = S3Relay(moto_endpoint)
    yield relay
    relay.close()


def list_bucket(s3_admin: Any, bucket: str) -> list[str]:
    """Return every object key and every unfinished multipart upload in a bucket."""
    keys = [
        entry["Key"]
        for page in s3_admin.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for entry in page.get("Contents", [])
    ]
    uploads = s3_admin.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return sorted(keys + [f"multipart:{upload['Key']}" for upload in uploads])


def list_folder(root: Path) -> list[str]:
    """Return every file under a local store's folder, temporary files included."""
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


@dataclass
class Backend:
    """A store under test, a way to open a second instance on the same place, and an
    inventory of everything stored there (temporary files and pending uploads included)."""

    name: str
    store: BlobStore
    open_another: Callable[[], BlobStore]
    inventory: Callable[[], list[str]]

    def blob_entries(self) -> list[str]:
        """Return the inventory entries that hold originals."""
        return [entry for entry in self.inventory() if "blobs/" in entry]

    def leftovers(self) -> list[str]:
        """Return temporary files, staging objects and unfinished multipart uploads."""
        return [
            entry
            for entry in self.inventory()
            if entry.startswith(("tmp/", "multipart:")) or "/staging/" in entry
        ]


@pytest.fixture(params=["local", "s3"])
def blob_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Yield each backend in turn, so one contract test covers both."""
    if request.param == "local":
        root = tmp_path / "media"
        yield Backend(
            "local",
            LocalBlobStore(root),
            lambda: LocalBlobStore(root),
            lambda: list_folder(root),
        )
        return
    make_s3_store = request.getfixturevalue("make_s3_store")
    s3_admin = request.getfixturevalue("s3_admin")
    bucket = request.getfixturevalue("bucket")
    yield Backend(
        "s3",
        make_s3_store(),
        make_s3_store,
        lambda: list_bucket(s3_admin, bucket),
    )
