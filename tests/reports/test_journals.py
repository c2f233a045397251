"""Compiled journals: timelines, quotes, rankings, action plans, and deterministic output."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from reports import (
    Citation,
    Journal,
    Moment,
    StudyIndex,
    StudyRecord,
    TextSpan,
    TimeSpan,
    Transcript,
    TranscriptSegment,
    compile_journey_journal,
    compile_study_journal,
    compile_visit_journal,
    render_html,
    render_json,
    render_markdown,
)
from reports.catalog import TranscriptView
from reports.journal import iter_citations
from tests.reports import factories as f


def test_visit_timeline_quotes_the_transcript_and_the_note_it_cites() -> None:
    body = compile_visit_journal(f.record(), f.STORE_VISIT).body
    (queue,) = body["timeline"]

    assert queue["at"] == "2024-05-06T09:05:00Z"
    assert [q["text"] for q in queue["quotes"]] == [f.NOTE_TEXT[:38].strip()]
    assert queue["images"] == [
        {
            "evidence_id": f.PHOTO,
            "region": {"type": "region", "x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4},
        }
    ]
    # By capture time: the visit's own items and what its findings cite on other visits.
    assert [item["id"] for item in body["evidence"]] == [f.PHOTO, f.NOTE, f.CALL, f.SHOT_2]

    call = compile_visit_journal(f.record(), f.CALL_VISIT).body["timeline"][0]
    assert call["quotes"][0]["text"] == (
        "Can you give me your order number again? It is four four seven one, as I said."
    )
    assert (call["quotes"][0]["speaker"], call["quotes"][0]["at"]) == ("agent", 200.0)


def test_character_span_of_a_transcript_quotes_those_words_at_their_time() -> None:
    text = "\n".join(segment.text for segment in f.SEGMENTS)
    start = text.index("My kettle")
    moment = Moment(
        "m-said",
        f.CALL_VISIT,
        "Explained the fault.",
        citations=(Citation(f.CALL, TextSpan(start, start + len("My kettle stopped working"))),),
    )
    body = compile_visit_journal(f.record(moments=(moment,)), f.CALL_VISIT).body

    (quote,) = body["timeline"][0]["quotes"]
    assert (quote["text"], quote["speaker"], quote["at"]) == (
        "My kettle stopped working",
        "customer",
        158.5,
    )


def test_journey_is_one_timeline_across_store_phone_and_website() -> None:
    journal = compile_journey_journal(f.record(), "j-kettle")
    timeline = journal.body["timeline"]

    assert [(e["type"], e["channel"]) for e in timeline] == [
        ("contact", "in_person"),
        ("moment", "in_person"),
        ("contact", "phone"),
        ("moment", "phone"),
        ("contact", "web"),
        ("moment", "web"),
    ]
    times = [e["started_at"] if e["type"] == "contact" else e["at"] for e in timeline]
    assert times == sorted(times)
    assert [c["position"] for c in journal.body["contacts"]] == [1, 2, 3]
    assert {finding["id"] for finding in journal.body["findings"]} == {"f-repeat", "f-wait"}


def test_study_ranks_findings_by_severity_then_evidence_and_plans_actions_in_that_order() -> None:
    body = compile_study_journal(f.record()).body

    assert [(x["id"], x["severity"], x["evidence_count"]) for x in body["findings"]] == [
        ("f-wait", 4, 3),
        ("f-repeat", 4, 1),
        ("f-display", 2, 1),
    ]
    assert [(a["id"], a["finding_rank"]) for a in body["action_plan"]] == [
        ("a-desk", 1),
        ("a-crm", 2),
    ]
    assert [row["stage"] for row in body["scores_by_stage"]] == ["Buy", "Return", "Refund"]
    assert [row["channel"] for row in body["scores_by_channel"]] == ["in_person", "phone", "web"]
    assert [v["id"] for v in body["visits"]] == [
        f.STORE_VISIT,
        f.CALL_VISIT,
        f.WEB_VISIT,
        "v-other",
    ]
    # Every cited item is listed; only photos that findings cite are embedded.
    catalog = {e["id"]: e for e in body["evidence"]}
    assert set(catalog) == {item.id for item in f.evidence()}
    assert catalog[f.PHOTO]["image"] is None
    moment = Moment("m-shelf", "v-other", "Shelf.", citations=(Citation(f.PHOTO),))
    finding = dataclasses.replace(f.findings()[0], citations=(Citation(f.PHOTO),))
    body = compile_study_journal(f.record(moments=(moment,), findings=(finding,))).body
    photo = next(e for e in body["evidence"] if e["id"] == f.PHOTO)
    assert photo["image"]["media_type"] == "image/png"


def test_unknown_subjects_are_refused() -> None:
    with pytest.raises(KeyError):
        compile_visit_journal(f.record(), "v-nowhere")
    with pytest.raises(KeyError):
        compile_journey_journal(f.record(), "j-nowhere")


def shuffled(record: StudyRecord, seed: int) -> StudyRecord:
    rng = random.Random(seed)
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        if isinstance(value, tuple):
            items = list(value)
            rng.shuffle(items)
            changes[field.name] = tuple(items)
    return dataclasses.replace(record, **changes)


@pytest.mark.parametrize("seed", [1, 2])
def test_output_is_identical_for_the_same_input_in_any_order(seed: int) -> None:
    record, reordered = f.record(), shuffled(f.record(), seed)
    assert reordered.evidence != record.evidence

    def outputs(source: StudyRecord) -> list[bytes | str]:
        index = StudyIndex(source)
        journals = [
            compile_visit_journal(index, f.STORE_VISIT),
            compile_journey_journal(index, "j-kettle"),
            compile_study_journal(index),
        ]
        return [
            out for j in journals for out in (render_json(j), render_html(j), render_markdown(j))
        ]

    assert outputs(record) == outputs(reordered)


def test_canonical_json_round_trips_to_the_same_bytes() -> None:
    journal = compile_study_journal(f.record())
    data = render_json(journal)

    again = Journal.from_dict(json.loads(data))

    assert render_json(again) == data
    loaded = json.loads(data)
    assert data == json.dumps(
        loaded, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    with pytest.raises(ValueError, match=r"not a fieldbook\.journal"):
        Journal.from_dict({**journal.to_dict(), "format": "something/else"})


def test_quotes_of_overlapping_speakers_take_every_segment_spoken_in_the_span() -> None:
    view = TranscriptView(
        Transcript(
            f.CALL,
            (
                TranscriptSegment(0, 10, "Long answer from the agent.", "agent"),
                TranscriptSegment(2, 4, "Sorry?", "customer"),
                TranscriptSegment(12, 15, "Goodbye.", "agent"),
            ),
        )
    )

    during = view.at_time(TimeSpan(5, 6))
    across = view.at_time(TimeSpan(3, 13))

    assert during is not None and during.text == "Long answer from the agent."
    assert across is not None
    assert across.text == "Long answer from the agent. Sorry? Goodbye."
    assert view.at_time(TimeSpan(10.5, 11.5)) is None


def test_times_at_the_end_of_year_9999_still_compile() -> None:
    # a phone whose clock is wrong dates everything at the very end of the calendar;
    # moment offsets and recording durations then reach past the last datetime
    base = f.record()
    latest = max(
        [v.started_at for v in base.visits]
        + [v.ended_at for v in base.visits if v.ended_at]
        + [e.captured_at for e in base.evidence]
    )
    shift = datetime(9999, 12, 31, 23, 59, tzinfo=UTC) - latest

    def moved(value: datetime | None) -> datetime | None:
        return value + shift if value is not None else None

    record = f.record(
        visits=tuple(
            dataclasses.replace(v, started_at=moved(v.started_at), ended_at=moved(v.ended_at))
            for v in base.visits
        ),
        evidence=tuple(
            dataclasses.replace(e, captured_at=moved(e.captured_at)) for e in base.evidence
        ),
        journeys=tuple(
            dataclasses.replace(j, resolved_at=moved(j.resolved_at)) for j in base.journeys
        ),
        moments=tuple(dataclasses.replace(m, at=moved(m.at)) for m in base.moments),
    )
    assert any(e.duration_s for e in record.evidence)
    assert any(m.at is None and m.offset_s for m in record.moments)

    study = compile_study_journal(record)
    journey = compile_journey_journal(record, record.journeys[0].id)
    for visit in record.visits:
        compile_visit_journal(record, visit.id)
    assert "9999-12-3" in render_markdown(journey)
    assert render_html(study)


def test_a_shared_index_gives_each_journal_the_evidence_it_cites_only() -> None:
    index = StudyIndex(f.record())
    # the study journal cites evidence on every visit; a visit journal compiled after it
    # from the same index must not list what the study journal cited elsewhere
    compile_study_journal(index)
    after = compile_visit_journal(index, f.WEB_VISIT).body
    fresh = compile_visit_journal(f.record(), f.WEB_VISIT).body
    assert after["evidence"] == fresh["evidence"]
    own = {item.id for item in f.record().evidence if item.visit_id == f.WEB_VISIT}
    cited_ids = {c["evidence_id"] for c in iter_citations(after)}
    assert {item["id"] for item in after["evidence"]} == own | cited_ids

    compile_visit_journal(index, f.STORE_VISIT)
    study = compile_study_journal(index).body
    assert study == compile_study_journal(f.record()).body
    assert {item["id"] for item in study["evidence"]} == {
        c["evidence_id"]
        for c in iter_citations({k: v for k, v in study.items() if k != "evidence"})
    }
