"""Evidence blob storage: one small interface, a local folder backend and an S3 backend.

Build one store per application with ``build_store(app.config)``; the configuration keys
are documented in ``server.storage.config``. Originals are addressed by sha256 and stored
once; derived copies are separate objects.
"""

from .base import (
    BlobNotFound,
    BlobStore,
    ChecksumMismatch,
    DerivedCopy,
    ReadableStream,
    SizeLimitExceeded,
    StorageError,
    StorageUnavailable,
    StoredBlob,
    blob_key,
    derived_key,
    is_sha256,
)
from .config import StorageConfigError, build_store
from .disposition import content_disposition, safe_filename
from .local import LocalBlobStore
from .s3 import S3BlobStore
from .s3_settings import S3Settings

__all__ = [
    "BlobNotFound",
    "BlobStore",
    "ChecksumMismatch",
    "DerivedCopy",
    "LocalBlobStore",
    "ReadableStream",
    "S3BlobStore",
    "S3Settings",
    "SizeLimitExceeded",
    "StorageConfigError",
    "StorageError",
    "StorageUnavailable",
    "StoredBlob",
    "blob_key",
    "build_store",
    "content_disposition",
    "derived_key",
    "is_sha256",
    "safe_filename",
]
