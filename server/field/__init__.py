"""The phone capture app: an installable, offline-first web app served at ``/field``.

The app shell (one page, ES modules, styles, icons) is cached by a service worker so
that ``/field/`` opens without a network. Everything the researcher captures is kept
in the phone's IndexedDB and sent to the JSON API with a device token; the server side
here only serves files, so it needs no database and no session.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flask import Blueprint, Response, render_template, url_for

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
SHELL_TEMPLATE = "field/app.html"
THEME_COLOR = "#0b3d66"
BACKGROUND_COLOR = "#f3f5f7"
ICONS = (
    ("icons/icon-192.png", 192, "any"),
    ("icons/icon-512.png", 512, "any"),
    ("icons/maskable-512.png", 512, "maskable"),
)

bp = Blueprint(
    "field",
    __name__,
    url_prefix="/field",
    static_folder="static",
    template_folder="templates",
)


def static_files(folder: Path = STATIC) -> list[Path]:
    """Return the app's static files (scripts, styles, icons) in a stable order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def shell_version(folder: Path = STATIC) -> str:
    """Return a short hash of everything the service worker caches.

    The hash is written into ``sw.js``, so any change to a file changes the worker's
    bytes, which is what makes browsers install the new version and drop the old cache.
    """
    digest = hashlib.sha256()
    named = [(p.relative_to(folder).as_posix(), p) for p in static_files(folder)]
    named.append((f"templates/{SHELL_TEMPLATE}", TEMPLATES / SHELL_TEMPLATE))
    for name, path in named:
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def shell_urls() -> list[str]:
    """Return the URLs the service worker keeps for offline use."""
    urls = [url_for("field.app_shell"), url_for("field.manifest")]
    urls += [
        url_for("field.static", filename=p.relative_to(STATIC).as_posix()) for p in static_files()
    ]
    return urls


@bp.get("/")
def app_shell() -> Response:
    """Serve the app's single page; the scripts draw every screen."""
    response = Response(render_template(SHELL_TEMPLATE, theme_color=THEME_COLOR))
    # revalidate when online; offline the service worker answers from its cache
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    """Describe the app for installing it on a home screen."""
    start = url_for("field.app_shell")
    document = {
        "name": "Fieldbook Field",
        "short_name": "Fieldbook",
        "description": "Capture photos, calls, notes and checklists on field visits, offline.",
        "id": start,
        "start_url": start,
        "scope": start,
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "icons": [
            {
                "src": url_for("field.static", filename=path),
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": purpose,
            }
            for path, size, purpose in ICONS
        ],
    }
    response = Response(json.dumps(document, indent=2), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/sw.js")
def service_worker() -> Response:
    """Serve the service worker that keeps the app shell for offline use."""
    body = render_template(
        "field/sw.js",
        version=shell_version(),
        shell=shell_urls(),
        scope=url_for("field.app_shell"),
    )
    response = Response(body, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = url_for("field.app_shell")
    # browsers compare the worker byte for byte on every check; never serve a stale one
    response.headers["Cache-Control"] = "no-cache"
    return response
