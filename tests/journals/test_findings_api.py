"""Moments, findings, citations and actions through the API; citation integrity rules."""

from __future__ import annotations

import io
import uuid
import wave
from typing import Any

import pytest

from server.models import Role
from tests.conftest import Factory, StudyTeam
from tests.evidence.test_evidence_api import send_file, small_photo


@pytest.fixture
def captured(team: StudyTeam, tmp_path: Any) -> dict[str, Any]:
    """A submitted visit with a photo, a note and a 3 s call, and evidence in another study."""
    visit = team.researcher.post(
        f"/api/v1/studies/{team.study.id}/visits",
        json={"client_uuid": str(uuid.uuid4()), "channel": "in_person"},
    ).json
    photo = send_file(team.researcher, visit["id"], small_photo(seed=50), "p.jpg", "photo").json
    note = team.researcher.post(
        f"/api/v1/visits/{visit['id']}/notes", json={"text": "Queue of 12 people at the till."}
    ).json
    wav = io.BytesIO()
    with wave.open(wav, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * 8000 * 3)
    audio = send_file(team.researcher, visit["id"], wav.getvalue(), "call.wav", "audio").json
    team.researcher.post(f"/api/v1/visits/{visit['id']}/transitions", json={"to": "submitted"})
    other_visit = team.outsider.client.post(
        f"/api/v1/studies/{team.other_study.id}/visits",
        json={"channel": "web"},
        headers=team.outsider.headers,
    )
    return {
        "visit": visit,
        "photo": photo,
        "note": note,
        "audio": audio,
        "other_visit": other_visit,
    }


def test_moment_cites_a_stretch_of_the_call(team: StudyTeam, captured: dict[str, Any]) -> None:
    url = f"/api/v1/visits/{captured['visit']['id']}/moments"
    body = {
        "what_happened": "Put on hold without a word",
        "stage": "return",
        "sentiment": -2,
        "effort": 4,
        "offset_s": 1.0,
        "citations": [
            {
                "evidence_id": captured["audio"]["id"],
                "span": {"type": "time", "start": 0.5, "end": 2.5},
            },
            {
                "evidence_id": captured["photo"]["id"],
                "span": {"type": "region", "x": 0.1, "y": 0.1, "w": 0.5, "h": 0.5},
            },
            {"evidence_id": captured["note"]["id"], "span": {"type": "text", "start": 0, "end": 8}},
        ],
    }
    created = team.reviewer.post(url, json=body)
    assert created.status_code == 201, created.json
    assert [c["span"]["type"] for c in created.json["citations"]] == ["time", "region", "text"]
    listed = team.reviewer.get(url).json
    assert [m["what_happened"] for m in listed] == ["Put on hold without a word"]


@pytest.mark.parametrize(
    ("target", "span", "code"),
    [
        ("audio", {"type": "time", "start": 1.0, "end": 30.0}, "citation.span_out_of_range"),
        (
            "photo",
            {"type": "region", "x": 0.8, "y": 0.1, "w": 0.5, "h": 0.5},
            "citation.span_out_of_range",
        ),
        ("note", {"type": "text", "start": 0, "end": 500}, "citation.span_out_of_range"),
        ("audio", {"type": "region", "x": 0, "y": 0, "w": 1, "h": 1}, "citation.span_unsupported"),
    ],
)
def test_citation_outside_its_item_is_422(
    team: StudyTeam, captured: dict[str, Any], target: str, span: dict[str, Any], code: str
) -> None:
    response = team.reviewer.post(
        f"/api/v1/visits/{captured['visit']['id']}/moments",
        json={
            "what_happened": "x",
            "citations": [{"evidence_id": captured[target]["id"], "span": span}],
        },
    )
    assert response.status_code == 422, response.json
    assert response.json["code"] == code
    assert any(key.startswith("citations[0]") for key in response.json["errors"])


def test_citation_to_another_studys_evidence_is_422(
    team: StudyTeam, captured: dict[str, Any], factory: Factory
) -> None:
    elsewhere = factory.member(team.other_study, Role.researcher)
    foreign_visit = elsewhere.post(
        f"/api/v1/studies/{team.other_study.id}/visits", json={"channel": "web"}
    ).json
    foreign = elsewhere.post(f"/api/v1/visits/{foreign_visit['id']}/notes", json={"text": "theirs"})
    assert foreign.status_code == 201
    response = team.reviewer.post(
        f"/api/v1/studies/{team.study.id}/findings",
        json={
            "kind": "pain_point",
            "title": "x",
            "citations": [{"evidence_id": foreign.json["id"]}],
        },
    )
    assert response.status_code == 422 and response.json["code"] == "citation.evidence_not_in_study"


def test_findings_and_actions_by_role(team: StudyTeam, captured: dict[str, Any]) -> None:
    base = f"/api/v1/studies/{team.study.id}/findings"
    body = {
        "kind": "pain_point",
        "severity": 3,
        "title": "Returns need a receipt nobody asked for",
        "citations": [{"evidence_id": captured["note"]["id"]}],
    }
    assert team.researcher.post(base, json=body).status_code == 403
    finding = team.reviewer.post(base, json=body)
    assert finding.status_code == 201 and len(finding.json["citations"]) == 1
    more = team.reviewer.post(
        f"/api/v1/findings/{finding.json['id']}/citations",
        json={
            "citations": [
                {
                    "evidence_id": captured["audio"]["id"],
                    "span": {"type": "time", "start": 0, "end": 1},
                }
            ]
        },
    )
    assert more.status_code == 201 and len(more.json["citations"]) == 2
    actions = f"/api/v1/findings/{finding.json['id']}/actions"
    plan = {
        "title": "Print the returns policy on receipts",
        "owner": "Store ops",
        "due_on": "2027-01-31",
    }
    assert team.reviewer.post(actions, json=plan).status_code == 403
    action = team.manager.post(actions, json=plan)
    assert action.status_code == 201 and action.json["status"] == "open"
    done = team.manager.patch(
        f"/api/v1/actions/{action.json['id']}", json={"status": "done", "outcome": "Live"}
    )
    assert done.json["status"] == "done"
    assert [a["title"] for a in team.researcher.get(actions).json] == [plan["title"]]
    assert team.outsider.get(f"/api/v1/findings/{finding.json['id']}").status_code == 404
    listed = team.reviewer.get(base).json
    assert [f["title"] for f in listed] == [body["title"]]
