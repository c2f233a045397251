"""The committed OpenAPI document: write it, and check that it matches the code.

The document in ``docs/openapi.json`` is a contract with the phone app and the field kit,
so it is written the same way every time: sorted keys, two-space indent, a final newline.
This group replaces flask-smorest's own ``openapi`` commands, whose output is unsorted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

REGENERATE = "fieldbook openapi write docs/openapi.json"


def render_document(document: dict[str, Any]) -> str:
    """Serialise an OpenAPI document deterministically."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def current_document() -> dict[str, Any]:
    """Return the OpenAPI document of the running app's API."""
    document: dict[str, Any] = current_app.extensions["fieldbook.api"].spec.to_dict()
    return document


@click.group("openapi")
def openapi_group() -> None:
    """The API's OpenAPI document."""


@openapi_group.command("write")
@click.argument("output", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@with_appcontext
def write(output: Path) -> None:
    """Write the OpenAPI document to OUTPUT."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_document(current_document()), encoding="utf-8")
    click.echo(f"Wrote {output}.")


@openapi_group.command("check")
@click.argument("committed", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def check(committed: Path) -> None:
    """Fail if COMMITTED differs from the document the code produces."""
    if committed.read_text(encoding="utf-8") != render_document(current_document()):
        raise click.ClickException(f"{committed} is out of date; run '{REGENERATE}'.")
    click.echo(f"{committed} is up to date.")
