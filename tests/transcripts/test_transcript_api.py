"""Transcription through the server: jobs, stored transcripts, views, search."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEvent, Job, Transcript
from tests.conftest import StudyTeam
from tests.services import SHARED, require_module

MODEL = str(SHARED / "models" / "faster-whisper-tiny.en")
JFK = SHARED / "audio" / "jfk.flac"


@pytest.fixture(autouse=True)
def tiny_model(app: Any) -> None:
    """Point the app at the tiny model in shared/ (never downloaded)."""
    app.config.update(WHISPER_MODEL=MODEL, WHISPER_ENGINE="faster-whisper", WHISPER_THREADS=2)


def upload_call(
    team: StudyTeam, path: Path = JFK, visit: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    visit = (
        visit
        or team.researcher.post(
            f"/api/v1/studies/{team.study.id}/visits",
            json={"client_uuid": str(uuid.uuid4()), "channel": "phone"},
        ).json
    )
    response = team.researcher.post(
        f"/api/v1/visits/{visit['id']}/evidence",
        data={
            "kind": "audio",
            "client_uuid": str(uuid.uuid4()),
            "file": (io.BytesIO(path.read_bytes()), path.name),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    return visit, dict(response.json)


def test_audio_is_transcribed_once_and_searchable(team: StudyTeam) -> None:
    visit, item = upload_call(team)
    jobs = team.researcher.get(f"/api/v1/evidence/{item['id']}/jobs").json
    assert [(j["kind"], j["status"]) for j in jobs] == [
        ("evidence.process", "succeeded"),
        ("transcription.transcribe", "succeeded"),
    ]
    assert jobs[1]["progress"] == 1.0
    listed = team.researcher.get(f"/api/v1/evidence/{item['id']}/transcripts").json
    assert len(listed) == 1 and listed[0]["view"] == "redacted"
    transcript = listed[0]
    assert "ask not what your country can do for you" in transcript["text"].lower()
    assert transcript["model"] == MODEL and transcript["engine"] == "faster-whisper"
    starts = [s["start"] for s in transcript["segments"]]
    assert starts == sorted(starts) and transcript["segments"][-1]["end"] <= 11.1
    assert "hold" in transcript["metrics"] and "talk" in transcript["metrics"]

    hits = team.researcher.get(f"/api/v1/studies/{team.study.id}/search?q=country").json
    assert hits and hits[0]["evidence_id"] == item["id"] and hits[0]["kind"] == "segment"
    assert 0 <= hits[0]["start_s"] < 11
    # the same recording again: stored once, never transcribed twice with the same model
    _, again = upload_call(team, visit=visit)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Transcript)) == 1
    assert (
        team.researcher.get(f"/api/v1/evidence/{again['id']}/transcripts").json[0]["id"]
        == transcript["id"]
    )
    transcribe_jobs = db.session.scalars(
        sa.select(Job).where(Job.kind == "transcription.transcribe")
    ).all()
    assert len(transcribe_jobs) == 1


# model-heavy tests run once, on SQLite: the database does not change what they check
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@sqlite_only
def test_original_transcript_only_for_managers_and_audited(team: StudyTeam) -> None:
    visit, item = upload_call(team)
    team.researcher.post(f"/api/v1/visits/{visit['id']}/transitions", json={"to": "submitted"})
    transcript = team.reviewer.get(f"/api/v1/evidence/{item['id']}/transcripts").json[0]
    url = f"/api/v1/evidence/{item['id']}/transcripts/{transcript['id']}"
    assert team.reviewer.get(url).json["view"] == "redacted"
    assert team.reviewer.get(f"{url}?view=original").status_code == 403
    original = team.manager.get(f"{url}?view=original")
    assert original.status_code == 200 and original.json["view"] == "original"
    reads = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "transcript.original.read")
    ).all()
    assert [r.actor_id for r in reads] == [team.manager.user.id]
    assert team.outsider.get(url).status_code == 404


@sqlite_only
def test_retranscribe_with_another_model_keeps_both(team: StudyTeam) -> None:
    require_module("whisper")
    visit, item = upload_call(team)
    team.researcher.post(f"/api/v1/visits/{visit['id']}/transitions", json={"to": "submitted"})
    job = team.reviewer.post(
        f"/api/v1/evidence/{item['id']}/transcripts",
        json={"engine": "openai-whisper", "model": str(SHARED / "models" / "openai-tiny.en.pt")},
    )
    assert job.status_code == 202 and job.json["kind"] == "transcription.transcribe"
    assert team.reviewer.get(f"/api/v1/jobs/{job.json['id']}").json["status"] == "succeeded"
    engines = {
        t["engine"] for t in team.reviewer.get(f"/api/v1/evidence/{item['id']}/transcripts").json
    }
    assert engines == {"faster-whisper", "openai-whisper"}
    assert (
        team.researcher.post(
            f"/api/v1/evidence/{item['id']}/transcripts", json={"model": "x"}
        ).status_code
        == 403
    )


def test_notes_are_searchable_by_line_and_private(team: StudyTeam) -> None:
    visit = team.researcher.post(
        f"/api/v1/studies/{team.study.id}/visits",
        json={"client_uuid": str(uuid.uuid4()), "channel": "in_person"},
    ).json
    team.researcher.post(
        f"/api/v1/visits/{visit['id']}/notes",
        json={"text": "Arrived at 10:02.\nThe kettle refund needs a receipt.\nLeft at 10:40."},
    )
    hits = team.researcher.get(f"/api/v1/studies/{team.study.id}/search?q=refund receipt").json
    assert [(h["kind"], h["line"]) for h in hits] == [("note", 2)]
    # a draft of another researcher is not searchable for colleagues
    assert team.researcher2.get(f"/api/v1/studies/{team.study.id}/search?q=refund").json == []
    assert team.outsider.get(f"/api/v1/studies/{team.study.id}/search?q=refund").status_code == 404
    # query syntax is never interpreted
    weird = team.researcher.get(f'/api/v1/studies/{team.study.id}/search?q=" OR NEAR( * -').json
    assert weird == []
    assert team.researcher.get(f"/api/v1/studies/{team.study.id}/search?q=").status_code == 422
