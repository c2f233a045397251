"""The ``fieldbook`` command against a live server, and refusals to start (RELIABILITY 27, 30)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.live.api_client import ApiClient, request_token
from tests.live.conftest import (
    ADMIN_PASSWORD,
    BACKENDS,
    LiveServer,
    fresh_database,
    unique_email,
)
from tests.live.server_process import answers_http, fieldbook_env, run_fieldbook
from tests.services import free_port

PASSWORD = "cli chosen password 42"
ERROR_KEYS = {"code", "status", "message", "errors"}
# what a stack trace or a debug page would leave in a response body
TRACE_MARKERS = ("Traceback", 'File "', "site-packages", "werkzeug", "__debugger__", '.py"')


def output(result: object) -> str:
    """Return everything a finished command printed."""
    return f"{getattr(result, 'stdout', '')}{getattr(result, 'stderr', '')}"


def assert_no_trace(text: str) -> None:
    """Fail if ``text`` shows a stack trace or debugger."""
    for marker in TRACE_MARKERS:
        assert marker not in text, f"{marker!r} leaked:\n{text}"


# users ---------------------------------------------------------------------------------


def test_users_create_admin_then_sign_in_over_http(live_server: LiveServer) -> None:
    """An admin made with the command signs in on the running server and has admin rights."""
    email = unique_email("cli-admin")

    result = live_server.cli("users", "create", email, "--admin", FIELDBOOK_PASSWORD=PASSWORD)

    assert result.returncode == 0, output(result)
    assert f"Created {email} (admin)" in result.stdout
    assert PASSWORD not in output(result)
    admin = ApiClient.sign_in(live_server.base_url, email, PASSWORD)
    me = admin.get("/me").json()
    assert (me["email"], me["is_admin"], me["is_active"]) == (email, True, True)
    assert admin.get("/users").status_code == 200
    assert request_token(live_server.base_url, email, PASSWORD + "!").status_code == 401
    admin.session.close()


def test_users_disable_revokes_device_tokens(live_server: LiveServer) -> None:
    """RELIABILITY 27: disabling an account stops its tokens at once, for good."""
    email = unique_email("cli-researcher")
    user_id = live_server.admin.create_user(email, PASSWORD)
    device = ApiClient.sign_in(live_server.base_url, email, PASSWORD)
    assert device.get("/me").status_code == 200

    disabled = live_server.cli("users", "disable", email)

    assert disabled.returncode == 0, output(disabled)
    refused = device.get("/me", new_connection=True)
    assert refused.status_code == 401
    assert refused.json()["code"] == "auth.invalid_token"
    assert request_token(live_server.base_url, email, PASSWORD).status_code == 401
    # enabling the account again does not bring the revoked token back
    enabled = live_server.admin.session.patch(
        f"{live_server.base_url}/api/v1/users/{user_id}", json={"is_active": True}, timeout=30
    )
    assert enabled.status_code == 200, enabled.text
    assert device.get("/me", new_connection=True).status_code == 401
    assert request_token(live_server.base_url, email, PASSWORD).status_code == 201
    device.session.close()


# init ----------------------------------------------------------------------------------


def test_init_with_password_from_environment_never_prints_it(live_server: LiveServer) -> None:
    """The fixture's ``fieldbook init`` took FIELDBOOK_PASSWORD and kept it off the screen."""
    assert "Database ready. First admin: admin@fieldbook.local" in live_server.init_output
    assert ADMIN_PASSWORD not in live_server.init_output
    assert "Password (shown once)" not in live_server.init_output


