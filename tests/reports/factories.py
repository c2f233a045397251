"""A small but complete study record: one journey across a store, a call and a website."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, date, datetime, timedelta

from PIL import Image

from reports import (
    Action,
    CallMetrics,
    ChecklistAnswer,
    Citation,
    EvidenceItem,
    Finding,
    HoldPeriod,
    Journey,
    Moment,
    RegionSpan,
    Repeat,
    Study,
    StudyRecord,
    TextSpan,
    TimeSpan,
    Transcript,
    TranscriptSegment,
    Transfer,
    Visit,
    WebStep,
)

STORE_VISIT, CALL_VISIT, WEB_VISIT, OTHER_VISIT = "v-store", "v-call", "v-web", "v-other"
PHOTO, NOTE, CALL, SHOT_1, SHOT_2, SHOT_3 = "e-photo", "e-note", "e-call", "e-s1", "e-s2", "e-s3"
OTHER_PHOTO = "e-other-photo"
NOTE_TEXT = "Queue of six people at the returns desk. Nobody staffed it for ten minutes."
START = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
SEGMENTS = (
    TranscriptSegment(0.0, 28.0, "Thank you for calling, please hold.", "agent"),
    TranscriptSegment(152.0, 158.0, "Hello, how can I help?", "agent"),
    TranscriptSegment(158.5, 166.0, "My kettle stopped working after two days.", "customer"),
    TranscriptSegment(171.0, 180.0, "I will transfer you to returns.", "agent"),
    TranscriptSegment(200.0, 212.0, "Can you give me your order number again?", "agent"),
    TranscriptSegment(212.5, 219.0, "It is four four seven one, as I said.", "customer"),
)


def png_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    """Return a solid-colour PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def blob_for(evidence_id: str) -> bytes:
    """Return the stored bytes of a test evidence item (its original)."""
    return f"original bytes of {evidence_id}".encode()


def sha(evidence_id: str) -> str:
    """Return the sha256 of a test evidence item's original."""
    return hashlib.sha256(blob_for(evidence_id)).hexdigest()


def evidence() -> tuple[EvidenceItem, ...]:
    """Return the evidence captured on the journey's three visits and one unrelated visit."""
    later = START + timedelta(days=1)
    web_start = START + timedelta(days=3)
    return (
        EvidenceItem(
            PHOTO,
            STORE_VISIT,
            "photo",
            sha(PHOTO),
            START + timedelta(minutes=3),
            width=640,
            height=480,
            display_bytes=png_bytes((220, 20, 20)),
            display_media_type="image/png",
        ),
        EvidenceItem(
            NOTE, STORE_VISIT, "note", sha(NOTE), START + timedelta(minutes=5), note_text=NOTE_TEXT
        ),
        EvidenceItem(
            CALL,
            CALL_VISIT,
            "audio",
            sha(CALL),
            later,
            duration_s=300.0,
            text_length=len(Transcript(CALL, SEGMENTS).text),
        ),
        *(
            EvidenceItem(
                shot,
                WEB_VISIT,
                "screenshot",
                sha(shot),
                web_start + timedelta(minutes=n),
                width=1280,
                height=800,
            )
            for n, shot in enumerate((SHOT_1, SHOT_2, SHOT_3))
        ),
        EvidenceItem(
            OTHER_PHOTO, OTHER_VISIT, "photo", sha(OTHER_PHOTO), START + timedelta(days=5)
        ),
    )


def answer(question_id: str, score: float, *citations: Citation) -> ChecklistAnswer:
    """Return a checklist answer scored out of 5."""
    return ChecklistAnswer(question_id, f"Question {question_id}?", score, 5.0, citations)


def visits() -> tuple[Visit, ...]:
    """Return the journey's store, phone and web visits, plus one visit outside any journey."""
    return (
        Visit(
            STORE_VISIT,
            "in_person",
            "Rita Researcher",
            "Kettle Co. High Street",
            START,
            START + timedelta(minutes=20),
            "approved",
            "Return",
            "j-kettle",
            1,
            (answer("greeted", 2, Citation(NOTE)), answer("clean", 4, Citation(PHOTO))),
        ),
        Visit(
            CALL_VISIT,
            "phone",
            "Rita Researcher",
            "Kettle Co. help line",
            START + timedelta(days=1),
            START + timedelta(days=1, minutes=5),
            "approved",
            "Return",
            "j-kettle",
            2,
            (answer("greeted", 4, Citation(CALL, TimeSpan(152, 158))),),
        ),
        Visit(
            WEB_VISIT,
            "web",
            "Sam Shopper",
            "kettle.example/returns",
            START + timedelta(days=3),
            START + timedelta(days=3, minutes=4),
            "submitted",
            "Refund",
            "j-kettle",
            3,
            (answer("findable", 5, Citation(SHOT_1)), answer("uncited", 0)),
        ),
        Visit(
            OTHER_VISIT,
            "in_person",
            "Sam Shopper",
            "Kettle Co. Mall",
            START + timedelta(days=5),
            status="approved",
            stage="Buy",
            checklist=(answer("clean", 5, Citation(OTHER_PHOTO)),),
        ),
    )


