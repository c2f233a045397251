"""The ``fieldbook`` command: serve, worker, db, users, and more, on the app factory."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from server.app import create_app
from server.cli import admin, runtime, spec


@click.group(cls=FlaskGroup, create_app=create_app, add_default_commands=False)
def main() -> None:
    """Fieldbook: field research evidence and experience journals."""


main.add_command(runtime.serve)
main.add_command(runtime.worker)
main.add_command(admin.db_group)
main.add_command(admin.users_group)
main.add_command(admin.init)
main.add_command(spec.openapi_group)
