"""Device tokens: issued once, stored hashed, listed with last use, revocable."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from server.extensions import db
from server.models import ApiToken, AuditEvent
from tests.conftest import PASSWORD, Factory


def test_token_is_issued_once_and_stored_hashed(client, factory: Factory) -> None:
    user = factory.user()
    response = client.post(
        "/api/v1/tokens",
        json={"email": user.email.upper(), "password": PASSWORD, "device_name": "Pixel 8"},
    )
    assert response.status_code == 201
    secret = response.json["token"]
    assert secret.startswith("fb_") and len(secret) > 40
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user.id))
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (row.prefix + row.token_hash)

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json["email"] == user.email

    listed = client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {secret}"}).json
    assert [t["device_name"] for t in listed] == ["Pixel 8"]
    assert listed[0]["last_used_at"] is not None
    assert "token" not in listed[0]


def test_wrong_password_is_401_and_audited(client, factory: Factory) -> None:
    user = factory.user()
    response = client.post(
        "/api/v1/tokens",
        json={"email": user.email, "password": "nope-nope-nope", "device_name": "x"},
    )
    assert response.status_code == 401
    assert response.json["code"] == "auth.invalid_credentials"
    unknown = client.post(
        "/api/v1/tokens",
        json={"email": "nobody@example.test", "password": PASSWORD, "device_name": "x"},
    )
    assert unknown.status_code == 401
    assert unknown.json["message"] == response.json["message"]
    denied = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "auth.login", AuditEvent.outcome == "denied"
        )
    ).all()
    assert {e.detail["email"] for e in denied} >= {user.email, "nobody@example.test"}
    assert all(e.ip == "127.0.0.1" and e.at.tzinfo is not None for e in denied)


def test_every_call_needs_a_valid_bearer_token(client, factory: Factory) -> None:
    actor = factory.actor()
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me").json["code"] == "auth.required"
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer fb_not-a-token"})
    assert bad.status_code == 401 and bad.json["code"] == "auth.invalid_token"
    basic = client.get("/api/v1/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401 and basic.json["code"] == "auth.bad_header"
    assert actor.get("/api/v1/me").status_code == 200


def test_revoked_token_stops_working_at_once(factory: Factory) -> None:
    actor = factory.actor()
    token_id = actor.get("/api/v1/tokens").json[0]["id"]
    assert actor.delete(f"/api/v1/tokens/{token_id}").status_code == 204
    response = actor.get("/api/v1/me")
    assert response.status_code == 401 and response.json["code"] == "auth.invalid_token"


def test_cannot_revoke_someone_elses_token(factory: Factory) -> None:
    alice, bob = factory.actor(), factory.actor()
    bobs = bob.get("/api/v1/tokens").json[0]["id"]
    assert alice.delete(f"/api/v1/tokens/{bobs}").status_code == 404
    assert bob.get("/api/v1/me").status_code == 200


def test_disabling_a_user_revokes_tokens(factory: Factory) -> None:
    admin, victim = factory.actor(admin=True), factory.actor()
    response = admin.patch(f"/api/v1/users/{victim.user.id}", json={"is_active": False})
    assert response.status_code == 200 and response.json["is_active"] is False
    assert victim.get("/api/v1/me").status_code == 401
    assert all(
        t.revoked_at is not None
        for t in db.session.scalars(sa.select(ApiToken).where(ApiToken.user_id == victim.user.id))
    )


def test_token_request_validation_names_the_field(client) -> None:
    response = client.post("/api/v1/tokens", json={"email": "not-an-email", "device_name": ""})
    assert response.status_code == 422
    body = response.json
    assert body["code"] == "validation.failed" and body["status"] == 422
    assert set(body["errors"]) == {"email", "password", "device_name"}
