"""Sending files: their sha256, and resumable uploads over tus 1.0.

Large recordings go through the server's tus endpoint with the real ``tuspy`` client: the
upload URL is kept (through an ``UploadUrlStore``) the moment the server creates it, so a
sync that is killed resumes from the server's offset instead of sending the file again.
Each chunk carries an ``Upload-Checksum`` (sha256) and the whole file's sha256 travels in
the upload metadata, so the server can verify every byte.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urljoin

import requests
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError, TusUploadFailed
from tusclient.fingerprint.interface import Fingerprint
from tusclient.request import TusRequest
from tusclient.storage.interface import Storage
from tusclient.uploader import Uploader

from field_kit.errors import FieldbookError, NotFoundError, error_from_body, unreachable
from field_kit.retry import RetryPolicy, retryable_status

MiB = 1024 * 1024
DEFAULT_CHUNK_SIZE = 1 * MiB
DEFAULT_RESUMABLE_ABOVE = 4 * MiB
EVIDENCE_ID_HEADER = "fieldbook-evidence-id"  # tuspy lower-cases response headers
HASH_BLOCK = 1 * MiB

# (bytes the server holds, bytes in the file)
ProgressCallback = Callable[[int, int], None]


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class UploadUrlStore(Protocol):
    """Where the URL of an unfinished resumable upload is kept, by a key (the client UUID)."""

    def get_upload_url(self, key: str) -> str | None:
        """Return the stored upload URL for ``key``."""

    def set_upload_url(self, key: str, url: str) -> None:
        """Keep ``url`` for ``key``; it must be durable when this returns."""

    def clear_upload_url(self, key: str) -> None:
        """Forget the upload URL for ``key``."""


class MemoryUrlStore:
    """Upload URLs kept in memory: resumes within one process only."""

    def __init__(self) -> None:
        self._urls: dict[str, str] = {}

    def get_upload_url(self, key: str) -> str | None:
        """Return the stored upload URL for ``key``."""
        return self._urls.get(key)

    def set_upload_url(self, key: str, url: str) -> None:
        """Keep ``url`` for ``key``."""
        self._urls[key] = url

    def clear_upload_url(self, key: str) -> None:
        """Forget the upload URL for ``key``."""
        self._urls.pop(key, None)


@dataclass(frozen=True)
class UploadSettings:
    """How files are sent: the tus threshold and chunk size, a rate cap, retries."""

    resumable_above: int = DEFAULT_RESUMABLE_ABOVE
    chunk_size: int = DEFAULT_CHUNK_SIZE
    max_rate: float | None = None  # bytes per second, for metered or shared links
    timeout: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True)
class TusOutcome:
    """The end of a resumable upload."""

    evidence_id: str | None  # from the final PATCH; None when no PATCH was needed this run
    bytes_sent: int  # bytes put on the wire by this run, failed chunks included
    resumed_from: int  # the server's offset when this run started


class UploadGoneError(NotFoundError):
    """The server no longer knows the upload (expired or terminated)."""


class _StoreAdapter(Storage):
    """tuspy's URL storage over an ``UploadUrlStore``."""

    def __init__(self, store: UploadUrlStore) -> None:
        self.store = store

    def get_item(self, key: str) -> str | None:
        return self.store.get_upload_url(key)

    def set_item(self, key: str, value: str) -> None:
        self.store.set_upload_url(key, value)

    def remove_item(self, key: str) -> None:
        self.store.clear_upload_url(key)


class _KeyFingerprint(Fingerprint):
    """Identify an upload by its client UUID, not by the file's first bytes.

    Two different captures may share their first block (two silent recordings); the
    client UUID names exactly one item.
    """

    def __init__(self, key: str) -> None:
        self.key = key

    def get_fingerprint(self, fs: IO[bytes]) -> str:
        return self.key


class _TimedRequest(TusRequest):
    """A chunk PATCH with a timeout, so that a dead link cannot hang a sync forever."""

    def __init__(self, uploader: _EvidenceUploader) -> None:
        super().__init__(uploader)
        self._timeout = uploader.timeout

    def perform(self) -> None:
        chunk = self.file.read(self._content_length)
        self.add_checksum(chunk)
        try:
            response = requests.patch(
                self._url,
                data=chunk,
                headers=self._request_headers,
                verify=self.verify_tls_cert,
                timeout=self._timeout,
            )
        except requests.RequestException as error:
            raise TusUploadFailed(error) from error
        self.status_code = response.status_code
        self.response_content = response.content
        self.response_headers = {k.lower(): v for k, v in response.headers.items()}


class _EvidenceUploader(Uploader):
    """tuspy's uploader with sha256 chunk checksums and timed chunk requests."""

    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)
    timeout: float = 60.0
    endpoint: str = ""

    last_headers: dict[str, str]

    def _do_request(self) -> None:
        request = _TimedRequest(self)
        self.request = request  # type: ignore[assignment]  # tuspy declares it None
        request.perform()
        self.last_headers = request.response_headers
        if not 200 <= (request.status_code or 0) < 300:
            raise TusUploadFailed("", request.status_code, request.response_content)

    def get_offset(self) -> int:
        """Ask the server how many bytes of the upload it holds (HEAD)."""
        try:
            response = requests.head(
                str(self.url), headers=self.get_headers(), timeout=self.timeout
            )
        except requests.RequestException as error:
            raise TusCommunicationError(error) from error
        offset = response.headers.get("upload-offset")
        if offset is None:
            raise TusCommunicationError(
                f"HEAD answered {response.status_code}", response.status_code, response.content
            )
        return int(offset)

    def create_url(self) -> str:
        """Create the upload on the server (POST) and return its URL."""
        try:
            response = requests.post(
                self.endpoint, headers=self.get_url_creation_headers(), timeout=self.timeout
            )
        except requests.RequestException as error:
            raise TusCommunicationError(error) from error
        location = response.headers.get("location")
        if response.status_code != 201 or not location:
            raise TusCommunicationError(
                f"POST answered {response.status_code}", response.status_code, response.content
            )
        return urljoin(self.endpoint, location)


