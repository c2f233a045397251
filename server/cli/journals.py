"""``fieldbook journals``: verify and export published journals."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

import reports
from server.services.evidence import store
from server.services.journals import signing_key
from server.storage import BlobNotFound


@click.group("journals")
def journals_group() -> None:
    """Published experience journals."""


@journals_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--public-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM public key of the install that published it (default: this install's).",
)
@click.option("--no-evidence", is_flag=True, help="Check the file and signature only.")
@with_appcontext
def verify(file: Path, public_key: Path | None, no_evidence: bool) -> None:
    """Check a published journal FILE and, by default, re-hash every evidence item it cites.

    Exits 0 when intact, 1 when anything was changed or is missing.
    """
    key = reports.read_public_key(public_key) if public_key else signing_key().public_key()

    def read_blob(sha256: str) -> bytes | None:
        try:
            with store().open(sha256) as blob:
                return blob.read()
        except BlobNotFound:
            return None

    result = reports.verify(file.read_bytes(), key, None if no_evidence else read_blob)
    if result.ok:
        click.echo(
            f"OK  {file.name}: content {result.content_hash}, "
            f"{len(result.checked_blobs)} evidence item(s) re-hashed"
        )
        return
    for problem in result.problems:
        click.echo(f"FAIL {problem.code} at {problem.field}: {problem.message}", err=True)
    sys.exit(1)


@journals_group.command("public-key")
@with_appcontext
def public_key() -> None:
    """Print this install's journal-signing public key (PEM), for verifying elsewhere."""
    click.echo(reports.public_key_to_pem(signing_key().public_key()).decode("ascii"), nl=False)
