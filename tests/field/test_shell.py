"""The app shell as the server hands it out: page, manifest, service worker, icons.

These run against the app in-process (no browser): what a phone needs to install the
app and to open it offline must be served with the right types, headers and URLs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image, ImageChops, ImageStat

from server import create_app, field
from server.field import icons


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    """A client of an app whose database is never touched (the shell needs none)."""
    tmp = tmp_path_factory.mktemp("field-shell")
    app: Flask = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "DATA_DIR": str(tmp),
            "DATABASE_URL": f"sqlite:///{tmp / 'fieldbook.db'}",
            "JOBS": "immediate",
        }
    )
    yield app.test_client()


def test_page_loads_only_files_of_its_own_and_no_inline_code(client: FlaskClient) -> None:
    response = client.get("/field/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    html = response.get_data(as_text=True)
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts == ['<script type="module" src="/field/static/app.js">']
    assert "<style" not in html
    assert " style=" not in html
    for url in re.findall(r'(?:href|src)="(/field/[^"#]+)"', html):
        assert client.get(url).status_code == 200, url


def test_bare_path_leads_to_the_app(client: FlaskClient) -> None:
    response = client.get("/field")
    assert response.status_code in (301, 308)
    assert response.headers["Location"].endswith("/field/")


def test_manifest_makes_the_app_installable(client: FlaskClient) -> None:
    response = client.get("/field/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = json.loads(response.get_data(as_text=True))
    assert manifest["start_url"] == manifest["scope"] == "/field/"
    assert manifest["display"] == "standalone"
    sizes = set()
    for icon in manifest["icons"]:
        image_response = client.get(icon["src"])
        assert image_response.status_code == 200
        assert image_response.mimetype == "image/png"
        with Image.open(BytesIO(image_response.data)) as image:
            assert f"{image.width}x{image.height}" == icon["sizes"]
        sizes.add((icon["sizes"], icon["purpose"]))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes


def test_service_worker_keeps_every_shell_file(client: FlaskClient) -> None:
    response = client.get("/field/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/field/"
    assert response.headers["Cache-Control"] == "no-cache"
    body = response.get_data(as_text=True)
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", body, re.S).group(1))  # type: ignore[union-attr]
    assert "/field/" in shell
    assert "/field/manifest.webmanifest" in shell
    on_disk = {
        "/field/static/" + p.relative_to(field.STATIC).as_posix() for p in field.static_files()
    }
    assert on_disk <= set(shell)
    assert {"/field/static/app.js", "/field/static/outbox.js", "/field/static/tus.js"} <= on_disk
    for url in shell:
        assert client.get(url).status_code == 200, url


def test_service_worker_changes_when_a_shell_file_changes(
    client: FlaskClient, tmp_path: Path
) -> None:
    served = client.get("/field/sw.js").get_data(as_text=True)
    version = re.search(r'const VERSION = "([0-9a-f]{16})";', served)
    assert version is not None
    assert version.group(1) == field.shell_version()
    copy = tmp_path / "static"
    for path in field.static_files():
        target = copy / path.relative_to(field.STATIC)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    assert field.shell_version(copy) == field.shell_version()
    (copy / "outbox.js").write_bytes((copy / "outbox.js").read_bytes() + b"\n")
    assert field.shell_version(copy) != field.shell_version()


@pytest.mark.parametrize("name", sorted(icons.ICONS))
def test_committed_icons_are_what_the_drawing_makes(name: str) -> None:
    size, maskable = icons.ICONS[name]
    with Image.open(icons.ICON_DIR / name) as committed:
        drawn = icons.draw_icon(size, maskable=maskable)
        if maskable:
            drawn = drawn.convert("RGB")
        assert committed.size == (size, size)
        difference = ImageChops.difference(committed.convert(drawn.mode), drawn)
        # resampling may differ by a shade between Pillow versions, never by a shape
        assert max(high for _, high in ImageStat.Stat(difference).extrema) <= 8
