"""Publish a journal as one signed JSON file, and verify such a file and the evidence it cites."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from reports.citations import IntegrityProblem
from reports.evidence import require_utc
from reports.journal import Journal, canonical_json, cited_evidence_ids, iso_time
from reports.keys import key_id

PUBLISHED_FORMAT = "fieldbook.published-journal/1"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20

BlobReader = Callable[[str], bytes | IO[bytes] | None]


class PublishError(Exception):
    """A journal cannot be published; `problems` lists what is missing or broken."""

    def __init__(self, problems: Sequence[IntegrityProblem]) -> None:
        self.problems = tuple(problems)
        listed = ", ".join(f"{p.code} at {p.field}" for p in self.problems[:10])
        more = f" and {len(self.problems) - 10} more" if len(self.problems) > 10 else ""
        super().__init__(f"journal cannot be published: {listed}{more}")


@dataclass(frozen=True, slots=True)
class PublishedJournal:
    """A published journal: its body, the hashes of what it cites, and its signature."""

    journal: Journal
    evidence_hashes: Mapping[str, str]
    key_id: str
    published_at: str | None
    content_hash: str
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        """Return the published file's content as plain data."""
        return {
            **_signed_fields(self.journal, self.evidence_hashes, self.key_id, self.published_at),
            "content_hash": self.content_hash,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    def to_json_bytes(self) -> bytes:
        """Serialise to the single JSON file that is stored and shared."""
        return canonical_json(self.to_dict())


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What verifying a published journal found; `ok` only when nothing is wrong."""

    problems: tuple[IntegrityProblem, ...]
    journal: Journal | None = None
    content_hash: str | None = None
    checked_blobs: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Return True when the file, its signature and any checked evidence are intact."""
        return not self.problems

    def codes(self) -> set[str]:
        """Return the machine codes of the problems found."""
        return {problem.code for problem in self.problems}


def _signed_fields(
    journal: Journal, evidence: Mapping[str, str], signer: str, published_at: str | None
) -> dict[str, Any]:
    return {
        "format": PUBLISHED_FORMAT,
        "journal": journal.to_dict(),
        "evidence": dict(evidence),
        "key_id": signer,
        "published_at": published_at,
    }


def publishing_problems(
    journal: Journal, evidence_hashes: Mapping[str, str]
) -> list[IntegrityProblem]:
    """List what keeps a journal from being published: citation problems, uncited findings,
    and cited evidence without a known, matching sha256."""
    problems = [
        IntegrityProblem(str(p["code"]), str(p["field"]), str(p["message"]), p.get("evidence_id"))
        for p in journal.body.get("problems", [])
    ]
    for finding in journal.body.get("findings", []):
        if not finding.get("citations"):
            problems.append(
                IntegrityProblem(
                    "finding.uncited",
                    f"findings[{finding.get('id')}].citations",
                    "a finding must cite evidence to be published",
                )
            )
    catalog = {e["id"]: e.get("sha256") for e in journal.body.get("evidence", [])}
    for evidence_id in cited_evidence_ids(journal):
        digest = evidence_hashes.get(evidence_id)
        where = f"evidence[{evidence_id}]"
        if digest is None:
            problems.append(
                IntegrityProblem("evidence.hash_missing", where, "no sha256 given", evidence_id)
            )
        elif not _SHA256.match(digest):
            problems.append(
                IntegrityProblem("evidence.hash_invalid", where, "not a sha256", evidence_id)
            )
        elif evidence_id in catalog and catalog[evidence_id] != digest:
            problems.append(
                IntegrityProblem(
                    "evidence.hash_mismatch",
                    where,
                    "the journal shows another sha256 for this item",
                    evidence_id,
                )
            )
    return problems


def publish(
    journal: Journal,
    evidence_hashes: Mapping[str, str],
    signing_key: Ed25519PrivateKey,
    *,
    published_at: datetime | None = None,
) -> PublishedJournal:
    """Seal a journal: record the sha256 of each cited item, hash the whole and sign it."""
    problems = publishing_problems(journal, evidence_hashes)
    if problems:
        raise PublishError(problems)
    if published_at is not None:
        require_utc(published_at, "published_at")
    cited = {i: evidence_hashes[i] for i in cited_evidence_ids(journal)}
    signer = key_id(signing_key.public_key())
    when = iso_time(published_at) if published_at is not None else None
    payload = canonical_json(_signed_fields(journal, cited, signer, when))
    return PublishedJournal(
        journal=journal,
        evidence_hashes=cited,
        key_id=signer,
        published_at=when,
        content_hash=hashlib.sha256(payload).hexdigest(),
        signature=signing_key.sign(payload),
    )


def _problem(
    code: str, where: str, message: str, evidence_id: str | None = None
) -> IntegrityProblem:
    return IntegrityProblem(code, where, message, evidence_id)


def _sha256_of(blob: bytes | IO[bytes]) -> str:
    digest = hashlib.sha256()
    if isinstance(blob, bytes | bytearray | memoryview):
        digest.update(blob)
        return digest.hexdigest()
    # Recordings can be hundreds of megabytes: hash them as a stream.
    with blob:
        while chunk := blob.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _parse(file_bytes: bytes) -> tuple[dict[str, Any] | None, IntegrityProblem | None]:
    try:
        data = json.loads(file_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, _problem("journal.unreadable", "", f"not JSON: {error}")
    if not isinstance(data, dict) or data.get("format") != PUBLISHED_FORMAT:
        return None, _problem("journal.unreadable", "format", f"not a {PUBLISHED_FORMAT} file")
    return data, None


def verify(
    file_bytes: bytes,
    public_key: Ed25519PublicKey,
    blob_reader: BlobReader | None = None,
) -> VerifyResult:
    """Check a published journal file; with a blob reader, re-hash every cited evidence blob."""
    data, unreadable = _parse(file_bytes)
    if data is None:
        return VerifyResult((unreadable,) if unreadable else ())
    try:
        journal = Journal.from_dict(data.get("journal") or {})
        evidence = data.get("evidence")
        if not isinstance(evidence, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in evidence.items()
        ):
            raise ValueError("evidence must map ids to sha256 strings")
        signer, when = data.get("key_id"), data.get("published_at")
        if not isinstance(signer, str) or not (when is None or isinstance(when, str)):
            raise ValueError("key_id and published_at must be strings")
        payload = canonical_json(_signed_fields(journal, evidence, signer, when))
    except (ValueError, TypeError) as error:
        return VerifyResult((_problem("journal.malformed", "journal", str(error)),))

    problems: list[IntegrityProblem] = []
    content_hash = hashlib.sha256(payload).hexdigest()
    if data.get("content_hash") != content_hash:
        problems.append(
            _problem("journal.hash_mismatch", "content_hash", "content does not match its hash")
        )
    if signer != key_id(public_key):
        problems.append(_problem("signature.wrong_key", "key_id", "signed with another key"))
    try:
        public_key.verify(base64.b64decode(str(data.get("signature")), validate=True), payload)
    except (InvalidSignature, binascii.Error, ValueError):
        problems.append(_problem("signature.invalid", "signature", "signature does not verify"))

    for evidence_id in cited_evidence_ids(journal):
        if evidence_id not in evidence:
            problems.append(
                _problem(
                    "evidence.hash_missing", f"evidence[{evidence_id}]", "no sha256", evidence_id
                )
            )
    checked: list[str] = []
    if blob_reader is not None:
        for evidence_id, digest in sorted(evidence.items()):
            blob = blob_reader(digest)
            where = f"evidence[{evidence_id}]"
            if blob is None:
                problems.append(
                    _problem("evidence.blob_missing", where, "blob not found", evidence_id)
                )
            elif _sha256_of(blob) != digest:
                problems.append(
                    _problem("evidence.blob_altered", where, "blob no longer matches", evidence_id)
                )
            checked.append(evidence_id)
    return VerifyResult(tuple(problems), journal, content_hash, tuple(checked))
