"""Building the store from configuration, as the app factory will."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from server.storage import LocalBlobStore, S3BlobStore, StorageConfigError, build_store

from .conftest import S3_KEY_ID, S3_REGION, S3_SECRET, list_bucket


def test_local_is_the_default(tmp_path: Path) -> None:
    store = build_store({"STORAGE_PATH": str(tmp_path / "media")})

    assert isinstance(store, LocalBlobStore)
    assert store.put_stream(io.BytesIO(b"note")).created
    assert (tmp_path / "media" / "blobs").is_dir()


def test_s3_store_is_built_from_environment_style_values(
    moto_endpoint: str, bucket: str, s3_admin: Any
) -> None:
    store = build_store(
        {
            "STORAGE": "S3",
            "S3_BUCKET": bucket,
            "S3_ENDPOINT_URL": moto_endpoint,
            "S3_REGION": S3_REGION,
            "S3_ACCESS_KEY_ID": S3_KEY_ID,
            "S3_SECRET_ACCESS_KEY": S3_SECRET,
            "S3_PREFIX": "fieldbook",
            "S3_ADDRESSING_STYLE": "path",
            "S3_PART_SIZE": "6291456",
            "S3_MAX_ATTEMPTS": "2",
        }
    )
    try:
        assert isinstance(store, S3BlobStore)
        assert store.settings.part_size == 6 * 1024 * 1024
        assert store.settings.max_attempts == 2
        stored = store.put_stream(io.BytesIO(b"receipt"))
        assert list_bucket(s3_admin, bucket) == [f"fieldbook/{stored.key}"]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "STORAGE_PATH"),
        ({"STORAGE": "ftp", "STORAGE_PATH": "/srv"}, "STORAGE must be"),
        ({"STORAGE": "s3"}, "S3_BUCKET"),
        ({"STORAGE": "s3", "S3_BUCKET": "b", "S3_PART_SIZE": "1024"}, "part_size"),
        ({"STORAGE": "s3", "S3_BUCKET": "b", "S3_PART_SIZE": "big"}, "S3_PART_SIZE"),
        ({"STORAGE": "s3", "S3_BUCKET": "b", "S3_ADDRESSING_STYLE": "dns"}, "addressing"),
        ({"STORAGE": "s3", "S3_BUCKET": "b", "S3_PREFIX": "a/../b"}, "prefix"),
    ],
)
def test_bad_configuration_is_refused_with_the_key_named(
    config: dict[str, str], message: str
) -> None:
    with pytest.raises(StorageConfigError, match=message):
        build_store(config)
