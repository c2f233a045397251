"""Settings of the S3 evidence store, checked once when the store is built."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024
GIB = 1024 * MIB
MIN_PART_SIZE = 5 * MIB
MAX_PART_SIZE = 5 * GIB
DEFAULT_PART_SIZE = 8 * MIB
ADDRESSING_STYLES = frozenset({"auto", "path", "virtual"})


@dataclass(frozen=True, slots=True)
class S3Settings:
    """Where and how an ``S3BlobStore`` talks to S3 or an S3-compatible store.

    ``max_attempts`` is botocore's per-request budget; ``part_attempts`` is how often
    the store itself sends one part again (same part number) before giving up.
    ``copy_threshold`` is the largest object copied with one CopyObject; larger ones are
    copied with UploadPartCopy in ``copy_part_size`` pieces.
    """

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    addressing_style: str = "auto"
    part_size: int = DEFAULT_PART_SIZE
    max_attempts: int = 3
    part_attempts: int = 3
    retry_delay: float = 0.5
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    max_pool_connections: int = 10
    copy_threshold: int = 5 * GIB
    copy_part_size: int = 512 * MIB

    def __post_init__(self) -> None:
        if not self.bucket:
            raise ValueError("an S3 bucket is required")
        if self.addressing_style not in ADDRESSING_STYLES:
            raise ValueError(f"addressing_style must be one of {sorted(ADDRESSING_STYLES)}")
        # S3 refuses parts under 5 MiB (except the last) and over 5 GiB.
        for name, value in (("part_size", self.part_size), ("copy_part_size", self.copy_part_size)):
            if not MIN_PART_SIZE <= value <= MAX_PART_SIZE:
                raise ValueError(f"{name} must be between 5 MiB and 5 GiB, got {value}")
        if not 0 < self.copy_threshold <= MAX_PART_SIZE:
            raise ValueError("copy_threshold must be between 1 byte and 5 GiB")
        if self.max_attempts < 1 or self.part_attempts < 1:
            raise ValueError("max_attempts and part_attempts must be at least 1")
        if self.retry_delay < 0 or self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("retry_delay must not be negative and timeouts must be positive")
        if ".." in self.prefix.split("/"):
            raise ValueError("prefix must not contain '..'")

    @property
    def normalised_prefix(self) -> str:
        """Return the key prefix without a leading slash and with one trailing slash."""
        prefix = self.prefix.strip("/")
        return f"{prefix}/" if prefix else ""
