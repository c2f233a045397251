"""Citation integrity: each rule reports a broken citation and accepts the mended one."""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import subprocess
import sys

import pytest

from reports import (
    Citation,
    EvidenceItem,
    Finding,
    Moment,
    PublishError,
    RegionSpan,
    StudyIndex,
    TextSpan,
    TimeSpan,
    check_citations,
    check_study_citations,
    compile_study_journal,
    generate_signing_key,
    publish,
)
from reports.evidence import Span
from tests.reports import factories as f

CALL_TEXT_LENGTH = len("\n".join(segment.text for segment in f.SEGMENTS))
RULES: list[tuple[str, str, Span | None, Span | None, str, str]] = [
    # (evidence, mended evidence, broken span, mended span, code, offending field)
    ("e-gone", f.PHOTO, None, None, "citation.evidence_not_in_study", "citations[0].evidence_id"),
    (f.CALL, f.CALL, TimeSpan(290, 301), TimeSpan(290, 300), "citation.span_out_of_range",
     "citations[0].span.end"),
    (f.CALL, f.CALL, TimeSpan(-1, 5), TimeSpan(0, 5), "citation.span_out_of_range",
     "citations[0].span.start"),
    (f.CALL, f.CALL, TimeSpan(math.nan, 5), TimeSpan(1, 5), "citation.span_out_of_range",
     "citations[0].span.start"),
    (f.CALL, f.CALL, TimeSpan(10, 10), TimeSpan(10, 11), "citation.span_empty",
     "citations[0].span.end"),
    (f.CALL, f.CALL, TimeSpan(12, 10), TimeSpan(10, 12), "citation.span_empty",
     "citations[0].span.end"),
    (f.PHOTO, f.PHOTO, RegionSpan(0.8, 0.1, 0.3, 0.2), RegionSpan(0.7, 0.1, 0.3, 0.2),
     "citation.span_out_of_range", "citations[0].span.w"),
    (f.PHOTO, f.PHOTO, RegionSpan(0.1, 0.5, 0.2, 0.6), RegionSpan(0.1, 0.4, 0.2, 0.6),
     "citation.span_out_of_range", "citations[0].span.h"),
    (f.PHOTO, f.PHOTO, RegionSpan(-0.1, 0.1, 0.2, 0.2), RegionSpan(0.0, 0.1, 0.2, 0.2),
     "citation.span_out_of_range", "citations[0].span.x"),
    (f.PHOTO, f.PHOTO, RegionSpan(0.1, 1.2, 0.2, 0.2), RegionSpan(0.1, 0.8, 0.2, 0.2),
     "citation.span_out_of_range", "citations[0].span.y"),
    (f.PHOTO, f.PHOTO, RegionSpan(0.1, 0.1, 0.0, 0.2), RegionSpan(0.1, 0.1, 0.1, 0.2),
     "citation.span_empty", "citations[0].span.w"),
    (f.PHOTO, f.PHOTO, RegionSpan(0.1, 0.1, 0.2, -0.2), RegionSpan(0.1, 0.1, 0.2, 0.2),
     "citation.span_empty", "citations[0].span.h"),
    (f.NOTE, f.NOTE, TextSpan(0, len(f.NOTE_TEXT) + 1), TextSpan(0, len(f.NOTE_TEXT)),
     "citation.span_out_of_range", "citations[0].span.end"),
    (f.NOTE, f.NOTE, TextSpan(-2, 4), TextSpan(0, 4), "citation.span_out_of_range",
     "citations[0].span.start"),
    (f.NOTE, f.NOTE, TextSpan(5, 5), TextSpan(5, 6), "citation.span_empty",
     "citations[0].span.end"),
    (f.CALL, f.CALL, TextSpan(0, CALL_TEXT_LENGTH + 1), TextSpan(0, CALL_TEXT_LENGTH),
     "citation.span_out_of_range", "citations[0].span.end"),
    (f.PHOTO, f.PHOTO, TimeSpan(0, 1), RegionSpan(0, 0, 1, 1), "citation.span_unsupported",
     "citations[0].span"),
    (f.CALL, f.CALL, RegionSpan(0, 0, 1, 1), TimeSpan(0, 1), "citation.span_unsupported",
     "citations[0].span"),
    (f.SHOT_1, f.SHOT_1, TextSpan(0, 1), None, "citation.span_unsupported", "citations[0].span"),
]  # fmt: skip


@pytest.mark.parametrize(("evidence_id", "mended_id", "broken", "mended", "code", "field"), RULES)
def test_each_rule_reports_the_broken_field_and_accepts_the_mended_citation(
    evidence_id: str, mended_id: str, broken: Span, mended: Span, code: str, field: str
) -> None:
    catalog = StudyIndex(f.record()).evidence

    problems = check_citations([Citation(evidence_id, broken)], catalog)
    assert [(p.code, p.field) for p in problems] == [(code, field)]
    assert problems[0].evidence_id == evidence_id

    assert check_citations([Citation(mended_id, mended)], catalog) == []


