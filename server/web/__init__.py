"""Server-rendered pages: sign-in now; the reviewer viewer grows here."""

from __future__ import annotations

from flask import Flask

from server import field
from server.web import auth, display, findings, journals, journeys, search, share, studies, visits


def register_pages(app: Flask) -> None:
    """Register the page blueprints."""
    app.register_blueprint(auth.bp)
    app.register_blueprint(field.bp)
    app.register_blueprint(share.bp)
    # the reviewer viewer
    for viewer_page in (display, studies, visits, journeys, findings, search, journals):
        app.register_blueprint(viewer_page.bp)
