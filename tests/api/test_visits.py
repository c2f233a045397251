"""Visits: creation from phones, edits, filters, and the review workflow."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEvent, ReviewComment, Visit
from tests.conftest import Actor, StudyTeam


def visit_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_uuid": str(uuid.uuid4()),
        "channel": "in_person",
        "title": "High St store, Saturday",
        "started_at": "2026-11-21T10:02:00Z",
        "latitude": 51.5072,
        "longitude": -0.1276,
        "device": "Pixel 8 / Android 15",
        "checklist_answers": {"greeted": True},
    }
    body.update(overrides)
    return body


def start_visit(team: StudyTeam, actor: Actor | None = None, **overrides: Any) -> dict[str, Any]:
    actor = actor or team.researcher
    response = actor.post(f"/api/v1/studies/{team.study.id}/visits", json=visit_body(**overrides))
    assert response.status_code == 201, response.json
    return dict(response.json)


def test_rel1_same_client_uuid_twice_gives_one_visit(team: StudyTeam) -> None:
    url = f"/api/v1/studies/{team.study.id}/visits"
    body = visit_body()
    first = team.researcher.post(url, json=body)
    # key order and spacing of the repeat do not matter
    repeat = team.researcher.post(url, json=dict(reversed(list(body.items()))))
    assert (first.status_code, repeat.status_code) == (201, 200)
    assert repeat.json == first.json
    changed = team.researcher.post(url, json={**body, "title": "Something else"})
    assert changed.status_code == 409 and changed.json["code"] == "idempotency.conflict"
    assert "client_uuid" in changed.json["errors"]
    stored = db.session.scalars(
        sa.select(Visit).where(Visit.client_uuid == uuid.UUID(body["client_uuid"]))
    ).all()
    assert len(stored) == 1 and stored[0].title == body["title"]


def test_rel1_client_uuid_of_another_researcher_is_a_conflict(team: StudyTeam) -> None:
    body = visit_body()
    theirs = start_visit(team, **body)
    url = f"/api/v1/studies/{team.study.id}/visits"
    stolen = team.researcher2.post(url, json=body)
    assert stolen.status_code == 409 and stolen.json["code"] == "idempotency.conflict"
    assert theirs["id"] not in stolen.get_data(as_text=True)


def test_only_researchers_start_visits(team: StudyTeam) -> None:
    url = f"/api/v1/studies/{team.study.id}/visits"
    assert team.reviewer.post(url, json=visit_body()).status_code == 403
    assert team.outsider.post(url, json=visit_body()).status_code == 404


def test_visit_validation_names_each_field(team: StudyTeam) -> None:
    url = f"/api/v1/studies/{team.study.id}/visits"
    response = team.researcher.post(
        url,
        json=visit_body(
            channel="carrier_pigeon",
            latitude=123,
            client_uuid="not-a-uuid",
            started_at="2026-11-21T10:00:00Z",
            ended_at="2026-11-21T09:00:00Z",
        ),
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"channel", "latitude", "client_uuid"}
    backwards = team.researcher.post(
        url, json=visit_body(started_at="2026-11-21T10:00:00Z", ended_at="2026-11-21T09:00:00Z")
    )
    assert backwards.status_code == 422 and set(backwards.json["errors"]) == {"ended_at"}
    not_json = team.researcher.post(url, data="{", content_type="application/json")
    assert not_json.status_code in (400, 422) and "code" in not_json.json
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 0


def test_drafts_are_private_and_editable_only_by_their_researcher(team: StudyTeam) -> None:
    visit = start_visit(team)
    url = f"/api/v1/visits/{visit['id']}"
    assert team.researcher2.get(url).status_code == 404
    assert team.reviewer.get(url).status_code == 404  # drafts are not for review yet
    assert team.researcher2.patch(url, json={"title": "mine now"}).status_code == 404
    ok = team.researcher.patch(
        url, json={"title": "High St, 10am", "ended_at": "2026-11-21T10:40:00Z"}
    )
    assert ok.status_code == 200 and ok.json["title"] == "High St, 10am"
    assert ok.json["channel"] == "in_person"
    assert team.researcher.patch(url, json={"channel": "web"}).status_code == 422


def test_review_workflow_with_roles(team: StudyTeam) -> None:
    visit = start_visit(team)
    url = f"/api/v1/visits/{visit['id']}/transitions"

    def move(actor: Actor, to: str, comment: str = "") -> Any:
        return actor.post(url, json={"to": to, "comment": comment})

    assert move(team.reviewer, "submitted").status_code == 404  # cannot see a draft
    assert move(team.researcher, "approved").json["code"] == "visit.transition_invalid"
    submitted = move(team.researcher, "submitted")
    assert submitted.status_code == 200 and submitted.json["status"] == "submitted"
    assert submitted.json["submitted_at"] is not None
    assert (
        team.researcher.patch(f"/api/v1/visits/{visit['id']}", json={"title": "x"}).json["code"]
        == "visit.not_editable"
    )

    forbidden = move(team.researcher, "in_review")
    assert forbidden.status_code == 403 and forbidden.json["code"] == "visit.transition_forbidden"
    assert move(team.reviewer, "in_review").status_code == 200
    no_reason = move(team.reviewer, "returned")
    assert no_reason.status_code == 422 and "comment" in no_reason.json["errors"]
    returned = move(team.reviewer, "returned", "The receipt photo is missing.")
    assert returned.json["status"] == "returned"
    assert returned.json["reviewed_by_id"] == str(team.reviewer.user.id)
    comments = db.session.scalars(
        sa.select(ReviewComment).where(ReviewComment.visit_id == uuid.UUID(visit["id"]))
    ).all()
    assert [c.body for c in comments] == ["The receipt photo is missing."]

    assert (
        team.researcher.patch(
            f"/api/v1/visits/{visit['id']}", json={"summary": "Added the receipt."}
        ).status_code
        == 200
    )
    assert move(team.researcher, "submitted").status_code == 200
    assert move(team.manager, "in_review").status_code == 200
    approved = move(team.manager, "approved")
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    assert move(team.manager, "returned", "too late").status_code == 409

    history = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.action == "visit.transition", AuditEvent.object_id == visit["id"])
        .order_by(AuditEvent.at)
    ).all()
    assert [(e.detail["from"], e.detail["to"]) for e in history] == [
        ("draft", "submitted"),
        ("submitted", "in_review"),
        ("in_review", "returned"),
        ("returned", "submitted"),
        ("submitted", "in_review"),
        ("in_review", "approved"),
    ]


def test_list_filters_and_visibility(team: StudyTeam) -> None:
    phone = start_visit(team, channel="phone")
    start_visit(team, channel="web")
    other = start_visit(team, actor=team.researcher2, channel="phone")
    team.researcher.post(f"/api/v1/visits/{phone['id']}/transitions", json={"to": "submitted"})
    url = f"/api/v1/studies/{team.study.id}/visits"

    mine = {v["id"] for v in team.researcher.get(url).json}
    assert other["id"] not in mine and len(mine) == 2
    assert [v["id"] for v in team.researcher.get(f"{url}?channel=phone").json] == [phone["id"]]
    # reviewers see submitted work, not drafts
    assert [v["id"] for v in team.reviewer.get(url).json] == [phone["id"]]
    assert [v["id"] for v in team.reviewer.get(f"{url}?status=submitted").json] == [phone["id"]]
    assert team.reviewer.get(f"{url}?status=draft").json == []
    assert team.reviewer.get(f"{url}?status=lost").status_code == 422
    assert team.outsider.get(url).status_code == 404


@pytest.mark.parametrize("field", ["target_id", "journey_id", "assignment_id"])
def test_visit_references_must_be_in_the_study(team: StudyTeam, field: str) -> None:
    response = team.researcher.post(
        f"/api/v1/studies/{team.study.id}/visits", json=visit_body(**{field: str(uuid.uuid4())})
    )
    assert response.status_code == 422 and field in response.json["errors"]


def test_visit_from_own_assignment_only(team: StudyTeam) -> None:
    assignment = team.manager.post(
        f"/api/v1/studies/{team.study.id}/assignments",
        json={"researcher_id": str(team.researcher.user.id), "channel": "phone"},
    ).json
    url = f"/api/v1/studies/{team.study.id}/visits"
    theirs = team.researcher2.post(url, json=visit_body(assignment_id=assignment["id"]))
    assert theirs.status_code == 422 and theirs.json["code"] == "visit.not_your_assignment"
    mine = team.researcher.post(url, json=visit_body(assignment_id=assignment["id"]))
    assert mine.status_code == 201 and mine.json["assignment_id"] == assignment["id"]
