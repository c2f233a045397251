"""Publishing seals a journal; verifying finds any change to it or to the evidence it cites."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from reports import (
    PublishedJournal,
    canonical_json,
    compile_study_journal,
    generate_signing_key,
    load_public_key,
    load_signing_key,
    public_key_to_pem,
    publish,
    read_public_key,
    read_signing_key,
    save_public_key,
    save_signing_key,
    signing_key_to_pem,
    verify,
)
from tests.reports import factories as f

PUBLISHED_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return generate_signing_key()


@pytest.fixture(scope="module")
def published(key: Ed25519PrivateKey) -> PublishedJournal:
    return publish(compile_study_journal(f.record()), f.hashes(), key, published_at=PUBLISHED_AT)


def store() -> dict[str, bytes]:
    """The blob store: original bytes by sha256."""
    return {f.sha(item.id): f.blob_for(item.id) for item in f.evidence()}


def edited(file_bytes: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    data = json.loads(file_bytes)
    change(data)
    return canonical_json(data)


def test_published_journal_verifies_with_its_key_and_its_evidence(
    key: Ed25519PrivateKey, published: PublishedJournal
) -> None:
    file_bytes = published.to_json_bytes()
    blobs = store()

    result = verify(file_bytes, key.public_key(), blobs.get)

    assert result.ok, result.problems
    assert result.content_hash == published.content_hash
    assert result.journal == published.journal
    assert sorted(result.checked_blobs) == sorted(item.id for item in f.evidence())
    assert published.evidence_hashes == f.hashes()
    data = json.loads(file_bytes)
    signed = {k: v for k, v in data.items() if k not in ("content_hash", "signature")}
    assert data["content_hash"] == hashlib.sha256(canonical_json(signed)).hexdigest()


def test_publishing_is_deterministic_for_the_same_journal_and_key(
    key: Ed25519PrivateKey, published: PublishedJournal
) -> None:
    again = publish(compile_study_journal(f.record()), f.hashes(), key, published_at=PUBLISHED_AT)

    assert again.to_json_bytes() == published.to_json_bytes()


def test_changed_body_is_detected(key: Ed25519PrivateKey, published: PublishedJournal) -> None:
    def soften(data: dict[str, Any]) -> None:
        data["journal"]["body"]["findings"][0]["title"] = "Returns are quick"

    result = verify(edited(published.to_json_bytes(), soften), key.public_key())

    assert result.codes() == {"journal.hash_mismatch", "signature.invalid"}


def test_changed_body_with_a_recomputed_hash_still_fails_the_signature(
    key: Ed25519PrivateKey, published: PublishedJournal
) -> None:
    def soften_and_rehash(data: dict[str, Any]) -> None:
        data["journal"]["body"]["metrics"][0]["value"] = 1.0
        signed = {k: v for k, v in data.items() if k not in ("content_hash", "signature")}
        data["content_hash"] = hashlib.sha256(canonical_json(signed)).hexdigest()

    result = verify(edited(published.to_json_bytes(), soften_and_rehash), key.public_key())

    assert result.codes() == {"signature.invalid"}


def test_changed_hash_is_detected(key: Ed25519PrivateKey, published: PublishedJournal) -> None:
    def rehash(data: dict[str, Any]) -> None:
        data["content_hash"] = "0" * 64

    result = verify(edited(published.to_json_bytes(), rehash), key.public_key())

    assert result.codes() == {"journal.hash_mismatch"}


@pytest.mark.parametrize("garbage", ["flip", "not base64!", ""])
def test_changed_signature_is_detected(
    key: Ed25519PrivateKey, published: PublishedJournal, garbage: str
) -> None:
    def resign(data: dict[str, Any]) -> None:
        if garbage == "flip":
            raw = bytearray(base64.b64decode(data["signature"]))
            raw[7] ^= 0x01
            data["signature"] = base64.b64encode(bytes(raw)).decode()
        else:
            data["signature"] = garbage

    result = verify(edited(published.to_json_bytes(), resign), key.public_key())

    assert result.codes() == {"signature.invalid"}


def test_changed_evidence_hash_is_detected(
    key: Ed25519PrivateKey, published: PublishedJournal
) -> None:
    def swap(data: dict[str, Any]) -> None:
        data["evidence"][f.CALL] = hashlib.sha256(b"another recording").hexdigest()

    result = verify(edited(published.to_json_bytes(), swap), key.public_key())

    assert result.codes() == {"journal.hash_mismatch", "signature.invalid"}


def test_changed_or_missing_blob_is_detected_by_rehashing(
    key: Ed25519PrivateKey, published: PublishedJournal
) -> None:
    blobs = store()
    blobs[f.sha(f.CALL)] = f.blob_for(f.CALL) + b"\x00"
    del blobs[f.sha(f.NOTE)]

    result = verify(published.to_json_bytes(), key.public_key(), blobs.get)

    assert sorted((p.code, p.evidence_id) for p in result.problems) == [
        ("evidence.blob_altered", f.CALL),
        ("evidence.blob_missing", f.NOTE),
    ]


def test_blobs_can_be_streamed_to_the_verifier(
    key: Ed25519PrivateKey, published: PublishedJournal
) -> None:
    blobs = store()
    opened: list[io.BytesIO] = []

    def open_blob(sha256: str) -> io.BytesIO | None:
        data = blobs.get(sha256)
        if data is None:
            return None
        opened.append(io.BytesIO(data))
        return opened[-1]

    assert verify(published.to_json_bytes(), key.public_key(), open_blob).ok
    assert opened and all(stream.closed for stream in opened)


def test_another_key_or_a_broken_file_does_not_verify(published: PublishedJournal) -> None:
    stranger = generate_signing_key().public_key()

    assert verify(published.to_json_bytes(), stranger).codes() == {
        "signature.wrong_key",
        "signature.invalid",
    }
    assert verify(b"{not json", stranger).codes() == {"journal.unreadable"}
    assert verify(b'{"format": "other"}', stranger).codes() == {"journal.unreadable"}


def test_keys_round_trip_through_pem_and_files(tmp_path: Path) -> None:
    key = generate_signing_key()
    public = key.public_key()
    message = b"journal"

    for password in (None, b"correct horse"):
        loaded = load_signing_key(signing_key_to_pem(key, password), password)
        public.verify(loaded.sign(message), message)
    load_public_key(public_key_to_pem(public)).verify(key.sign(message), message)

    save_signing_key(key, tmp_path / "journal.key", b"pw")
    save_public_key(public, tmp_path / "journal.pub")
    assert stat.S_IMODE((tmp_path / "journal.key").stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        save_signing_key(key, tmp_path / "journal.key")
    signature = read_signing_key(tmp_path / "journal.key", b"pw").sign(message)
    read_public_key(tmp_path / "journal.pub").verify(signature, message)


def test_keys_of_another_type_are_refused() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    private_pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = other.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    with pytest.raises(ValueError, match="Ed25519"):
        load_signing_key(private_pem)
    with pytest.raises(ValueError, match="Ed25519"):
        load_public_key(public_pem)
