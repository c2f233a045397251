"""A sample study that shows the whole product: one journey across three channels.

A shopper returns a faulty kettle: visits the store (photos made on the spot, with EXIF),
calls the help desk (real audio, transcribed by the configured engine) and tries the
website (step screenshots, one step failing). Moments, findings and actions follow, and
the journey's journal is published with a share link. Everything goes through the same
services the API uses.
"""

from __future__ import annotations

import io
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from PIL import Image, ImageDraw
from PIL.ExifTags import GPS, IFD, Base

from server.extensions import db
from server.jobs.runner import run_job
from server.models import (
    Channel,
    Evidence,
    EvidenceKind,
    FindingKind,
    Job,
    JobStatus,
    Role,
    Study,
    TargetKind,
    Transcript,
    User,
    Visit,
    VisitStatus,
)
from server.services import accounts, findings, journals, studies, visits
from server.services.evidence import Capture, add_note, ingest

DEMO_NAME = "Acme Appliances: returning a faulty kettle"
STORE = (51.5136, -0.1365)  # Regent Street, London
DAY = datetime(2026, 11, 21, tzinfo=UTC)
Say = Callable[[str], None]


@dataclass
class DemoResult:
    """What the demo made, for the command to print."""

    study_id: uuid.UUID
    journal_id: uuid.UUID
    share_token: str
    logins: dict[str, str] = field(default_factory=dict)


def has_demo() -> bool:
    """Tell whether the demo study exists already."""
    return db.session.scalar(sa.select(Study.id).where(Study.name == DEMO_NAME)) is not None


def _photo(seed: int, caption: str, taken: datetime, offset_m: float) -> bytes:
    """Draw a store scene and write the EXIF a phone would, GPS included."""
    image = Image.new("RGB", (1600, 1200), (228 - seed * 9, 222, 210 + seed * 5))
    draw = ImageDraw.Draw(image)
    for n in range(12):
        x = 80 + n * 125
        draw.rectangle((x, 700, x + 90, 1100), fill=(40 + n * 15, 90, 140 - n * 5))
    draw.rectangle((500, 150, 1100, 420), fill=(250, 250, 245), outline=(30, 30, 30), width=6)
    draw.text((540, 260), caption, fill=(20, 20, 20))
    exif = Image.Exif()
    exif[Base.Make], exif[Base.Model], exif[Base.Software] = "Fairphone", "FP5", "Android 15"
    details = exif.get_ifd(IFD.Exif)
    details[Base.DateTimeOriginal] = taken.strftime("%Y:%m:%d %H:%M:%S")
    details[Base.OffsetTimeOriginal] = "+00:00"
    gps = exif.get_ifd(IFD.GPSInfo)
    latitude = STORE[0] + offset_m / 111_000
    gps[GPS.GPSLatitudeRef], gps[GPS.GPSLongitudeRef] = "N", "W"
    gps[GPS.GPSLatitude] = _dms(latitude)
    gps[GPS.GPSLongitude] = _dms(-STORE[1])
    gps[GPS.GPSHPositioningError] = 6.0
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 3)


def _screenshot(title: str, error: str | None) -> bytes:
    image = Image.new("RGB", (1280, 800), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1280, 90), fill=(12, 60, 140))
    draw.text((40, 35), "acme-appliances.example", fill=(255, 255, 255))
    draw.text((40, 140), title, fill=(10, 10, 10))
    if error:
        draw.rectangle((40, 300, 1240, 380), fill=(253, 236, 234), outline=(200, 40, 30))
        draw.text((60, 330), error, fill=(160, 20, 10))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _quoted_span(item: Evidence) -> dict[str, object]:
    """Cite the stretch of the call that mentions the account, or its first long segment."""
    transcript = db.session.scalar(
        sa.select(Transcript).where(Transcript.blob_sha256 == item.blob_sha256)
    )
    segments = transcript.redacted_segments if transcript is not None else []
    chosen = next(
        (seg for seg in segments if "account" in str(seg.get("text", "")).lower()),
        max(segments, key=lambda seg: float(seg["end"]) - float(seg["start"]), default=None),
    )
    if chosen is None:
        return {"type": "time", "start": 0.0, "end": min(5.0, item.duration_s or 5.0)}
    return {"type": "time", "start": float(chosen["start"]), "end": float(chosen["end"])}


