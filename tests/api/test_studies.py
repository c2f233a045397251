"""Studies, members, targets, journeys and assignments through the API."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEvent, Role
from tests.conftest import Factory, StudyTeam


def test_admin_creates_a_study_and_becomes_its_manager(factory: Factory) -> None:
    admin = factory.actor(admin=True)
    response = admin.post(
        "/api/v1/studies",
        json={
            "name": "Returns at Acme",
            "company": "Acme",
            "journey_stages": ["discover", "buy", "return"],
            "channels": ["in_person", "phone", "web"],
            "checklist": [{"key": "greeted", "question": "Were you greeted within a minute?"}],
        },
    )
    assert response.status_code == 201, response.json
    study = response.json
    assert study["checklist"][0] == {
        "key": "greeted",
        "question": "Were you greeted within a minute?",
        "kind": "yes_no",
        "weight": 1.0,
    }
    members = admin.get(f"/api/v1/studies/{study['id']}/members").json
    assert [(m["email"], m["role"]) for m in members] == [(admin.user.email, "manager")]
    assert (
        db.session.scalar(
            sa.select(AuditEvent).where(
                AuditEvent.action == "study.create", AuditEvent.object_id == study["id"]
            )
        ).actor_id
        == admin.user.id
    )


def test_only_admins_create_studies(team: StudyTeam) -> None:
    response = team.manager.post("/api/v1/studies", json={"name": "Mine"})
    assert response.status_code == 403 and response.json["code"] == "auth.forbidden"


def test_study_list_shows_only_your_studies(team: StudyTeam) -> None:
    ids = {s["id"] for s in team.researcher.get("/api/v1/studies").json}
    assert ids == {str(team.study.id)}
    assert {s["id"] for s in team.admin.get("/api/v1/studies").json} >= {
        str(team.study.id),
        str(team.other_study.id),
    }


def test_manager_edits_study_and_validation_names_fields(team: StudyTeam) -> None:
    url = f"/api/v1/studies/{team.study.id}"
    ok = team.manager.patch(url, json={"description": "Why returns take so long"})
    assert ok.status_code == 200 and ok.json["description"] == "Why returns take so long"
    assert ok.json["name"] == team.study.name  # untouched fields keep their values
    bad = team.manager.patch(url, json={"name": "", "channels": ["fax"], "surprise": 1})
    assert bad.status_code == 422
    assert set(bad.json["errors"]) == {"name", "channels", "surprise"}
    assert team.reviewer.patch(url, json={"description": "x"}).status_code == 403


def test_members_are_added_listed_and_removed(team: StudyTeam, factory: Factory) -> None:
    newcomer = factory.user()
    url = f"/api/v1/studies/{team.study.id}/members"
    added = team.manager.post(url, json={"user_id": str(newcomer.id), "role": "reviewer"})
    assert added.status_code == 201 and added.json["role"] == "reviewer"
    again = team.manager.post(url, json={"user_id": str(newcomer.id), "role": "reviewer"})
    assert again.status_code == 409 and again.json["code"] == "member.exists"
    ghost = team.manager.post(url, json={"user_id": str(uuid.uuid4()), "role": "reviewer"})
    assert ghost.status_code == 422 and "user_id" in ghost.json["errors"]
    assert team.manager.delete(f"{url}/{newcomer.id}").status_code == 204
    assert str(newcomer.id) not in {m["user_id"] for m in team.manager.get(url).json}
    assert team.manager.delete(f"{url}/{newcomer.id}").status_code == 404


def test_targets_and_journeys(team: StudyTeam) -> None:
    base = f"/api/v1/studies/{team.study.id}"
    store = team.manager.post(
        f"{base}/targets",
        json={"kind": "store", "name": "High St", "latitude": 51.5, "longitude": -0.12},
    )
    assert store.status_code == 201
    site = team.manager.post(
        f"{base}/targets", json={"kind": "website", "name": "Shop", "url": "javascript:alert(1)"}
    )
    assert site.status_code == 422 and "url" in site.json["errors"]
    far = team.manager.post(f"{base}/targets", json={"kind": "store", "name": "X", "latitude": 91})
    assert far.status_code == 422 and "latitude" in far.json["errors"]
    journey = team.manager.post(f"{base}/journeys", json={"title": "Return a faulty kettle"})
    assert journey.status_code == 201
    assert [t["name"] for t in team.researcher.get(f"{base}/targets").json] == ["High St"]
    assert team.researcher.post(f"{base}/journeys", json={"title": "x"}).status_code == 403
    renamed = team.manager.patch(
        f"/api/v1/journeys/{journey.json['id']}", json={"title": "Return a kettle"}
    )
    assert renamed.json["title"] == "Return a kettle"


def test_assignments_are_idempotent_and_private_to_their_researcher(team: StudyTeam) -> None:
    base = f"/api/v1/studies/{team.study.id}"
    body = {
        "client_uuid": str(uuid.uuid4()),
        "researcher_id": str(team.researcher.user.id),
        "channel": "phone",
        "scenario": "Ask how to return a kettle bought online.",
        "window_start": "2026-11-20T09:00:00Z",
        "window_end": "2026-11-20T17:00:00+00:00",
    }
    first = team.manager.post(f"{base}/assignments", json=body)
    assert first.status_code == 201, first.json
    repeat = team.manager.post(f"{base}/assignments", json=body)
    assert repeat.status_code == 200 and repeat.json["id"] == first.json["id"]
    changed = team.manager.post(f"{base}/assignments", json={**body, "channel": "web"})
    assert changed.status_code == 409 and changed.json["code"] == "idempotency.conflict"

    mine = team.researcher.get(f"{base}/assignments").json
    assert [a["id"] for a in mine] == [first.json["id"]]
    assert team.researcher2.get(f"{base}/assignments").json == []
    assert team.researcher2.get(f"/api/v1/assignments/{first.json['id']}").status_code == 404

    reviewer_as_researcher = team.manager.post(
        f"{base}/assignments",
        json={**body, "client_uuid": None, "researcher_id": str(team.reviewer.user.id)},
    )
    assert reviewer_as_researcher.status_code == 422
    assert reviewer_as_researcher.json["code"] == "assignment.not_researcher"
    backwards = team.manager.post(
        f"{base}/assignments",
        json={**body, "client_uuid": None, "window_end": "2026-11-20T08:00:00Z"},
    )
    assert backwards.status_code == 422 and "window_end" in backwards.json["errors"]
    naive = team.manager.post(
        f"{base}/assignments",
        json={**body, "client_uuid": None, "window_start": "2026-11-20T09:00:00"},
    )
    assert naive.status_code == 422 and "window_start" in naive.json["errors"]


def test_references_to_other_studies_are_refused(team: StudyTeam, factory: Factory) -> None:
    foreign_target = team.outsider.post(
        f"/api/v1/studies/{team.other_study.id}/targets", json={"kind": "store", "name": "Theirs"}
    ).json
    response = team.manager.post(
        f"/api/v1/studies/{team.study.id}/assignments",
        json={
            "researcher_id": str(team.researcher.user.id),
            "channel": "in_person",
            "target_id": foreign_target["id"],
        },
    )
    assert response.status_code == 422
    assert response.json["code"] == "reference.not_in_study"
    assert "target_id" in response.json["errors"]


def test_pagination_headers(team: StudyTeam) -> None:
    base = f"/api/v1/studies/{team.study.id}/journeys"
    for n in range(5):
        assert team.manager.post(base, json={"title": f"Journey {n}"}).status_code == 201
    page = team.manager.get(f"{base}?page=2&page_size=2")
    assert page.status_code == 200
    assert [j["title"] for j in page.json] == ["Journey 2", "Journey 3"]
    assert '"total": 5' in page.headers["X-Pagination"]
    too_big = team.manager.get(f"{base}?page_size=100000")
    assert too_big.status_code == 422 and "page_size" in too_big.json["errors"]


def test_roles_enum_matches_api() -> None:
    assert {r.value for r in Role} == {"researcher", "reviewer", "manager"}
