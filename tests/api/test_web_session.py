"""Browser sessions: cookies, CSRF, sign-in and sign-out (RELIABILITY 26, 27, 28, 30)."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask

from server import create_app
from server.config import ConfigError
from server.extensions import db
from server.models import WebSession
from tests.conftest import PASSWORD, Factory, app_config


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the form has no CSRF token"
    return match.group(1)


def sign_in(client, email: str, password: str = PASSWORD):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def session_cookie(response) -> str:
    cookies = [
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("fieldbook_session=")
    ]
    assert cookies, "no session cookie set"
    return cookies[-1]


def test_rel26_form_post_without_csrf_token_is_400(client, factory: Factory) -> None:
    user = factory.user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "csrf" in response.get_data(as_text=True).lower()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebSession)) == 0


def test_rel26_session_api_calls_need_csrf_but_token_calls_do_not(client, factory: Factory) -> None:
    admin = factory.user(admin=True)
    assert sign_in(client, admin.email).status_code == 302
    # a browser session (cookie) calling the API without the CSRF header is refused
    refused = client.post("/api/v1/studies", json={"name": "Via cookie"})
    assert refused.status_code == 400 and refused.json["code"] == "csrf.invalid"
    token = csrf_token(client.get("/login").get_data(as_text=True))
    allowed = client.post(
        "/api/v1/studies", json={"name": "Via cookie"}, headers={"X-CSRFToken": token}
    )
    assert allowed.status_code == 201, allowed.json
    # a device token is not CSRF-bound
    bearer = factory.actor(admin=True)
    assert (
        bearer.client.post(
            "/api/v1/studies", json={"name": "Via token"}, headers=bearer.headers
        ).status_code
        == 201
    )


def test_rel27_cookie_flags_and_new_session_on_login(client, factory: Factory) -> None:
    user = factory.user()
    client.get("/login")
    first = sign_in(client, user.email)
    cookie = session_cookie(first)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    first_key = client.get_cookie("fieldbook_session").value
    sign_in(client, user.email)
    assert client.get_cookie("fieldbook_session").value != first_key
    live = db.session.scalars(
        sa.select(WebSession).where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
    ).all()
    assert len(live) == 1  # signing in again ended the earlier session


def test_rel27_logout_ends_the_session_everywhere(app: Flask, factory: Factory) -> None:
    user = factory.user()
    browser = app.test_client()
    sign_in(browser, user.email)
    stolen = browser.get_cookie("fieldbook_session").value
    assert browser.get("/").status_code == 200
    token = csrf_token(browser.get("/").get_data(as_text=True))
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("fieldbook_session", stolen)
    response = replay.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")


def test_rel27_disabling_an_account_ends_its_sessions(app: Flask, factory: Factory) -> None:
    user = factory.user()
    browser = app.test_client()
    sign_in(browser, user.email)
    assert browser.get("/").status_code == 200
    admin = factory.actor(admin=True)
    admin.patch(f"/api/v1/users/{user.id}", json={"is_active": False})
    assert browser.get("/").status_code == 302
    assert sign_in(app.test_client(), user.email).status_code == 401


def test_rel27_production_needs_a_secret_key(tmp_path) -> None:
    config = app_config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", ENV="production")
    config.pop("SECRET_KEY")
    with pytest.raises(ConfigError, match="FIELDBOOK_SECRET_KEY"):
        create_app(config)


def test_sign_in_never_redirects_off_site(client, factory: Factory) -> None:
    user = factory.user()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/x",
        },
    )
    assert response.headers["Location"] == "/"


def test_rel28_login_brute_force_is_429(tmp_path) -> None:
    app = create_app(
        app_config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", LOGIN_RATE_LIMIT="3 per minute")
    )
    client = app.test_client()
    statuses = [
        client.post(
            "/api/v1/tokens",
            json={"email": "a@example.test", "password": "guess-guess", "device_name": "x"},
        ).status_code
        for _ in range(5)
    ]
    # the database is empty (never migrated): the limit is hit before any query is made
    assert statuses[3:] == [429, 429]
    body = client.post(
        "/api/v1/tokens", json={"email": "a@example.test", "password": "x", "device_name": "x"}
    ).json
    assert body["code"] == "rate_limited" and body["status"] == 429


def test_rel30_errors_carry_no_stack_trace(app: Flask, client) -> None:
    api_404 = client.get("/api/v1/nothing-here")
    assert api_404.status_code == 404
    assert set(api_404.json) == {"code", "status", "message", "errors"}
    page_404 = client.get("/nothing-here")
    assert page_404.status_code == 404 and "text/html" in page_404.content_type
    assert "Traceback" not in page_404.get_data(as_text=True)
    assert client.put("/api/v1/tokens").status_code == 405


def test_rel30_unexpected_errors_are_a_plain_500(tmp_path) -> None:
    app = create_app(app_config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}"))

    @app.get("/api/v1/explode")
    def explode() -> str:
        raise RuntimeError("secret internals: /etc/passwd")

    response = app.test_client().get("/api/v1/explode")
    assert response.status_code == 500
    assert response.json == {
        "code": "server.error",
        "status": 500,
        "message": "The server could not complete the request.",
        "errors": {},
    }
    assert "secret internals" not in response.get_data(as_text=True)


def test_security_headers_on_every_response(client) -> None:
    for path in ("/login", "/api/v1/openapi.json", "/api/v1/me"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert "unsafe-inline" not in headers["Content-Security-Policy"]


def test_oversized_json_body_is_413_before_parsing(factory: Factory) -> None:
    admin = factory.actor(admin=True)
    response = admin.post(
        "/api/v1/studies", json={"name": "x", "description": "y" * (2 * 1024 * 1024)}
    )
    assert response.status_code == 413
    assert response.json["code"] == "request.too_large"
