"""Server-rendered pages: sign-in now; the reviewer viewer grows here."""

from __future__ import annotations

from flask import Flask

from server import field
from server.web import auth, share


def register_pages(app: Flask) -> None:
    """Register the page blueprints."""
    app.register_blueprint(auth.bp)
    app.register_blueprint(field.bp)
    app.register_blueprint(share.bp)
