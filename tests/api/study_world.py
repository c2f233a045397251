"""Everything a request about a study may need, made the way the app's users make it.

Visits are started by their researcher and walked through the review workflow by the
API; evidence, findings, journals and uploads are sent through it too. Only call
recordings with transcripts are written as rows, so that no test has to run Whisper.
"""

from __future__ import annotations

import base64
import functools
import io
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from PIL import Image

from server.extensions import db
from server.models import (
    Blob,
    Evidence,
    EvidenceKind,
    EvidenceStatus,
    Membership,
    Role,
    Transcript,
    User,
    VisitStatus,
)
from server.services import accounts
from tests.conftest import Actor, Factory, StudyTeam

TUS = {"Tus-Resumable": "1.0.0"}


@functools.cache
def png_photo() -> bytes:
    """Return a small, real PNG photo."""
    out = io.BytesIO()
    Image.new("RGB", (48, 32), (200, 120, 40)).save(out, "PNG")
    return out.getvalue()


def tus_metadata(**values: str) -> str:
    """Encode tus ``Upload-Metadata`` (keys with base64 values)."""
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


@dataclass
class Call:
    """What one request sends: path parameters, and a JSON body, a form or raw bytes."""

    path: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    data: bytes | None = None
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class World:
    """The team's study, and helpers that make what a request needs through the API."""

    def __init__(self, app: Flask, factory: Factory, team: StudyTeam) -> None:
        self.app = app
        self.factory = factory
        self.team = team
        self.study_id = str(team.study.id)

    @staticmethod
    def created(response: Any) -> dict[str, Any]:
        assert response.status_code in (200, 201, 202, 204), response.get_json()
        body: dict[str, Any] = response.get_json() or {}
        return body

    def bystander(self) -> User:
        """Add an active user who belongs to no study."""
        return self.factory.user()

    def member(self) -> str:
        """Add a fresh researcher to the study and return their user id."""
        user = self.bystander()
        study_id = self.team.study.id
        db.session.add(Membership(study_id=study_id, user_id=user.id, role=Role.researcher))
        db.session.commit()
        return str(user.id)

    def spare_token(self, actor: Actor) -> str:
        """Issue a second device token for the actor and return its id."""
        with self.app.app_context():
            token, _ = accounts.issue_token(actor.user, "spare phone")
            db.session.commit()
        return str(token.id)

    def target(self) -> str:
        url = f"/api/v1/studies/{self.study_id}/targets"
        body = {"kind": "store", "name": "High Street store", "address": "1 High Street"}
        return str(self.created(self.team.manager.post(url, json=body))["id"])

    def journey(self) -> str:
        url = f"/api/v1/studies/{self.study_id}/journeys"
        body = {"title": "Return a faulty kettle"}
        return str(self.created(self.team.manager.post(url, json=body))["id"])

    def assignment(self, researcher: Actor) -> str:
        url = f"/api/v1/studies/{self.study_id}/assignments"
        body = {"researcher_id": str(researcher.user.id), "channel": "in_person"}
        return str(self.created(self.team.manager.post(url, json=body))["id"])

    def start_visit(self, researcher: Actor) -> str:
        url = f"/api/v1/studies/{self.study_id}/visits"
        body = {"channel": "phone", "title": "Help desk call", "client_uuid": str(uuid.uuid4())}
        return str(self.created(researcher.post(url, json=body))["id"])

    def walk(self, visit_id: str, researcher: Actor, status: VisitStatus) -> None:
        """Move a draft visit to ``status`` the normal way."""
        steps = {
            VisitStatus.draft: [],
            VisitStatus.submitted: [VisitStatus.submitted],
            VisitStatus.in_review: [VisitStatus.submitted, VisitStatus.in_review],
            VisitStatus.approved: [
                VisitStatus.submitted,
                VisitStatus.in_review,
                VisitStatus.approved,
            ],
            VisitStatus.returned: [VisitStatus.submitted, VisitStatus.returned],
        }[status]
        for step in steps:
            mover = researcher if step == VisitStatus.submitted else self.team.reviewer
            move = {"to": step.value, "comment": "Add the receipt photo."}
            self.created(mover.post(f"/api/v1/visits/{visit_id}/transitions", json=move))

    def visit(self, researcher: Actor, status: VisitStatus = VisitStatus.draft) -> str:
        """Start a visit as the researcher and walk it to ``status``."""
        visit_id = self.start_visit(researcher)
        self.walk(visit_id, researcher, status)
        return visit_id

    def note(self, researcher: Actor, status: VisitStatus = VisitStatus.submitted) -> str:
        """Write a note on a new visit of the researcher, then walk the visit to ``status``."""
        visit_id = self.start_visit(researcher)
        note = {"text": "Waited nine minutes on hold.", "client_uuid": str(uuid.uuid4())}
        item = self.created(researcher.post(f"/api/v1/visits/{visit_id}/notes", json=note))
        self.walk(visit_id, researcher, status)
        return str(item["id"])

    def photo(self, researcher: Actor, status: VisitStatus = VisitStatus.submitted) -> str:
        """Send a photo for a new visit of the researcher, then walk the visit to ``status``."""
        visit_id = self.start_visit(researcher)
        form = {"kind": "photo", "file": (io.BytesIO(png_photo()), "shelf.png")}
        url = f"/api/v1/visits/{visit_id}/evidence"
        item = self.created(researcher.post(url, data=form, content_type="multipart/form-data"))
        self.walk(visit_id, researcher, status)
        return str(item["id"])

    def call_recording(
        self, researcher: Actor, status: VisitStatus = VisitStatus.submitted
    ) -> tuple[str, str]:
        """Return (evidence id, transcript id) of a transcribed call on a new visit.

        The rows are written directly: the routes under test read and queue
        transcripts, and running Whisper would only slow the matrix down. The transcript
        is made with the configured engine and model, so asking again queues a job that
        finds it done.
        """
        visit_id = self.start_visit(researcher)
        sha256 = uuid.uuid4().hex * 2
        db.session.add(Blob(sha256=sha256, size=4096, mime="audio/wav"))
        item = Evidence(
            study_id=self.team.study.id,
            visit_id=uuid.UUID(visit_id),
            uploader_id=researcher.user.id,
            kind=EvidenceKind.audio,
            status=EvidenceStatus.ready,
            blob_sha256=sha256,
            mime="audio/wav",
            size=4096,
        )
        segment = {"start": 0.0, "end": 2.0, "text": "Kettle returns, how can I help?"}
        transcript = Transcript(
            blob_sha256=sha256,
            engine=self.app.config["WHISPER_ENGINE"],
            model=self.app.config["WHISPER_MODEL"],
            language="en",
            text=segment["text"],
            redacted_text=segment["text"],
            segments=[segment],
            redacted_segments=[segment],
        )
        db.session.add_all([item, transcript])
        db.session.commit()
        self.walk(visit_id, researcher, status)
        return str(item.id), str(transcript.id)

    def job(self, researcher: Actor, status: VisitStatus = VisitStatus.submitted) -> str:
        """Queue a transcription of a call recording (as the admin) and return the job."""
        item, _ = self.call_recording(researcher, status)
        url = f"/api/v1/evidence/{item}/transcripts"
        return str(self.created(self.team.admin.post(url, json={}))["id"])

    def finding(self) -> dict[str, Any]:
        """Write a finding citing a note, as the reviewer."""
        url = f"/api/v1/studies/{self.study_id}/findings"
        body = {
            "kind": "pain_point",
            "title": "Long wait on the help desk",
            "citations": [{"evidence_id": self.note(self.team.researcher)}],
        }
        return self.created(self.team.reviewer.post(url, json=body))

    def action(self) -> str:
        url = f"/api/v1/findings/{self.finding()['id']}/actions"
        body = {"title": "Add a call-back option", "owner": "Contact centre lead"}
        return str(self.created(self.team.manager.post(url, json=body))["id"])

    def journal(self, *, published: bool = False) -> str:
        """Compile (and publish) the journal of a submitted visit, as the reviewer."""
        body = {
            "scope": "visit",
            "subject_id": self.visit(self.team.researcher, VisitStatus.submitted),
        }
        journal_id = str(self.created(self.team.reviewer.post("/api/v1/journals", json=body))["id"])
        if published:
            self.created(self.team.reviewer.post(f"/api/v1/journals/{journal_id}/publish"))
        return journal_id

    def share_link(self) -> str:
        url = f"/api/v1/journals/{self.journal(published=True)}/share-links"
        return str(self.created(self.team.reviewer.post(url, json={}))["id"])

    def upload(self, researcher: Actor) -> str:
        """Start a resumable photo upload for the researcher's draft visit."""
        headers = {
            **TUS,
            "Upload-Length": "4096",
            "Upload-Metadata": tus_metadata(visit_id=self.start_visit(researcher), kind="photo"),
        }
        response = researcher.client.post(
            "/api/v1/uploads", headers={**researcher.headers, **headers}
        )
        assert response.status_code == 201, response.get_json()
        return str(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])

    def send(self, role: str, method: str, url: str, call: Call) -> Any:
        """Send one request as ``role``."""
        options: dict[str, Any] = {"query_string": call.query, "headers": dict(call.headers)}
        if call.body is not None:
            options["json"] = call.body
        elif call.form is not None:
            options.update(data=call.form, content_type="multipart/form-data")
        elif call.data is not None:
            options["data"] = call.data
        client = self.app.test_client()
        if role != "anonymous":
            actor: Actor = getattr(self.team, role)
            client = actor.client
            options["headers"].update(actor.headers)
        response = client.open(url, method=method, **options)
        # read streamed downloads to the end, as a server would, so that they finish
        response.get_data()
        return response