def test_init_prints_generated_password_once_and_is_idempotent(live_server: LiveServer) -> None:
    """Without FIELDBOOK_PASSWORD the admin password is generated, shown once, and works."""
    email = unique_email("init-admin")

    first = live_server.cli("init", "--admin-email", email)

    assert first.returncode == 0, output(first)
    shown = re.findall(r"Password \(shown once\): (\S+)", first.stdout)
    assert len(shown) == 1, first.stdout
    password = shown[0]
    assert request_token(live_server.base_url, email, password).status_code == 201

    again = live_server.cli("init", "--admin-email", email)

    assert again.returncode == 0, output(again)
    assert f"admin {email} exists" in again.stdout
    assert "Password" not in output(again)
    assert password not in output(again)
    # the second run changed nothing: the generated password still signs in
    assert request_token(live_server.base_url, email, password).status_code == 201


# refusals to start ---------------------------------------------------------------------


def table_names(url: str) -> list[str]:
    """Return the tables a database holds."""
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_serve_refuses_a_database_that_was_never_migrated(backend: str, tmp_path: Path) -> None:
    """``fieldbook serve`` on an empty database says what to run and starts nothing."""
    with fresh_database(backend, tmp_path) as url:
        port = free_port()

        result = run_fieldbook(fieldbook_env(tmp_path, url), "serve", "--port", str(port))

        assert result.returncode != 0
        assert "The database is at an empty schema" in result.stderr
        assert "run 'fieldbook db upgrade' (or 'fieldbook init') first" in result.stderr
        assert_no_trace(output(result))
        assert not answers_http(f"http://127.0.0.1:{port}")
        assert table_names(url) == []


def test_production_without_secret_key_refuses_to_start(tmp_path: Path) -> None:
    """RELIABILITY 27: FIELDBOOK_ENV=production with no FIELDBOOK_SECRET_KEY does not start.

    The live servers are the other half: production with a key, and they run.
    """
    url = f"sqlite:///{tmp_path / 'fieldbook.db'}"
    env = fieldbook_env(tmp_path, url, FIELDBOOK_ENV="production")
    del env["FIELDBOOK_SECRET_KEY"]
    port = free_port()

    result = run_fieldbook(env, "serve", "--port", str(port))

    assert result.returncode != 0
    assert "FIELDBOOK_SECRET_KEY must be set when FIELDBOOK_ENV=production" in result.stderr
    assert_no_trace(output(result))
    assert not answers_http(f"http://127.0.0.1:{port}")
    # no key was made up and left behind for a later start to pick up
    assert not (tmp_path / "secret_key").exists()


# RELIABILITY 30 ------------------------------------------------------------------------


def test_api_errors_are_json_in_one_shape_without_stack_traces(live_server: LiveServer) -> None:
    """A 400, 401, 404 and 405 from the API are ``{code, status, message, errors}``."""
    admin, base = live_server.admin, live_server.base_url
    cases = [
        (admin.get("/no-such-resource"), 404, "not_found"),
        (admin.get(f"/visits/{uuid.uuid4()}"), 404, "not_found"),
        (
            admin.session.delete(f"{base}/api/v1/tokens", timeout=30),
            405,
            "request.method_not_allowed",
        ),
        (
            admin.post("/studies", data="{not json", headers={"Content-Type": "application/json"}),
            400,
            "request.bad",
        ),
        (requests.get(f"{base}/api/v1/me", timeout=30), 401, "auth.required"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"] == "application/json"
        body = response.json()
        assert set(body) == ERROR_KEYS, body
        assert (body["status"], body["code"]) == (status, code)
        assert isinstance(body["message"], str) and body["message"]
        assert isinstance(body["errors"], dict)
        assert_no_trace(response.text)
    not_allowed = cases[2][0]
    assert {"GET", "POST"} <= {m.strip() for m in not_allowed.headers["Allow"].split(",")}


def test_page_not_found_is_html_without_stack_trace(live_server: LiveServer) -> None:
    """A missing page on a production server is Fieldbook's own page, with no trace."""
    assert live_server.env["FIELDBOOK_ENV"] == "production"
    response = requests.get(
        f"{live_server.base_url}/no-such-page", headers={"Accept": "text/html"}, timeout=30
    )

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>404</h1>" in response.text
    assert "Fieldbook" in response.text
    assert_no_trace(response.text)
