"""Evidence blobs in S3 or any S3-compatible store, through one boto3 client per store.

Layout under the bucket and key prefix::

    blobs/ab/cd/<sha256>   originals, written once
    derived/<name>         derived copies
    staging/<uuid4>        multipart uploads whose sha256 is not known yet

A stream shorter than one part is hashed in memory and sent with a single PUT to its
content key. A longer one is sent part by part (hashed as it goes) to a staging key,
because its content key is only known at the end, then copied server-side to the content
key. Any failure aborts the multipart upload, so nothing half-written remains.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from botocore import exceptions as boto_errors

from .base import (
    BLOB_PREFIX,
    CHUNK_SIZE,
    DERIVED_PREFIX,
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
from .s3_settings import S3Settings
from .s3_transfer import (
    PartSource,
    S3Transfer,
    build_client,
    error_code,
    is_missing,
    talking_to_s3,
)

OCTET_STREAM = "application/octet-stream"
STAGING_PREFIX = "staging/"
MAX_PRESIGNED_EXPIRES = 3600


class S3BlobStore(BlobStore):
    """Store evidence originals and derived copies in an S3 bucket."""

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.prefix = settings.normalised_prefix
        self._client = build_client(settings)
        self._transfer = S3Transfer(self._client, settings)

    def close(self) -> None:
        """Close the client's connection pool."""
        self._client.close()

    def _key(self, logical_key: str) -> str:
        return self.prefix + logical_key

    def _object_size(self, key: str) -> int | None:
        with talking_to_s3("look up an object"):
            try:
                response = self._client.head_object(Bucket=self.bucket, Key=key)
            except boto_errors.ClientError as error:
                if is_missing(error):
                    return None
                raise
        return int(response["ContentLength"])

    def _open_object(self, key: str, label: str) -> BinaryIO:
        with talking_to_s3("read an object"):
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=key)
            except boto_errors.ClientError as error:
                if is_missing(error):
                    raise BlobNotFound(label) from None
                raise
        body: BinaryIO = response["Body"]
        return body

    def _iter_objects(self, logical_prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self._client.get_paginator("list_objects_v2")
        with talking_to_s3("list objects"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(logical_prefix)):
                yield from page.get("Contents", [])

    def put_stream(
        self,
        fileobj: ReadableStream,
        *,
        expected_sha256: str | None = None,
        size_limit: int | None = None,
    ) -> StoredBlob:
        """Store a stream once under its sha256; leave nothing behind if it is refused.

        Raise ``StorageUnavailable`` when S3 cannot be reached: nothing is stored then,
        and the caller must not acknowledge the upload. Two writers racing with the same
        bytes may both report ``created``; they still leave one object.
        """
        expected = normalise_expected_sha256(expected_sha256)
        reader = HashingReader(fileobj, size_limit=size_limit, chunk_size=CHUNK_SIZE)
        parts = PartSource(reader, self.settings.part_size)
        if parts.fits_one_request:
            body = parts.next_part()
            reader.check_expected(expected)
            sha256 = reader.sha256
            key = self._key(blob_key(sha256))
            # A different size at a content key can only be damage: write it again.
            created = self._object_size(key) != reader.size
            if created:
                self._transfer.put_object(key, body, OCTET_STREAM, {"sha256": sha256})
            return StoredBlob(sha256, reader.size, blob_key(sha256), created)

        staging = self._key(f"{STAGING_PREFIX}{uuid.uuid4().hex}")
        self._transfer.upload_parts(
            staging, parts, OCTET_STREAM, lambda: reader.check_expected(expected)
        )
        try:
            sha256 = reader.sha256
            key = self._key(blob_key(sha256))
            created = self._object_size(key) != reader.size
            if created:
                self._transfer.copy(staging, key, reader.size, {"sha256": sha256})
        finally:
            self._transfer.delete_quietly(staging)
        return StoredBlob(sha256, reader.size, blob_key(sha256), created)

    def open(self, sha256: str) -> BinaryIO:
        """Open an original for reading; raise ``BlobNotFound`` if it is not stored."""
        return self._open_object(self._key(blob_key(sha256)), sha256)

    def exists(self, sha256: str) -> bool:
        """Tell whether an original is stored."""
        return self._object_size(self._key(blob_key(sha256))) is not None

    def size(self, sha256: str) -> int:
        """Return the size in bytes of a stored original."""
        size = self._object_size(self._key(blob_key(sha256)))
        if size is None:
            raise BlobNotFound(sha256)
        return size

    def delete(self, sha256: str) -> None:
        """Delete an original; deleting one that is not stored is not an error."""
        with talking_to_s3("delete an object"):
            self._client.delete_object(Bucket=self.bucket, Key=self._key(blob_key(sha256)))

    def iter_blobs(self) -> Iterator[str]:
        """Yield the sha256 of every stored original."""
        for entry in self._iter_objects(BLOB_PREFIX):
            name = entry["Key"].rsplit("/", 1)[-1]
            if is_sha256(name) and entry["Key"] == self._key(blob_key(name)):
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
        """Return a short-lived GET URL that answers with the given name and type."""
        check_sha256(sha256)
        if not content_type:
            raise ValueError("content_type is required")
        if not 0 < expires <= MAX_PRESIGNED_EXPIRES:
            raise ValueError(f"expires must be between 1 and {MAX_PRESIGNED_EXPIRES} seconds")
        with talking_to_s3("sign a download URL"):
            url: str = self._client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": self._key(blob_key(sha256)),
                    "ResponseContentDisposition": content_disposition(disposition, filename),
                    "ResponseContentType": content_type,
                },
                ExpiresIn=expires,
            )
        return url

    def put_derived(
        self, name: str, data_or_stream: bytes | ReadableStream, content_type: str
    ) -> DerivedCopy:
        """Store (or replace) a derived copy under ``derived/<name>``."""
        logical_key = derived_key(name)
        if not content_type:
            raise ValueError("content_type is required")
        source: ReadableStream = (
            io.BytesIO(data_or_stream)
            if isinstance(data_or_stream, bytes | bytearray | memoryview)
            else data_or_stream
        )
        reader = HashingReader(source, chunk_size=CHUNK_SIZE)
        parts = PartSource(reader, self.settings.part_size)
        key = self._key(logical_key)
        if parts.fits_one_request:
            self._transfer.put_object(key, parts.next_part(), content_type, {})
        else:
            self._transfer.upload_parts(key, parts, content_type, lambda: None)
        return DerivedCopy(name, logical_key, reader.size, reader.sha256, content_type)

    def open_derived(self, name: str) -> BinaryIO:
        """Open a derived copy; raise ``BlobNotFound`` if there is none."""
        return self._open_object(self._key(derived_key(name)), name)

    def derived_exists(self, name: str) -> bool:
        """Tell whether a derived copy is stored."""
        return self._object_size(self._key(derived_key(name))) is not None

    def delete_derived(self, name: str) -> None:
        """Delete a derived copy; deleting one that is not stored is not an error."""
        with talking_to_s3("delete a derived copy"):
            self._client.delete_object(Bucket=self.bucket, Key=self._key(derived_key(name)))

    def cleanup_abandoned_multipart(self, older_than: timedelta) -> int:
        """Abort this store's multipart uploads started before ``older_than`` ago.

        S3 reports when an upload started, not when it last moved, so pick a threshold
        longer than the slowest upload (a day is usual).
        """
        cutoff = datetime.now(UTC) - older_than
        paginator = self._client.get_paginator("list_multipart_uploads")
        aborted = 0
        for logical_prefix in (STAGING_PREFIX, DERIVED_PREFIX):
            with talking_to_s3("list multipart uploads"):
                stale = [
                    upload
                    for page in paginator.paginate(
                        Bucket=self.bucket, Prefix=self._key(logical_prefix)
                    )
                    for upload in page.get("Uploads", [])
                    if upload["Initiated"] <= cutoff
                ]
            for upload in stale:
                with talking_to_s3("abort a multipart upload"):
                    try:
                        self._client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                    except boto_errors.ClientError as error:
                        # Another instance's cleanup got there first.
                        if error_code(error) == "NoSuchUpload":
                            continue
                        raise
                aborted += 1
        return aborted

    def cleanup_stale(self, older_than: timedelta) -> int:
        """Abort abandoned multipart uploads and delete leftover staging objects."""
        removed = self.cleanup_abandoned_multipart(older_than)
        cutoff = datetime.now(UTC) - older_than
        for entry in list(self._iter_objects(STAGING_PREFIX)):
            if entry["LastModified"] <= cutoff:
                with talking_to_s3("delete a staging object"):
                    self._client.delete_object(Bucket=self.bucket, Key=entry["Key"])
                removed += 1
        return removed
