"""The smallest JSON create endpoint Flask can serve: the yardstick for the API benchmark.

Served by gunicorn as ``bench.baseline_app:create_app()``.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask, request


def create_app() -> Flask:
    """Build a Flask app with one POST route that parses JSON and answers 201 JSON."""
    app = Flask(__name__)

    @app.post("/visits")
    def create_visit() -> tuple[dict[str, Any], int]:
        body = request.get_json()
        return {"id": str(uuid.uuid4()), "client_uuid": body.get("client_uuid")}, 201

    return app
