"""Build the evidence blob store from application configuration.

``build_store(app.config)`` reads these keys (set them as ``FIELDBOOK_<KEY>`` in the
environment; the app factory strips the prefix):

``STORAGE``
    ``"local"`` (default, the embedded profile) or ``"s3"``.
``STORAGE_PATH``
    Local only, required: the folder holding ``blobs/``, ``derived/`` and ``tmp/``.
``S3_BUCKET``
    S3 only, required: the bucket name.
``S3_ENDPOINT_URL``
    URL of an S3-compatible store (MinIO, Ceph, Garage...); unset for AWS.
``S3_REGION``
    Region name, e.g. ``eu-central-1``.
``S3_ACCESS_KEY_ID`` / ``S3_SECRET_ACCESS_KEY`` / ``S3_SESSION_TOKEN``
    Credentials; unset to use boto3's usual chain (environment, instance role...).
``S3_PREFIX``
    Key prefix inside the bucket, e.g. ``fieldbook/``; default none.
``S3_ADDRESSING_STYLE``
    ``auto`` (default), ``path`` (most self-hosted stores) or ``virtual``.
``S3_PART_SIZE``
    Multipart part size in bytes, 5 MiB to 5 GiB; default 8 MiB. Streams shorter than
    one part are sent with a single PUT.
``S3_MAX_ATTEMPTS``
    botocore attempts per request; default 3.
``S3_PART_ATTEMPTS``
    Times the store sends one part before giving up; default 3.
``S3_CONNECT_TIMEOUT`` / ``S3_READ_TIMEOUT``
    Seconds; default 5 and 60.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import BlobStore
from .local import LocalBlobStore
from .s3 import S3BlobStore
from .s3_settings import DEFAULT_PART_SIZE, S3Settings


class StorageConfigError(ValueError):
    """Raise when the storage configuration is missing or malformed."""


def _text(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _number(config: Mapping[str, Any], key: str, default: float, kind: type) -> Any:
    value = config.get(key)
    if value is None or value == "":
        return default
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise StorageConfigError(f"{key} must be a number, got {value!r}") from None


def build_store(config: Mapping[str, Any]) -> BlobStore:
    """Build the blob store that ``config`` describes (see the module docstring)."""
    kind = (_text(config, "STORAGE") or "local").lower()
    if kind == "local":
        path = _text(config, "STORAGE_PATH")
        if path is None:
            raise StorageConfigError("STORAGE_PATH is required when STORAGE is 'local'")
        return LocalBlobStore(path)
    if kind == "s3":
        bucket = _text(config, "S3_BUCKET")
        if bucket is None:
            raise StorageConfigError("S3_BUCKET is required when STORAGE is 's3'")
        try:
            settings = S3Settings(
                bucket=bucket,
                prefix=_text(config, "S3_PREFIX") or "",
                endpoint_url=_text(config, "S3_ENDPOINT_URL"),
                region=_text(config, "S3_REGION"),
                access_key_id=_text(config, "S3_ACCESS_KEY_ID"),
                secret_access_key=_text(config, "S3_SECRET_ACCESS_KEY"),
                session_token=_text(config, "S3_SESSION_TOKEN"),
                addressing_style=(_text(config, "S3_ADDRESSING_STYLE") or "auto").lower(),
                part_size=_number(config, "S3_PART_SIZE", DEFAULT_PART_SIZE, int),
                max_attempts=_number(config, "S3_MAX_ATTEMPTS", 3, int),
                part_attempts=_number(config, "S3_PART_ATTEMPTS", 3, int),
                connect_timeout=_number(config, "S3_CONNECT_TIMEOUT", 5.0, float),
                read_timeout=_number(config, "S3_READ_TIMEOUT", 60.0, float),
            )
        except ValueError as error:
            raise StorageConfigError(str(error)) from error
        return S3BlobStore(settings)
    raise StorageConfigError(f"STORAGE must be 'local' or 's3', got {kind!r}")
