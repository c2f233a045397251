"""Every metric is computed from evidence, cites what produced it, and moves with it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest

from reports import (
    CallMetrics,
    Citation,
    HoldPeriod,
    Journal,
    StudyRecord,
    TimeSpan,
    Transfer,
    compile_journey_journal,
    compile_study_journal,
    compile_visit_journal,
)
from reports.evidence import span_to_dict
from tests.reports import factories as f


def metrics_of(journal: Journal) -> dict[str, dict[str, Any]]:
    return {metric["name"]: metric for metric in journal.body["metrics"]}


def cited(metric: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [(c["evidence_id"], c["span"]) for c in metric["citations"]]


def time(start: float, end: float) -> dict[str, Any] | None:
    return span_to_dict(TimeSpan(start, end))


def every_metric(tree: Any) -> Iterator[Mapping[str, Any]]:
    """Yield every metric anywhere in a journal body."""
    if isinstance(tree, Mapping):
        if {"name", "value", "unit", "citations"} <= tree.keys():
            yield tree
        for value in tree.values():
            yield from every_metric(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from every_metric(value)


def call_visit(record: StudyRecord) -> dict[str, dict[str, Any]]:
    return metrics_of(compile_visit_journal(record, f.CALL_VISIT))


def journey(record: StudyRecord) -> dict[str, dict[str, Any]]:
    return metrics_of(compile_journey_journal(record, "j-kettle"))


def test_call_metrics_cite_the_time_ranges_they_add_up() -> None:
    metrics = call_visit(f.record())

    assert metrics["hold_and_wait_time"]["value"] == 150.0
    assert cited(metrics["hold_and_wait_time"]) == [(f.CALL, time(0, 30)), (f.CALL, time(30, 150))]
    assert metrics["transfers"]["value"] == 1
    assert cited(metrics["transfers"]) == [(f.CALL, time(170, 180))]
    assert metrics["repeats"]["value"] == 1
    assert cited(metrics["repeats"]) == [(f.CALL, time(200, 219))]


def test_call_metrics_follow_the_call_analysis() -> None:
    analysed = CallMetrics(
        f.CALL,
        holds=(HoldPeriod(0, 30, "queue"), HoldPeriod(30, 150), HoldPeriod(240, 270)),
        transfers=(Transfer(170, 180), Transfer(280, 290)),
        repeats=(),
    )
    metrics = call_visit(f.record(call_metrics=(analysed,)))

    assert metrics["hold_and_wait_time"]["value"] == 180.0
    assert (f.CALL, time(240, 270)) in cited(metrics["hold_and_wait_time"])
    assert metrics["transfers"]["value"] == 2
    assert cited(metrics["transfers"])[-1] == (f.CALL, time(280, 290))
    # No repeats found: the count still points at the whole recording that was analysed.
    assert metrics["repeats"]["value"] == 0
    assert cited(metrics["repeats"]) == [(f.CALL, None)]


def test_call_metrics_disappear_with_the_recording_they_came_from() -> None:
    evidence = tuple(item for item in f.evidence() if item.id != f.CALL)
    metrics = call_visit(f.record(evidence=evidence))

    assert not {"hold_and_wait_time", "transfers", "repeats"} & metrics.keys()


def test_website_steps_and_errors_cite_the_screenshots_of_the_steps() -> None:
    record = f.record()
    metrics = metrics_of(compile_visit_journal(record, f.WEB_VISIT))
    assert metrics["web_steps"]["value"] == 3
    assert cited(metrics["web_steps"]) == [(f.SHOT_1, None), (f.SHOT_2, None), (f.SHOT_3, None)]
    assert metrics["web_errors"]["value"] == 1
    assert cited(metrics["web_errors"]) == [(f.SHOT_2, None)]

    steps = list(record.web_steps)
    steps[2] = dataclasses.replace(steps[2], error="Server error")
    metrics = metrics_of(compile_visit_journal(f.record(web_steps=tuple(steps)), f.WEB_VISIT))
    assert metrics["web_errors"]["value"] == 2
    assert cited(metrics["web_errors"]) == [(f.SHOT_2, None), (f.SHOT_3, None)]


def test_checklist_score_counts_only_cited_answers_and_follows_them() -> None:
    record = f.record()
    store = metrics_of(compile_visit_journal(record, f.STORE_VISIT))["checklist_score"]
    assert store["value"] == 60.0  # (2 + 4) of 10
    assert cited(store) == [(f.NOTE, None), (f.PHOTO, None)]

    web = compile_visit_journal(record, f.WEB_VISIT)
    assert metrics_of(web)["checklist_score"]["value"] == 100.0
    assert {"code": "checklist.uncited"}.items() <= web.body["gaps"][0].items()

    visits = list(record.visits)
    visits[0] = dataclasses.replace(
        visits[0], checklist=(f.answer("greeted", 5, Citation(f.NOTE)), visits[0].checklist[1])
    )
    store = metrics_of(compile_visit_journal(f.record(visits=tuple(visits)), f.STORE_VISIT))
    assert store["checklist_score"]["value"] == 90.0


def test_journey_contacts_channels_and_elapsed_time_come_from_captures() -> None:
    metrics = journey(f.record())

    assert metrics["contacts_needed"]["value"] == 3
    assert cited(metrics["contacts_needed"]) == [(f.CALL, None), (f.PHOTO, None), (f.SHOT_1, None)]
    assert metrics["channels_used"]["value"] == 3
    first_photo, last_shot = f.evidence()[0], f.evidence()[5]
    assert (
        metrics["elapsed_to_resolution"]["value"]
        == (last_shot.captured_at - first_photo.captured_at).total_seconds()
    )
    assert cited(metrics["elapsed_to_resolution"]) == [(f.PHOTO, None), (f.SHOT_3, None)]


def test_journey_figures_move_when_the_evidence_moves() -> None:
    evidence = list(f.evidence())
    evidence[0] = dataclasses.replace(
        evidence[0], captured_at=evidence[0].captured_at - timedelta(hours=1)
    )
    before = journey(f.record())["elapsed_to_resolution"]["value"]
    after = journey(f.record(evidence=tuple(evidence)))["elapsed_to_resolution"]["value"]
    assert after == before + 3600

    # A contact with no evidence is not counted, and the journal says so.
    without_call = tuple(item for item in f.evidence() if item.id != f.CALL)
    record = f.record(evidence=without_call)
    metrics = journey(record)
    assert metrics["contacts_needed"]["value"] == 2
    assert metrics["channels_used"]["value"] == 2
    gaps = compile_journey_journal(record, "j-kettle").body["gaps"]
    assert {"code": "visit.no_evidence", "field": f"visits[{f.CALL_VISIT}]"}.items() <= gaps[
        0
    ].items()


def test_unresolved_journey_reports_contacts_so_far_and_no_resolution_time() -> None:
    open_case = dataclasses.replace(f.record().journeys[0], resolved_at=None)
    metrics = journey(f.record(journeys=(open_case,)))

    assert metrics["contacts_made"]["value"] == 3
    assert "contacts_needed" not in metrics
    assert "elapsed_to_resolution" not in metrics


def test_resolution_before_the_website_visit_counts_two_contacts() -> None:
    case = dataclasses.replace(f.record().journeys[0], resolved_at=f.START + timedelta(days=2))
    metrics = journey(f.record(journeys=(case,)))

    assert metrics["contacts_needed"]["value"] == 2
    assert cited(metrics["elapsed_to_resolution"]) == [(f.CALL, None), (f.PHOTO, None)]
    # The call ends 300 s after it was captured; that end is when the case was resolved.
    call = f.evidence()[2]
    expected = (call.captured_at - f.evidence()[0].captured_at).total_seconds() + 300
    assert metrics["elapsed_to_resolution"]["value"] == expected


def test_study_effort_curve_and_scores_cite_the_moments_and_answers_behind_them() -> None:
    body = compile_study_journal(f.record()).body
    curve = {point["stage"]: point for point in body["effort_curve"]}

    assert list(curve) == ["Buy", "Return", "Refund"]
    assert curve["Return"]["effort"]["value"] == 4.5  # the queue (4) and the repeat (5)
    assert {c["evidence_id"] for c in curve["Return"]["effort"]["citations"]} == {
        f.PHOTO,
        f.NOTE,
        f.CALL,
    }
    by_channel = {row["channel"]: row["score"] for row in body["scores_by_channel"]}
    assert by_channel["phone"]["value"] == 80.0
    assert cited(by_channel["phone"]) == [(f.CALL, time(152, 158))]
    assert by_channel["in_person"]["value"] == pytest.approx(100 * 11 / 15, abs=0.01)


@pytest.mark.parametrize("kind", ["visit", "journey", "study"])
def test_no_number_in_a_journal_lacks_evidence_from_the_study(kind: str) -> None:
    record = f.record()
    journal = {
        "visit": lambda: compile_visit_journal(record, f.CALL_VISIT),
        "journey": lambda: compile_journey_journal(record, "j-kettle"),
        "study": lambda: compile_study_journal(record),
    }[kind]()
    study_evidence = {item.id for item in record.evidence}

    metrics = list(every_metric(journal.body))

    assert len(metrics) >= 4
    for metric in metrics:
        assert metric["citations"], metric["name"]
        assert {c["evidence_id"] for c in metric["citations"]} <= study_evidence


def test_study_wide_numbers_cite_visit_by_visit_in_order_each_citation_once() -> None:
    # the store visit's answer cites the call too, so one citation stands in two visits
    record = f.record()
    store, call_visit, *rest = record.visits
    store = dataclasses.replace(
        store,
        checklist=(*store.checklist, f.answer("called", 3, Citation(f.CALL, TimeSpan(152, 158)))),
    )
    record = dataclasses.replace(record, visits=(store, call_visit, *rest))
    body = compile_study_journal(record).body
    rows = {row["id"]: row for row in body["visits"]}

    # visits by start time, each visit's own citations in its own order
    expected: list[tuple[str, Any]] = []
    for row in body["visits"]:
        for pair in cited(rows[row["id"]]["score"]) if row["score"] else []:
            if pair not in expected:
                expected.append(pair)
    headline = metrics_of(compile_study_journal(record))["checklist_score"]
    assert cited(headline) == expected
    assert cited(headline).count((f.CALL, time(152, 158))) == 1
    # the store visit comes first, so the shared citation sits among its citations
    assert cited(headline)[: len(cited(rows[f.STORE_VISIT]["score"]))] == cited(
        rows[f.STORE_VISIT]["score"]
    )
    # 2 + 4 + 3 of 15 on the store visit, 4 of 5 on the call, 5 of 5 online, 5 of 5 at the mall
    assert headline["value"] == pytest.approx(100 * (9 + 4 + 5 + 5) / 30, abs=0.01)
    by_channel = {row["channel"]: row["score"] for row in body["scores_by_channel"]}
    assert cited(by_channel["in_person"]) == [
        pair
        for visit_id in (f.STORE_VISIT, f.OTHER_VISIT)
        for pair in cited(rows[visit_id]["score"])
    ]


def test_effort_and_sentiment_of_the_same_moments_share_one_list_of_citations() -> None:
    body = compile_study_journal(f.record()).body
    for point in body["effort_curve"]:
        if point["effort"] and point["sentiment"]:
            assert point["sentiment"]["citations"] is point["effort"]["citations"]
            assert point["sentiment"]["name"] == "sentiment"
    # a moment rated for effort only keeps the two lists apart
    record = f.record()
    first, *others = record.moments
    record = dataclasses.replace(
        record, moments=(dataclasses.replace(first, sentiment=None), *others)
    )
    curve = {p["stage"]: p for p in compile_study_journal(record).body["effort_curve"]}
    point = curve[first.stage]
    assert point["sentiment"]["citations"] is not point["effort"]["citations"]
    # effort still cites both moments of the stage, sentiment only the one rated for it
    assert len(cited(point["sentiment"])) < len(cited(point["effort"]))
    assert all(pair in cited(point["effort"]) for pair in cited(point["sentiment"]))
