"""The ``fieldbook`` command: serve, worker, db, users, and more, on the app factory."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from server.app import create_app
from server.cli import admin, demo, journals, runtime, spec
from server.config import ConfigError


def _create_app() -> Flask:
    """Build the app for a command; a configuration that cannot run is a one-line error."""
    try:
        return create_app()
    except ConfigError as error:
        raise click.ClickException(str(error)) from error


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False)
def main() -> None:
    """Fieldbook: field research evidence and experience journals."""


main.add_command(runtime.serve)
main.add_command(runtime.worker)
main.add_command(admin.db_group)
main.add_command(admin.users_group)
main.add_command(admin.init)
main.add_command(journals.journals_group)
main.add_command(demo.demo_command)
main.add_command(spec.openapi_group)