def test_span_that_cannot_be_checked_is_reported_until_the_item_says_how_long_it_is() -> None:
    silent = EvidenceItem("e-rec", f.CALL_VISIT, "audio", f.sha("e-rec"), f.START)
    catalog = {silent.id: silent}

    problems = check_citations([Citation("e-rec", TimeSpan(1, 2))], catalog, field="moment")
    assert [(p.code, p.field) for p in problems] == [
        ("citation.span_unverifiable", "moment[0].span")
    ]

    timed = dataclasses.replace(silent, duration_s=3.0)
    assert check_citations([Citation("e-rec", TimeSpan(1, 2))], {timed.id: timed}) == []


def test_evidence_of_a_visit_in_another_study_counts_as_outside_this_study() -> None:
    stranger = EvidenceItem("e-stranger", "v-other-study", "photo", f.sha("x"), f.START)
    moment = Moment("m-x", f.STORE_VISIT, "Saw a poster.", citations=(Citation("e-stranger"),))
    record = f.record(evidence=(*f.evidence(), stranger), moments=(*f.moments(), moment))

    problems = check_study_citations(StudyIndex(record))

    assert [(p.code, p.field) for p in problems] == [
        ("citation.evidence_not_in_study", "moments[m-x].citations[0].evidence_id")
    ]


def test_whole_study_is_clean_until_one_moment_cites_past_the_end_of_a_note() -> None:
    assert check_study_citations(StudyIndex(f.record())) == []

    moments = list(f.moments())
    queue = moments[0]
    moments[0] = dataclasses.replace(
        queue, citations=(queue.citations[0], Citation(f.NOTE, TextSpan(0, 500)))
    )
    problems = check_study_citations(StudyIndex(f.record(moments=tuple(moments))))

    assert [(p.code, p.field) for p in problems] == [
        ("citation.span_out_of_range", "moments[m-queue].citations[1].span.end")
    ]


def test_broken_citation_in_a_journal_blocks_publishing_until_mended() -> None:
    findings = list(f.findings())
    findings[0] = dataclasses.replace(findings[0], citations=(Citation(f.CALL, TimeSpan(0, 999)),))
    journal = compile_study_journal(f.record(findings=tuple(findings)))
    assert [p["code"] for p in journal.body["problems"]] == ["citation.span_out_of_range"]

    with pytest.raises(PublishError) as refused:
        publish(journal, f.hashes(), generate_signing_key())
    assert [(p.code, p.field) for p in refused.value.problems] == [
        ("citation.span_out_of_range", "findings[f-display].citations[0].span.end")
    ]

    findings[0] = dataclasses.replace(findings[0], citations=(Citation(f.CALL, TimeSpan(0, 99)),))
    mended = compile_study_journal(f.record(findings=tuple(findings)))
    assert publish(mended, f.hashes(), generate_signing_key()).content_hash


def test_finding_without_citation_cannot_be_published_and_the_error_names_it() -> None:
    bare = Finding("f-bare", "root_cause", 3, "No returns policy at the till")
    journal = compile_study_journal(f.record(findings=(*f.findings(), bare)))

    with pytest.raises(PublishError) as refused:
        publish(journal, f.hashes(), generate_signing_key())
    assert [(p.code, p.field) for p in refused.value.problems] == [
        ("finding.uncited", "findings[f-bare].citations")
    ]
    assert "finding.uncited" in str(refused.value)

    cited = dataclasses.replace(bare, citations=(Citation(f.PHOTO),))
    journal = compile_study_journal(f.record(findings=(*f.findings(), cited)))
    assert publish(journal, f.hashes(), generate_signing_key()).evidence_hashes[f.PHOTO] == f.sha(
        f.PHOTO
    )


def test_publishing_needs_the_hash_of_every_cited_item() -> None:
    journal = compile_study_journal(f.record())
    hashes = f.hashes()
    del hashes[f.CALL]
    hashes[f.NOTE] = "0" * 64

    with pytest.raises(PublishError) as refused:
        publish(journal, hashes, generate_signing_key())

    assert sorted((p.code, p.evidence_id) for p in refused.value.problems) == [
        ("evidence.hash_mismatch", f.NOTE),
        ("evidence.hash_missing", f.CALL),
    ]


def test_a_citation_from_another_process_is_found_by_its_equal() -> None:
    # str hashes are salted per process; a citation's stored hash must not travel along
    made_elsewhere = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pickle, sys; from reports import Citation, TimeSpan; "
            "sys.stdout.buffer.write(pickle.dumps(Citation('e-call', TimeSpan(1.0, 2.0))))",
        ],
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    ).stdout
    copy = pickle.loads(made_elsewhere)  # noqa: S301 - bytes this test made itself
    here = Citation("e-call", TimeSpan(1.0, 2.0))
    assert copy == here
    assert hash(copy) == hash(here)
    assert {here: "found"}[copy] == "found"
