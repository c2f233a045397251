"""Journals through the server: compile, render, publish sealed, verify, share."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from PIL import Image

from server.cli.journals import journals_group
from server.extensions import db
from server.models import ShareLink, utcnow
from tests.conftest import StudyTeam
from tests.evidence.test_evidence_api import send_file, small_photo
from tests.services import SHARED

XSS = '<script>alert("x")</script> {{ 7*7 }} \u202eevil'


@pytest.fixture
def reviewed(team: StudyTeam) -> dict[str, Any]:
    """A submitted phone visit with a transcribed call, a photo, a note, a moment and a finding."""
    visit = team.researcher.post(
        f"/api/v1/studies/{team.study.id}/visits",
        json={
            "client_uuid": str(uuid.uuid4()),
            "channel": "phone",
            "title": "Help desk call",
            "started_at": "2026-11-21T10:00:00Z",
            "ended_at": "2026-11-21T10:20:00Z",
        },
    ).json
    jfk = (SHARED / "audio" / "jfk.flac").read_bytes()
    audio = send_file(team.researcher, visit["id"], jfk, "call.flac", "audio").json
    photo = send_file(
        team.researcher, visit["id"], small_photo(seed=int(uuid.uuid4()) % 10_000), "p.jpg", "photo"
    ).json
    note_text = f"Receipt demanded twice. {uuid.uuid4()}"
    note = team.researcher.post(
        f"/api/v1/visits/{visit['id']}/notes", json={"text": note_text}
    ).json
    team.researcher.post(f"/api/v1/visits/{visit['id']}/transitions", json={"to": "submitted"})
    moment = team.reviewer.post(
        f"/api/v1/visits/{visit['id']}/moments",
        json={
            "what_happened": "Agent asks what we can do",
            "stage": "return",
            "effort": 4,
            "sentiment": -1,
            "citations": [
                {"evidence_id": audio["id"], "span": {"type": "time", "start": 3.0, "end": 8.0}}
            ],
        },
    )
    assert moment.status_code == 201, moment.json
    finding = team.reviewer.post(
        f"/api/v1/studies/{team.study.id}/findings",
        json={
            "kind": "pain_point",
            "severity": 3,
            "title": f"Receipts asked twice {XSS}",
            "citations": [
                {"evidence_id": note["id"], "span": {"type": "text", "start": 0, "end": 16}},
                {"evidence_id": photo["id"]},
            ],
        },
    ).json
    team.manager.post(
        f"/api/v1/findings/{finding['id']}/actions",
        json={
            "title": "Stop asking for receipts on card purchases",
            "owner": "Store ops",
            "due_on": "2027-02-01",
        },
    )
    return {"visit": visit, "audio": audio, "photo": photo, "note": note, "finding": finding}


def compile_visit(team: StudyTeam, visit_id: str) -> dict[str, Any]:
    response = team.reviewer.post(
        "/api/v1/journals", json={"scope": "visit", "subject_id": visit_id}
    )
    assert response.status_code == 201, response.json
    return dict(response.json)


def test_visit_journal_renders_every_statement_with_its_evidence(
    team: StudyTeam, reviewed: dict[str, Any]
) -> None:
    journal = compile_visit(team, reviewed["visit"]["id"])
    assert journal["version"] == 1 and journal["published_at"] is None
    html = team.reviewer.get(f"/api/v1/journals/{journal['id']}/html")
    assert html.status_code == 200 and html.mimetype == "text/html"
    page = html.get_data(as_text=True)
    assert "Agent asks what we can do" in page
    assert f"evidence-{reviewed['audio']['id']}" in page
    assert "0:03" in page or "00:03" in page  # the quote's audio time
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "\u202e" not in page
    assert "Stop asking for receipts" in page
    # photos are embedded from their GPS-free thumbnails only
    for data in re.findall(r"data:image/jpeg;base64,([A-Za-z0-9+/=]+)", page):
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        assert not image.getexif().get_ifd(0x8825)
    markdown = team.reviewer.get(f"/api/v1/journals/{journal['id']}/markdown").get_data(
        as_text=True
    )
    assert "Agent asks what we can do" in markdown


def test_pdf_journal_has_the_text(
    team: StudyTeam, reviewed: dict[str, Any], tmp_path: Path
) -> None:
    journal = compile_visit(team, reviewed["visit"]["id"])
    pdf = team.reviewer.get(f"/api/v1/journals/{journal['id']}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"].startswith("attachment")
    (tmp_path / "j.pdf").write_bytes(pdf.data)
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "j.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Agent asks what we can do" in text and "Receipts asked twice" in text
    # escaped in the HTML, the hostile title is printed as text; raw, it would vanish
    assert '<script>alert("x")</script>' in text


def test_publish_seals_and_verify_detects_tampering(
    team: StudyTeam, reviewed: dict[str, Any], app: Flask, tmp_path: Path
) -> None:
    journal = compile_visit(team, reviewed["visit"]["id"])
    assert team.researcher.post(f"/api/v1/journals/{journal['id']}/publish").status_code in (
        403,
        404,
    )
    published = team.reviewer.post(f"/api/v1/journals/{journal['id']}/publish")
    assert published.status_code == 200, published.json
    assert re.fullmatch(r"[0-9a-f]{64}", published.json["content_sha256"])
    again = team.reviewer.post(f"/api/v1/journals/{journal['id']}/publish")
    assert again.status_code == 409 and again.json["code"] == "journal.already_published"

    sealed = team.reviewer.get(f"/api/v1/journals/{journal['id']}/json").data
    path = tmp_path / "journal.json"
    path.write_bytes(sealed)
    runner = app.test_cli_runner()
    ok = runner.invoke(journals_group, ["verify", str(path)])
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output

    edited = json.loads(sealed)
    edited["journal"]["title"] = "Nothing to see here"
    path.write_text(json.dumps(edited))
    assert runner.invoke(journals_group, ["verify", str(path)]).exit_code == 1

    # change one byte of a cited evidence blob on disk: verify must notice
    path.write_bytes(sealed)
    sha = reviewed["note"]["sha256"]
    blob = next(Path(app.config["STORAGE_PATH"]).rglob(sha))
    original = blob.read_bytes()
    blob.chmod(0o644)
    try:
        blob.write_bytes(original.replace(b"Receipt", b"Receipe"))
        failed = runner.invoke(journals_group, ["verify", str(path)])
        assert failed.exit_code == 1 and "evidence" in failed.output.lower()
    finally:
        blob.write_bytes(original)
    assert runner.invoke(journals_group, ["verify", str(path)]).exit_code == 0


def test_finding_without_citation_blocks_publishing(
    team: StudyTeam, reviewed: dict[str, Any]
) -> None:
    team.reviewer.post(
        f"/api/v1/studies/{team.study.id}/findings",
        json={"kind": "root_cause", "title": "Policy is unclear"},
    )
    journal = team.reviewer.post(
        "/api/v1/journals", json={"scope": "study", "subject_id": str(team.study.id)}
    ).json
    refused = team.reviewer.post(f"/api/v1/journals/{journal['id']}/publish")
    assert refused.status_code == 422 and refused.json["code"] == "journal.unpublishable"
    assert refused.json["errors"]


def test_share_link_is_read_only_expires_and_is_revocable(
    team: StudyTeam, reviewed: dict[str, Any], app: Flask
) -> None:
    journal = compile_visit(team, reviewed["visit"]["id"])
    early = team.reviewer.post(f"/api/v1/journals/{journal['id']}/share-links", json={})
    assert early.status_code == 409 and early.json["code"] == "journal.not_published"
    team.reviewer.post(f"/api/v1/journals/{journal['id']}/publish")
    link = team.reviewer.post(
        f"/api/v1/journals/{journal['id']}/share-links", json={"expires_in_hours": 24}
    )
    assert link.status_code == 201
    path = link.json["url"].split("localhost", 1)[-1]
    stranger = app.test_client()
    shown = stranger.get(path)
    assert shown.status_code == 200 and "Agent asks what we can do" in shown.get_data(as_text=True)
    assert "img-src data:" in shown.headers["Content-Security-Policy"]
    assert stranger.post(path).status_code == 405
    listed = team.reviewer.get(f"/api/v1/journals/{journal['id']}/share-links").json
    assert [entry["id"] for entry in listed] == [link.json["id"]]
    assert "url" not in listed[0]  # the secret is shown once only

    def expire_in(delta: timedelta) -> None:
        db.session.execute(
            sa.update(ShareLink)
            .where(ShareLink.id == uuid.UUID(link.json["id"]))
            .values(expires_at=utcnow() + delta)
        )
        db.session.commit()

    expire_in(timedelta(seconds=-1))
    expired = stranger.get(path)
    assert expired.status_code == 410 and "share.expired" in expired.get_data(as_text=True)
    expire_in(timedelta(hours=1))
    assert stranger.get(path).status_code == 200
    assert team.reviewer.delete(f"/api/v1/share-links/{link.json['id']}").status_code == 204
    assert stranger.get(path).status_code == 410
    assert stranger.get("/share/not-a-real-token").status_code == 404
    views = db.session.scalar(
        sa.text("SELECT count(*) FROM audit_events WHERE action = 'share.view'")
    )
    assert views == 2


def test_journey_and_study_journals_compile(team: StudyTeam, reviewed: dict[str, Any]) -> None:
    journey = team.manager.post(
        f"/api/v1/studies/{team.study.id}/journeys", json={"title": "Return a kettle"}
    ).json
    study_journal = team.reviewer.post(
        "/api/v1/journals", json={"scope": "study", "subject_id": str(team.study.id)}
    )
    assert study_journal.status_code == 201
    page = team.reviewer.get(f"/api/v1/journals/{study_journal.json['id']}/html").get_data(
        as_text=True
    )
    assert "Receipts asked twice" in page and "Stop asking for receipts" in page
    journey_journal = team.reviewer.post(
        "/api/v1/journals", json={"scope": "journey", "subject_id": journey["id"]}
    )
    assert journey_journal.status_code == 201
    assert (
        team.outsider.post(
            "/api/v1/journals", json={"scope": "study", "subject_id": str(team.study.id)}
        ).status_code
        == 404
    )
    listed = team.reviewer.get(f"/api/v1/studies/{team.study.id}/journals").json
    assert {j["scope"] for j in listed} == {"study", "journey"}