def _tus_error(base_url: str, error: TusCommunicationError) -> FieldbookError:
    status = error.status_code
    if status is None:
        return unreachable(base_url, error)
    if status in (404, 410):
        return UploadGoneError("upload.gone", status, "The server no longer has this upload.")
    return error_from_body(status, error.response_content, str(error))


class _HeldOpen(io.BufferedReader):
    """A file that stays open when tuspy closes it after fingerprinting."""

    def close(self) -> None:
        """Do nothing: the upload still reads the file."""

    def release(self) -> None:
        """Close the file for real."""
        super().close()


def send_resumable(
    endpoint: str,
    headers: Mapping[str, str],
    path: Path,
    metadata: Mapping[str, str],
    key: str,
    store: UploadUrlStore,
    settings: UploadSettings,
    progress: ProgressCallback | None = None,
) -> TusOutcome:
    """Upload a file through tus, resuming the upload stored under ``key`` if any.

    Raise ``UploadGoneError`` when a stored upload has vanished on the server mid-way
    (its URL is forgotten; calling again starts afresh) and other ``FieldbookError``s
    as the server answers them.
    """
    stream = _HeldOpen(io.FileIO(path, "rb"))
    try:
        return _send(endpoint, headers, stream, metadata, key, store, settings, progress)
    finally:
        stream.release()


def _send(
    endpoint: str,
    headers: Mapping[str, str],
    stream: IO[bytes],
    metadata: Mapping[str, str],
    key: str,
    store: UploadUrlStore,
    settings: UploadSettings,
    progress: ProgressCallback | None,
) -> TusOutcome:
    client = TusClient(endpoint, headers=dict(headers))
    policy = settings.retry
    uploader = _open_uploader(client, stream, metadata, key, store, settings)
    size = int(uploader.get_file_size())
    attempt = 0
    while uploader.url is None:
        try:
            uploader.set_url(uploader.create_url())
            uploader.offset = 0
        except TusCommunicationError as error:
            if not retryable_status(error.status_code) or attempt >= policy.retries:
                raise _tus_error(endpoint, error) from error
            policy.wait(attempt)
            attempt += 1
    resumed_from = int(uploader.offset)
    if progress:
        progress(resumed_from, size)
    evidence_id: str | None = None
    sent = 0
    started = time.monotonic()
    failures = 0
    while uploader.offset < size:
        sent += int(uploader.get_request_length())
        try:
            uploader.upload_chunk()
        except TusCommunicationError as error:
            status = error.status_code
            if status in (404, 410):
                store.clear_upload_url(key)
            # 409: our offset is stale; 423: a killed run's request still holds the upload;
            # 460: the chunk was damaged on the way. Each is cured by asking where we are.
            curable = retryable_status(status) or status in (409, 423, 460)
            if not curable or failures >= policy.retries:
                raise _tus_error(endpoint, error) from error
            policy.wait(failures)
            failures += 1
            try:
                uploader.offset = _server_offset(uploader, endpoint)
            except FieldbookError as unknown:
                # still no answer: try the chunk again; a stale offset is answered with 409
                if not unknown.retryable or failures > policy.retries:
                    raise
            continue
        failures = 0
        evidence_id = uploader.last_headers.get(EVIDENCE_ID_HEADER) or evidence_id
        if progress:
            progress(int(uploader.offset), size)
        if settings.max_rate:
            ahead = sent / settings.max_rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    return TusOutcome(evidence_id=evidence_id, bytes_sent=sent, resumed_from=resumed_from)


def _server_offset(uploader: Uploader, endpoint: str) -> int:
    try:
        return int(uploader.get_offset())
    except TusCommunicationError as error:
        raise _tus_error(endpoint, error) from error


def _open_uploader(
    client: TusClient,
    stream: IO[bytes],
    metadata: Mapping[str, str],
    key: str,
    store: UploadUrlStore,
    settings: UploadSettings,
) -> _EvidenceUploader:
    """Build the uploader; a stored upload the server has forgotten is dropped, not fatal."""
    options: dict[str, Any] = {
        "file_stream": stream,
        "client": client,
        "chunk_size": settings.chunk_size,
        "metadata": dict(metadata),
        "store_url": True,
        "url_storage": _StoreAdapter(store),
        "fingerprinter": _KeyFingerprint(key),
        "upload_checksum": True,
    }
    attempt = 0
    while True:
        try:
            # with a stored URL, tuspy asks the server for its offset (HEAD) right here
            uploader = _EvidenceUploader(**options)
        except TusCommunicationError as error:
            if error.status_code in (403, 404, 410):
                # expired, terminated, or not ours any more: start a new upload
                store.clear_upload_url(key)
                continue
            if not retryable_status(error.status_code) or attempt >= settings.retry.retries:
                raise _tus_error(client.url, error) from error
            settings.retry.wait(attempt)
            attempt += 1
            continue
        uploader.timeout = settings.timeout
        uploader.endpoint = str(client.url)
        return uploader
