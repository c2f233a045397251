"""The application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask

from server import errors, health
from server.api import register_api
from server.config import load_config
from server.extensions import csrf, db, limiter
from server.jobs import jobs
from server.logs import configure_logging
from server.security import install_security
from server.services import evidence_processing, transcripts  # noqa: F401 - register jobs
from server.services.accounts import password_hasher
from server.storage import build_store
from server.web import register_pages


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create a Fieldbook app; ``config`` overrides everything else (tests use it)."""
    app = Flask(__name__, instance_relative_config=True)
    load_config(app, config)
    configure_logging(app)

    db.init_app(app)
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["RATE_LIMIT_STORAGE_URL"])
    # a limits store that is away (Redis restarting) must not take the API down with it:
    # limits are counted in this process until it is back
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)
    app.extensions["fieldbook.store"] = build_store(app.config)
    app.extensions["fieldbook.passwords"] = password_hasher(app.config)
    jobs.init_app(app)

    install_security(app)
    register_api(app)
    register_pages(app)
    app.register_blueprint(health.bp)
    errors.register_error_handlers(app)
    return app
