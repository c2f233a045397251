"""``fieldbook demo``: a sample study that shows the whole product."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from server.extensions import db
from server.services import demo

# the help-desk recording that ships beside the repository (tests and benchmarks use it too)
SHARED_CALL = Path(__file__).resolve().parents[2].parent / "shared" / "audio" / "call_phone8k.wav"


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the demo study exists.")
@click.option(
    "--call",
    type=click.Path(dir_okay=False, path_type=Path),
    default=lambda: os.environ.get("FIELDBOOK_DEMO_CALL") or SHARED_CALL,
    help="Recording of a help-desk call to use (default: the bundled sample call).",
)
@with_appcontext
def demo_command(if_empty: bool, call: Path) -> None:
    """Create a sample study: store, call and website visits, findings, a published journal.

    Demo users share one password: FIELDBOOK_PASSWORD if set, otherwise generated and
    printed once.
    """
    if demo.has_demo():
        click.echo(
            "The demo study exists already." if if_empty else "The demo study exists; nothing done."
        )
        return
    result = demo.build(
        call if call.exists() else None, click.echo, os.environ.get("FIELDBOOK_PASSWORD")
    )
    db.session.commit()
    click.echo("")
    click.echo("Demo ready. Sign in at /login as any of:")
    for email in result.logins:
        click.echo(f"  {email}")
    if not os.environ.get("FIELDBOOK_PASSWORD"):
        click.echo(f"Password for all three (shown once): {next(iter(result.logins.values()))}")
    base = current_app.config.get("PUBLIC_URL", "http://127.0.0.1:5000")
    click.echo(f"Published journal, shared read-only: {base}/share/{result.share_token}")
