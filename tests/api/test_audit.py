"""The audit log: logins, refusals and changes, with who, when (UTC) and from where."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import PASSWORD, StudyTeam


def test_audit_records_logins_refusals_and_changes(team: StudyTeam) -> None:
    client = team.admin.client
    client.post(
        "/api/v1/tokens",
        json={"email": team.reviewer.user.email, "password": PASSWORD, "device_name": "laptop"},
        headers={"User-Agent": "fieldkit/1.0"},
    )
    client.post(
        "/api/v1/tokens",
        json={"email": team.reviewer.user.email, "password": "wrong-wrong", "device_name": "x"},
    )
    team.outsider.get(f"/api/v1/studies/{team.study.id}")
    team.manager.patch(f"/api/v1/studies/{team.study.id}", json={"description": "Q4"})

    events = team.admin.get("/api/v1/audit?page_size=100").json
    by_action: dict[str, list[dict]] = {}
    for event in events:
        by_action.setdefault(event["action"], []).append(event)

    logins = {
        (e["actor_email"] or e["detail"].get("email"), e["outcome"])
        for e in by_action["auth.login"]
    }
    assert (team.reviewer.user.email, "ok") in logins
    assert (team.reviewer.user.email, "denied") in logins
    ok_login = next(e for e in by_action["auth.login"] if e["outcome"] == "ok")
    assert ok_login["ip"] == "127.0.0.1" and ok_login["user_agent"] == "fieldkit/1.0"
    when = datetime.fromisoformat(ok_login["at"])
    assert when.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - when) < timedelta(minutes=5)

    denied = by_action["access.denied"]
    assert any(e["actor_email"] == team.outsider.user.email for e in denied)
    update = by_action["study.update"][0]
    assert update["actor_id"] == str(team.manager.user.id)
    assert update["study_id"] == str(team.study.id)
    assert update["detail"] == {"fields": ["description"]}


def test_study_audit_is_for_managers_of_that_study(team: StudyTeam) -> None:
    team.manager.patch(f"/api/v1/studies/{team.study.id}", json={"company": "Acme plc"})
    url = f"/api/v1/studies/{team.study.id}/audit"
    actions = [e["action"] for e in team.manager.get(url).json]
    assert "study.update" in actions
    assert all(e["study_id"] == str(team.study.id) for e in team.manager.get(url).json)
    assert team.reviewer.get(url).status_code == 403
    assert team.outsider.get(url).status_code == 404
    assert team.manager.get("/api/v1/audit").status_code == 403