def moments() -> tuple[Moment, ...]:
    """Return moments on each visit, citing photo regions, note text and call time."""
    return (
        Moment(
            "m-queue",
            STORE_VISIT,
            "Waited ten minutes at an empty returns desk.",
            "Return",
            offset_s=300,
            sentiment=-1,
            effort=4,
            citations=(
                Citation(PHOTO, RegionSpan(0.1, 0.2, 0.3, 0.4)),
                Citation(NOTE, TextSpan(0, 38)),
            ),
        ),
        Moment(
            "m-repeat",
            CALL_VISIT,
            "Had to give the order number a second time.",
            "Return",
            at=START + timedelta(days=1, seconds=200),
            sentiment=-2,
            effort=5,
            citations=(Citation(CALL, TimeSpan(200, 219)),),
        ),
        Moment(
            "m-refund",
            WEB_VISIT,
            "Refund form rejected the order number once.",
            "Refund",
            offset_s=120,
            sentiment=0,
            effort=3,
            citations=(Citation(SHOT_2),),
        ),
        Moment(
            "m-mall",
            OTHER_VISIT,
            "Kettles well displayed.",
            "Buy",
            offset_s=60,
            sentiment=2,
            effort=1,
            citations=(Citation(OTHER_PHOTO),),
        ),
    )


def findings() -> tuple[Finding, ...]:
    """Return findings of differing severity and evidence counts."""
    return (
        Finding(
            "f-display",
            "bright_spot",
            2,
            "Kettles are easy to find in store",
            citations=(Citation(OTHER_PHOTO),),
            visit_ids=(OTHER_VISIT,),
        ),
        Finding(
            "f-repeat",
            "pain_point",
            4,
            "Customers repeat their order number",
            "Agents do not see what the customer already said.",
            (Citation(CALL, TimeSpan(200, 219)),),
            (CALL_VISIT,),
        ),
        Finding(
            "f-wait",
            "pain_point",
            4,
            "Returns take several contacts",
            "Store, phone and website each sent the customer on.",
            (Citation(NOTE, TextSpan(0, 38)), Citation(CALL, TimeSpan(30, 150)), Citation(SHOT_2)),
            (STORE_VISIT, CALL_VISIT, WEB_VISIT),
        ),
    )


def record(**changes: object) -> StudyRecord:
    """Return the complete test study record, with any field replaced."""
    fields: dict[str, object] = {
        "study": Study(
            "s-kettle", "Kettle returns 2024", "Kettle Co.", ("Buy", "Return", "Refund")
        ),
        "visits": visits(),
        "evidence": evidence(),
        "journeys": (
            Journey(
                "j-kettle",
                "Return a faulty kettle",
                "Kettle broke after two days.",
                START + timedelta(days=3, minutes=4),
            ),
        ),
        "transcripts": (Transcript(CALL, SEGMENTS),),
        "call_metrics": (
            CallMetrics(
                CALL,
                holds=(HoldPeriod(0, 30, "queue"), HoldPeriod(30, 150, "hold")),
                transfers=(Transfer(170, 180, "returns"),),
                repeats=(Repeat(200, 219, "order number"),),
            ),
        ),
        "web_steps": (
            WebStep(
                WEB_VISIT, 1, "open returns page", "https://kettle.example/returns", SHOT_1, 20
            ),
            WebStep(
                WEB_VISIT,
                2,
                "submit order number",
                "https://kettle.example/returns/form",
                SHOT_2,
                45,
                "Order not found",
            ),
            WebStep(
                WEB_VISIT, 3, "submit again", "https://kettle.example/returns/form", SHOT_3, 30
            ),
        ),
        "moments": moments(),
        "findings": findings(),
        "actions": (
            Action(
                "a-crm",
                "f-repeat",
                "Show call notes to every agent",
                "Head of service",
                date(2024, 7, 1),
                "in_progress",
            ),
            Action(
                "a-desk", "f-wait", "Staff the returns desk at peak", "Store ops", date(2024, 6, 1)
            ),
        ),
    }
    fields.update(changes)
    return StudyRecord(**fields)  # type: ignore[arg-type]


def hashes() -> dict[str, str]:
    """Return the sha256 of every evidence item in the record, as the server knows them."""
    return {item.id: item.sha256 for item in evidence()}
