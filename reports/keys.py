"""Ed25519 keys for signing published journals: generate, save and load as PEM."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def generate_signing_key() -> Ed25519PrivateKey:
    """Create a new Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def key_id(public_key: Ed25519PublicKey) -> str:
    """Return a short fingerprint of a public key, stored beside each signature."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def signing_key_to_pem(key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    """Serialise a signing key as PKCS#8 PEM, encrypted when a password is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def public_key_to_pem(key: Ed25519PublicKey) -> bytes:
    """Serialise a public key as SubjectPublicKeyInfo PEM."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_signing_key(pem: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    """Load a signing key from PEM, refusing keys of any other type."""
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """Load a public key from PEM, refusing keys of any other type."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def save_signing_key(key: Ed25519PrivateKey, path: Path, password: bytes | None = None) -> None:
    """Write a signing key to a new file readable by its owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(signing_key_to_pem(key, password))


def save_public_key(key: Ed25519PublicKey, path: Path) -> None:
    """Write a public key to a file."""
    path.write_bytes(public_key_to_pem(key))


def read_signing_key(path: Path, password: bytes | None = None) -> Ed25519PrivateKey:
    """Read a signing key from a PEM file."""
    return load_signing_key(path.read_bytes(), password)


def read_public_key(path: Path) -> Ed25519PublicKey:
    """Read a public key from a PEM file."""
    return load_public_key(path.read_bytes())
