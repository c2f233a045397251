"""Moving bytes to and within S3: the client, single PUTs, multipart uploads and copies.

Every request goes through ``talking_to_s3`` so that botocore's many failure types reach
the service layer as ``StorageUnavailable`` (try again later, acknowledge nothing) or
``StorageError`` (refused).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import boto3
from botocore import exceptions as boto_errors
from botocore.config import Config

from .base import HashingReader, StorageError, StorageUnavailable
from .s3_settings import S3Settings

logger = logging.getLogger(__name__)

MAX_PARTS = 10_000
# S3 answers these when the same request may well succeed if sent again.
_TRANSIENT_CODES = frozenset(
    {"BadDigest", "RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable"}
)
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def error_code(error: boto_errors.ClientError) -> str:
    """Return the S3 error code of a client error, e.g. ``NoSuchKey``."""
    return str(error.response.get("Error", {}).get("Code", ""))


def is_missing(error: boto_errors.ClientError) -> bool:
    """Tell whether a client error means the object does not exist."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or error_code(error) in _MISSING_CODES


@contextmanager
def talking_to_s3(action: str) -> Iterator[None]:
    """Turn botocore failures into storage errors the service layer understands."""
    try:
        yield
    except (boto_errors.ConnectionError, boto_errors.HTTPClientError) as error:
        raise StorageUnavailable(f"S3 is unreachable while trying to {action}") from error
    except boto_errors.ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = error_code(error)
        if status >= 500 or code in _TRANSIENT_CODES:
            raise StorageUnavailable(f"S3 could not {action} ({code or status})") from error
        raise StorageError(f"S3 refused to {action} ({code or status})") from error
    except boto_errors.BotoCoreError as error:
        raise StorageError(f"could not {action}: {error}") from error


def content_md5(data: bytes | bytearray) -> str:
    """Return the Content-MD5 header that lets S3 reject a body damaged in transit."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def build_client(settings: S3Settings) -> Any:
    """Build the one boto3 S3 client a store uses for its lifetime (thread-safe)."""
    # A session of its own: boto3's default session is not safe to share across threads,
    # while the client built from it is.
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        aws_session_token=settings.session_token,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": settings.addressing_style},
            retries={"total_max_attempts": settings.max_attempts, "mode": "standard"},
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            max_pool_connections=settings.max_pool_connections,
            # Default CRC checksums (botocore >= 1.36) are refused by several
            # S3-compatible stores; Content-MD5 guards every body instead.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


class PartSource:
    """Hand out a stream's parts in order, holding at most one of them in memory."""

    def __init__(self, reader: HashingReader, part_size: int) -> None:
        self._reader = reader
        self._part_size = part_size
        # The first part decides between a single PUT and a multipart upload.
        self._first: bytearray | None = reader.read_part(part_size)
        self.fits_one_request = len(self._first) < part_size

    def next_part(self) -> bytearray:
        """Return the next part; an empty one at the end of the stream."""
        if self._first is not None:
            part, self._first = self._first, None
            return part
        return self._reader.read_part(self._part_size)


class S3Transfer:
    """Write objects into one bucket: single PUTs, multipart uploads, server-side copies."""

    def __init__(self, client: Any, settings: S3Settings) -> None:
        self.client = client
        self.bucket = settings.bucket
        self.settings = settings

    def put_object(
        self, key: str, body: bytearray, content_type: str, metadata: dict[str, str]
    ) -> None:
        """Store a body that fits in one request."""
        with talking_to_s3("store an object"):
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentMD5=content_md5(body),
                ContentType=content_type,
                Metadata=metadata,
            )

    def delete_quietly(self, key: str) -> None:
        """Delete an object, leaving it to ``cleanup_stale`` if S3 cannot be reached."""
        try:
            with talking_to_s3("delete an object"):
                self.client.delete_object(Bucket=self.bucket, Key=key)
        except StorageError:
            logger.warning("could not delete %s; cleanup_stale will remove it", key)

    def _with_retries(self, action: str, call: Callable[[], Any]) -> Any:
        """Run an idempotent request (a part, a copy), sending it again after a transient fault."""
        attempts = self.settings.part_attempts
        for attempt in range(1, attempts):
            try:
                with talking_to_s3(action):
                    return call()
            except StorageUnavailable:
                logger.warning("retrying S3 %s (attempt %d of %d)", action, attempt, attempts)
                time.sleep(self.settings.retry_delay * attempt)
        with talking_to_s3(action):
            return call()

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            with talking_to_s3("abort a multipart upload"):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except StorageError:
            logger.warning(
                "could not abort multipart upload %s of %s; "
                "cleanup_abandoned_multipart will remove it",
                upload_id,
                key,
            )

    def _complete(self, key: str, upload_id: str, parts: list[dict[str, Any]]) -> None:
        with talking_to_s3("complete a multipart upload"):
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )

    def _start(self, key: str, content_type: str, metadata: dict[str, str]) -> str:
        with talking_to_s3("start a multipart upload"):
            upload_id: str = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type, Metadata=metadata
            )["UploadId"]
        return upload_id

    def upload_parts(
        self,
        key: str,
        parts_source: PartSource,
        content_type: str,
        before_complete: Callable[[], None],
    ) -> None:
        """Send every part of ``parts_source`` to ``key``; abort on any failure.

        ``before_complete`` runs once every part is sent and may refuse the upload by
        raising, e.g. when the bytes do not hash to the sha256 the client announced.
        """
        upload_id = self._start(key, content_type, {})
        try:
            parts: list[dict[str, Any]] = []
            while True:
                part = parts_source.next_part()
                if not part:
                    break
                number = len(parts) + 1
                if number > MAX_PARTS:
                    raise StorageError(f"stream needs more than {MAX_PARTS} parts")
                # Sending the same part number again replaces whatever a failed try left.
                response = self._with_retries(
                    f"upload part {number}",
                    partial(
                        self.client.upload_part,
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=part,
                        ContentMD5=content_md5(part),
                    ),
                )
                parts.append({"PartNumber": number, "ETag": response["ETag"]})
                # Drop this part before reading the next: one part in memory at a time.
                del part
            before_complete()
            self._complete(key, upload_id, parts)
        except BaseException:
            self._abort(key, upload_id)
            raise

    def copy(self, source_key: str, key: str, size: int, metadata: dict[str, str]) -> None:
        """Copy an object server-side, part by part above ``copy_threshold``."""
        source = {"Bucket": self.bucket, "Key": source_key}
        if size <= self.settings.copy_threshold:
            # A copy is idempotent, so a transient fault is met like a failed part: again.
            self._with_retries(
                "copy an object",
                partial(
                    self.client.copy_object,
                    Bucket=self.bucket,
                    Key=key,
                    CopySource=source,
                    MetadataDirective="REPLACE",
                    ContentType="application/octet-stream",
                    Metadata=metadata,
                ),
            )
            return
        upload_id = self._start(key, "application/octet-stream", metadata)
        try:
            parts: list[dict[str, Any]] = []
            step = self.settings.copy_part_size
            for number, start in enumerate(range(0, size, step), start=1):
                response = self._with_retries(
                    f"copy part {number}",
                    partial(
                        self.client.upload_part_copy,
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        CopySource=source,
                        CopySourceRange=f"bytes={start}-{min(start + step, size) - 1}",
                    ),
                )
                parts.append({"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]})
            self._complete(key, upload_id, parts)
        except BaseException:
            self._abort(key, upload_id)
            raise
