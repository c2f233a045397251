"""Running Fieldbook: the web server and job workers."""

from __future__ import annotations

import signal
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from gunicorn.app.base import BaseApplication
from huey.consumer import Consumer

from server import migrate
from server.app import create_app
from server.jobs import jobs


class _Gunicorn(BaseApplication):
    """gunicorn, configured from code; each worker process builds its own app."""

    def __init__(self, options: dict[str, Any], inprocess_jobs: bool) -> None:
        self.options = options
        self.inprocess_jobs = inprocess_jobs
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        app = create_app()
        if self.inprocess_jobs:
            jobs.start_consumer(app, int(app.config["JOB_THREADS"]))
        return app


def _check_schema() -> None:
    current, head = migrate.current_revision(), migrate.head_revision()
    if current != head:
        raise click.ClickException(
            f"The database is at {current or 'an empty schema'}, the code needs {head}: "
            "run 'fieldbook db upgrade' (or 'fieldbook init') first."
        )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, help="Web worker processes.")
@click.option("--threads", default=8, show_default=True, help="Threads per web worker.")
@with_appcontext
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve Fieldbook with gunicorn (not a development server)."""
    _check_schema()
    config = current_app.config
    inprocess = config["JOBS"] == "sqlite" and bool(config["INPROCESS_WORKER"])
    if inprocess and workers != 1:
        raise click.ClickException(
            "In-process jobs need exactly one web worker; use --workers 1, or "
            "FIELDBOOK_JOBS=redis with separate 'fieldbook worker' processes."
        )
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 120,
        "graceful_timeout": 30,
        "accesslog": "-",
        "errorlog": "-",
        "limit_request_line": 8190,
        "proc_name": "fieldbook",
    }
    click.echo(f"Fieldbook on http://{host}:{port}  (data: {config['DATA_DIR']})")
    _Gunicorn(options, inprocess).run()


@click.command()
@click.option("--threads", default=1, show_default=True, help="Jobs run at once.")
@with_appcontext
def worker(threads: int) -> None:
    """Run a job worker: transcription, media processing, journal rendering."""
    _check_schema()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config["JOBS"] == "immediate":
        raise click.ClickException("FIELDBOOK_JOBS=immediate runs jobs inline; no worker needed.")
    # jobs whose worker died while this one was down are taken up again at once
    requeued = jobs.requeue_stale()
    if requeued:
        click.echo(f"Queued again {requeued} job(s) left by a stopped worker.")
    consumer = Consumer(app.extensions["fieldbook.huey"], workers=threads, worker_type="thread")
    # jobs whose queue message is lost (Redis restarted empty, or away at commit) are
    # found in the database and sent again while the worker runs
    jobs.start_sweeper(app)
    # SIGTERM from a process manager finishes running jobs before leaving
    signal.signal(signal.SIGTERM, lambda *_: consumer.stop(graceful=True) or sys.exit(0))
    consumer.run()


__all__ = ["create_app", "serve", "worker"]
