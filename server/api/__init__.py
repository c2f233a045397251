"""The REST API under ``/api/v1``: flask-smorest blueprints, marshmallow schemas, OpenAPI."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from server.api import (
    audit,
    auth,
    evidence,
    findings,
    journals,
    links,
    planning,
    studies,
    transcripts,
    uploads,
    users,
    visits,
)
from server.api.common import ErrorSchema
from server.extensions import csrf

BLUEPRINTS = (
    auth.blp,
    users.blp,
    studies.blp,
    planning.blp,
    visits.blp,
    evidence.blp,
    transcripts.blp,
    findings.blp,
    journals.blp,
    audit.blp,
)


class FieldbookApi(Api):
    """flask-smorest's Api with Fieldbook's error shape documented."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        # server.errors installs the one handler for the whole app
        return None


SPEC_KWARGS = {
    "info": {
        "description": (
            "Fieldbook keeps field research evidence and compiles experience journals. "
            "Authenticate with `Authorization: Bearer TOKEN` from `POST /api/v1/tokens`. "
            "Errors always have the shape `{code, status, message, errors}`."
        )
    },
    "security": [{"bearerAuth": []}],
}


def register_api(app: Flask) -> None:
    """Build the app's API and register every blueprint under ``/api/v1``.

    flask-smorest keeps the OpenAPI document on the Api object, so each app gets its own.
    """
    api = FieldbookApi(app, spec_kwargs={**SPEC_KWARGS, "extra_plugins": [links.LinksPlugin()]})
    app.extensions["fieldbook.api"] = api
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "A device API token."}
    )
    for blueprint in BLUEPRINTS:
        # API calls are CSRF-checked in server.security, only when made with a browser session
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint, url_prefix="/api/v1")
    links.check(api.spec)
    csrf.exempt(uploads.bp)
    app.register_blueprint(uploads.bp, url_prefix="/api/v1")