def _user(email: str, name: str, password: str) -> User:
    return accounts.find_user_by_email(email) or accounts.create_user(email, password, name=name)


def _run_pending_jobs(say: Say) -> None:
    """Run the demo's queued jobs here, so the journal can quote the transcript."""
    while True:
        pending = list(db.session.scalars(sa.select(Job.id).where(Job.status == JobStatus.queued)))
        if not pending:
            return
        for job_id in pending:
            kind = db.session.get_one(Job, job_id).kind
            say(f"  running {kind} ...")
            run_job(job_id)


def _file(
    user: User,
    visit_id: uuid.UUID,
    data: bytes,
    name: str,
    kind: EvidenceKind,
    at: datetime,
    metadata: dict[str, object] | None = None,
) -> Evidence:
    visit = db.session.get_one(Visit, visit_id)
    item, _ = ingest(
        user,
        visit,
        io.BytesIO(data),
        Capture(
            kind=kind,
            client_uuid=uuid.uuid4(),
            filename=name,
            captured_at=at,
            device="Fairphone FP5",
            metadata=metadata,
        ),
    )
    return item


def build(call_audio: Path | None, say: Say, password: str | None = None) -> DemoResult:
    """Create the demo study; ``call_audio`` is a recording of a help-desk call."""
    password = password or secrets.token_urlsafe(10)
    ria = _user("ria@demo.fieldbook.local", "Ria Researcher", password)
    rob = _user("rob@demo.fieldbook.local", "Rob Reviewer", password)
    mia = _user("mia@demo.fieldbook.local", "Mia Manager", password)
    admin = db.session.scalar(
        sa.select(User).where(User.is_admin.is_(True)).order_by(User.created_at)
    )
    say("Creating the study, its targets and the journey")
    study = Study(
        name=DEMO_NAME,
        company="Acme Appliances",
        description="How hard is it to return a kettle that stopped working after a week?",
        goals=["Find where returns cost customers effort", "Turn findings into owned actions"],
        journey_stages=["discover", "contact", "resolve"],
        channels=["in_person", "phone", "web"],
        checklist=[
            {
                "key": "greeted",
                "question": "Were you greeted within a minute?",
                "kind": "yes_no",
                "weight": 1.0,
            },
            {
                "key": "policy_clear",
                "question": "Was the returns policy explained clearly?",
                "kind": "yes_no",
                "weight": 2.0,
            },
            {
                "key": "resolved",
                "question": "Was the return resolved on this contact?",
                "kind": "yes_no",
                "weight": 3.0,
            },
        ],
        consent_text="Tell the other person the call is recorded for quality research.",
        created_by_id=admin.id if admin else None,
    )
    db.session.add(study)
    db.session.flush()
    for user, role in ((ria, Role.researcher), (rob, Role.reviewer), (mia, Role.manager)):
        studies.add_member(study, user.id, role)
    store = studies.create_target(
        study,
        {
            "kind": TargetKind.store,
            "name": "Acme Regent Street",
            "address": "200 Regent St, London",
            "latitude": STORE[0],
            "longitude": STORE[1],
        },
    )
    line = studies.create_target(
        study,
        {"kind": TargetKind.phone_line, "name": "Acme help desk", "phone": "+44 20 7946 0000"},
    )
    site = studies.create_target(
        study,
        {
            "kind": TargetKind.website,
            "name": "Acme online returns",
            "url": "https://acme-appliances.example/returns",
        },
    )
    journey = studies.create_journey(
        study,
        {
            "title": "Return a faulty kettle",
            "scenario": "Bought a kettle a week ago; it stopped heating. Get a refund.",
        },
    )

    def visit(
        channel: Channel,
        target_id: uuid.UUID,
        position: int,
        start: datetime,
        minutes: int,
        title: str,
        answers: dict[str, bool],
    ) -> uuid.UUID:
        row, _ = visits.create_visit(
            ria,
            study.id,
            {
                "channel": channel,
                "target_id": target_id,
                "journey_id": journey.id,
                "journey_position": position,
                "title": title,
                "started_at": start,
                "ended_at": start + timedelta(minutes=minutes),
                "device": "Fairphone FP5",
                "checklist_answers": answers,
                "client_uuid": uuid.uuid4(),
            },
        )
        return row.id

    say("Visit 1: the store (photos with EXIF, a note)")
    store_start = DAY.replace(hour=10)
    in_person = visit(
        Channel.in_person,
        store.id,
        1,
        store_start,
        35,
        "Store visit, Saturday morning",
        {"greeted": True, "policy_clear": False, "resolved": False},
    )
    shelf = _file(
        ria,
        in_person,
        _photo(1, "RETURNS DESK - CLOSED 10-12", store_start + timedelta(minutes=4), 15),
        "IMG_2041.jpg",
        EvidenceKind.photo,
        store_start + timedelta(minutes=4),
    )
    receipt = _file(
        ria,
        in_person,
        _photo(2, "NO REFUND WITHOUT RECEIPT", store_start + timedelta(minutes=12), 22),
        "IMG_2042.jpg",
        EvidenceKind.photo,
        store_start + timedelta(minutes=12),
    )
    note_text = (
        "Returns desk closed until 12:00; sign on the desk.\n"
        "Till staff said refunds need the paper receipt, although I paid by card.\n"
        "Told to call the help desk instead."
    )
    note, _ = add_note(
        ria,
        db.session.get_one(Visit, in_person),
        note_text,
        uuid.uuid4(),
        store_start + timedelta(minutes=20),
    )

    call = None
    if call_audio is not None and call_audio.exists():
        say("Visit 2: the help-desk call (real audio)")
        call_start = DAY.replace(hour=14)
        phone = visit(
            Channel.phone,
            line.id,
            2,
            call_start,
            6,
            "Help-desk call about the refund",
            {"greeted": True, "policy_clear": True, "resolved": False},
        )
        call = _file(
            ria, phone, call_audio.read_bytes(), call_audio.name, EvidenceKind.audio, call_start
        )
    else:
        phone = None
        say("Visit 2 skipped: no call recording found (set FIELDBOOK_DEMO_CALL)")

    say("Visit 3: the website (step screenshots, one step failing)")
    web_start = DAY.replace(hour=19)
    web = visit(
        Channel.web,
        site.id,
        3,
        web_start,
        9,
        "Online returns form",
        {"greeted": False, "policy_clear": False, "resolved": False},
    )
    steps = [
        ("go", "https://acme-appliances.example/returns", "Returns: start here", None, 3.2),
        (
            "fill",
            "https://acme-appliances.example/returns/form",
            "Order number and reason",
            None,
            41.0,
        ),
        (
            "click",
            "https://acme-appliances.example/returns/submit",
            "Submit return",
            "Error 500: something went wrong, please try again later",
            12.5,
        ),
    ]
    for number, (action, url, title, error, seconds) in enumerate(steps, start=1):
        at = web_start + timedelta(minutes=2 * number)
        status = "error" if error else "ok"
        _file(
            ria,
            web,
            _screenshot(title, error),
            f"step-{number:02d}.png",
            EvidenceKind.screenshot,
            at,
            metadata={"web_step": number, "url": url, "status": status},
        )
        record = {
            "number": number,
            "type": action,
            "url": url,
            "title": title,
            "duration_ms": round(seconds * 1000),
            "error": error,
            "status": status,
        }
        _file(
            ria,
            web,
            json.dumps(record).encode(),
            f"step-{number:02d}.json",
            EvidenceKind.web_step,
            at,
            metadata=record,
        )

    db.session.commit()
    say("Processing evidence and transcribing the call (this takes a little while)")
    _run_pending_jobs(say)

    for visit_id in filter(None, (in_person, phone, web)):
        visits.transition(ria, visit_id, VisitStatus.submitted)
        visits.transition(rob, visit_id, VisitStatus.in_review)
    web_steps = list(
        db.session.scalars(
            sa.select(Evidence).where(
                Evidence.visit_id == web, Evidence.kind == EvidenceKind.web_step
            )
        )
    )
    call_span = _quoted_span(call) if call is not None else {}
    failing_steps = [e for e in web_steps if (e.media_info.get("client") or {}).get("error")]
    say("Moments, findings and actions")
    findings.create_moment(
        rob,
        in_person,
        {
            "what_happened": "Returns desk closed during opening hours",
            "stage": "contact",
            "sentiment": -1,
            "effort": 3,
            "citations": [
                {
                    "evidence_id": shelf.id,
                    "span": {"type": "region", "x": 0.3, "y": 0.1, "w": 0.4, "h": 0.25},
                }
            ],
        },
    )
    findings.create_moment(
        rob,
        in_person,
        {
            "what_happened": "Told a paper receipt is needed for a card purchase",
            "stage": "contact",
            "sentiment": -2,
            "effort": 4,
            "citations": [
                {"evidence_id": note.id, "span": {"type": "text", "start": 51, "end": 123}}
            ],
        },
    )
    finding_citations = [
        {"evidence_id": receipt.id},
        {"evidence_id": note.id, "span": {"type": "text", "start": 51, "end": 123}},
    ]
    if call is not None and phone is not None:
        findings.create_moment(
            rob,
            phone,
            {
                "what_happened": "Asked for the account number again after the hold",
                "stage": "resolve",
                "sentiment": -1,
                "effort": 4,
                "offset_s": call_span.get("start"),
                "citations": [{"evidence_id": call.id, "span": call_span}],
            },
        )
        finding_citations.append({"evidence_id": call.id, "span": call_span})
    findings.create_moment(
        rob,
        web,
        {
            "what_happened": "Returns form failed at the last step",
            "stage": "resolve",
            "sentiment": -2,
            "effort": 5,
            "citations": [{"evidence_id": step.id} for step in failing_steps],
        },
    )
    receipts, _ = findings.create_finding(
        rob,
        study.id,
        {
            "kind": FindingKind.pain_point,
            "severity": 4,
            "journey_id": journey.id,
            "title": "Customers are sent between channels because refunds demand a paper receipt",
            "body": (
                "Store staff ask for the paper receipt even for card purchases, "
                "then send the customer to the help desk."
            ),
            "citations": finding_citations,
        },
    )
    form, _ = findings.create_finding(
        rob,
        study.id,
        {
            "kind": FindingKind.root_cause,
            "severity": 3,
            "journey_id": journey.id,
            "title": "The online returns form fails on submit",
            "citations": [{"evidence_id": step.id} for step in failing_steps],
        },
    )
    findings.create_finding(
        rob,
        study.id,
        {
            "kind": FindingKind.bright_spot,
            "severity": 1,
            "journey_id": journey.id,
            "title": "Staff greeted the customer straight away",
            "citations": [{"evidence_id": shelf.id}],
        },
    )
    findings.create_action(
        mia,
        receipts.id,
        {
            "title": "Accept card statements as proof of purchase",
            "owner": "Head of store operations",
            "due_on": (DAY + timedelta(days=45)).date(),
            "status": "in_progress",
            "outcome": "",
        },
    )
    findings.create_action(
        mia,
        form.id,
        {
            "title": "Fix the returns form submit error and alert on failures",
            "owner": "Web team lead",
            "due_on": (DAY + timedelta(days=14)).date(),
            "status": "open",
            "outcome": "",
        },
    )
    for visit_id in filter(None, (in_person, phone, web)):
        visits.transition(rob, visit_id, VisitStatus.approved)
    say("Compiling and publishing the journey's journal")
    journal = journals.create_draft(rob, "journey", journey.id)
    journals.publish(rob, journal.id)
    _, token = journals.create_share_link(rob, journal.id, 24 * 30)
    db.session.commit()
    return DemoResult(study.id, journal.id, token, {u.email: password for u in (ria, rob, mia)})
