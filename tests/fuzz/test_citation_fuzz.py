"""Fuzzing citation spans: how journals point into evidence, and the links they render.

What is fuzzed: ``reports.evidence.span_from_dict`` with arbitrary dicts (every span type and
unknown ones, fields missing or of the wrong type, negative, NaN and infinite times, start
after end, huge integers, numbers as text); ``span_to_dict``; ``reports.citations.
check_citations`` with citations of any evidence id and spans whose fields hold anything; and
``reports.presentation.anchor_url`` with any evidence id, also through the HTML and Markdown
renderers of a real study journal whose evidence ids were replaced by hostile text.

Properties: ``span_from_dict`` returns a span whose fields have the span's number type, or
None for no span, or raises ``ValueError``; every span it returns, and every span at all,
round-trips through ``span_to_dict``. ``check_citations`` never raises: it reports each broken
citation as problems with a known code, the offending field and the cited evidence id, and a
citation it does not report points inside its evidence item. ``anchor_url`` is always a
fragment of the same document, so no scheme (``javascript:``) can come of it, and a rendered
link never lets its target break out of the ``href`` or the Markdown link: no quote, angle
bracket or white space ends up in it unescaped.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
import tinyhtml5
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reports import (
    Citation,
    Journal,
    RegionSpan,
    StudyIndex,
    TextSpan,
    TimeSpan,
    check_citations,
    compile_study_journal,
    render_html,
    render_markdown,
)
from reports.citations import SPANS_BY_KIND
from reports.evidence import EvidenceItem, Span, span_from_dict, span_to_dict
from reports.presentation import anchor_url, safe_href
from tests.reports import factories as f

PROBLEM_CODES = {
    "citation.evidence_not_in_study",
    "citation.span_unsupported",
    "citation.span_out_of_range",
    "citation.span_empty",
    "citation.span_unverifiable",
}
TOLERANCE = 1e-6
SPAN_FIELDS = ("start", "end", "x", "y", "w", "h")
# What could end an href attribute early, or start a script URL.
BREAKOUT = re.compile(r"[\"'<>\s]|javascript:", re.IGNORECASE)
# What could end a Markdown link target ``[text](<target>)`` early.
MARKDOWN_BREAKOUT = re.compile(r"[<>\\\s]")

# --- strategies -----------------------------------------------------------------------------

HUGE = [10**400, -(10**400), 2**63, 2**1024, "1" * 5000, "1e999", "-1e999"]
# Anything a JSON document (or a careless caller) could put in a span field.
field_values: st.SearchStrategy[Any] = st.one_of(
    st.floats(0, 400),
    st.integers(0, 400),
    st.floats(),
    st.integers(),
    st.sampled_from(HUGE),
    st.booleans(),
    st.none(),
    st.sampled_from(["1.5", "nan", "inf", "-0", "3", "", "abc"]),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
span_types: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(["time", "region", "text"]),
    st.sampled_from(["time", "region", "text"]),
    st.sampled_from(["whole", "", "TIME", "Text", " time", None, 1, True]),
    st.text(max_size=8),
)
span_dicts: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.fixed_dictionaries(
        {"type": span_types}, optional={name: field_values for name in SPAN_FIELDS}
    ),
    # a span as the journal writes it, with every field present
    st.builds(
        lambda kind, values: {"type": kind, **dict(zip(SPAN_FIELDS, values, strict=True))},
        span_types,
        st.tuples(*[field_values] * len(SPAN_FIELDS)),
    ),
    st.dictionaries(st.one_of(st.sampled_from(["type", *SPAN_FIELDS]), st.text()), field_values),
)
# Numbers as the server builds spans (float() and int() of stored columns), and wrong types.
numbers: st.SearchStrategy[Any] = st.one_of(
    st.floats(),
    st.floats(-2, 400),
    st.integers(-(2**63), 2**63),
    st.integers(-5, 400),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)
unit = st.floats(-0.1, 1.1)
spans: st.SearchStrategy[Span | None] = st.one_of(
    st.none(),
    st.builds(TimeSpan, numbers, numbers),
    st.builds(RegionSpan, numbers, numbers, numbers, numbers),
    st.builds(TextSpan, numbers, numbers),
    # near the edges of real items: a 300 s call, photos, a 75-character note
    st.builds(TimeSpan, st.floats(0, 301), st.floats(0, 301)),
    st.builds(RegionSpan, unit, unit, unit, unit),
    st.builds(TextSpan, st.integers(-1, 200), st.integers(-1, 200)),
)


@functools.cache
def study_evidence() -> dict[str, EvidenceItem]:
    """The test study's evidence: photos, a note, a call, screenshots."""
    return {item.id: item for item in f.evidence()}


evidence_ids = st.one_of(
    st.sampled_from(sorted(study_evidence())),
    st.sampled_from(sorted(study_evidence())),
    st.sampled_from(sorted(study_evidence())),
    st.sampled_from(["", "e-gone", "E-PHOTO", "e-photo "]),
    st.text(max_size=10),
)

# --- span_from_dict and span_to_dict ----------------------------------------------------------


def same_span(a: Span | None, b: Span | None) -> bool:
    """Equal spans, NaN fields included (NaN is never equal to itself)."""
    return type(a) is type(b) and repr(span_to_dict(a)) == repr(span_to_dict(b))


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(data=st.one_of(st.none(), span_dicts))
@example(data={"type": "time", "start": 1.0})  # a field missing
@example(data={"type": "region", "x": [1], "y": 0, "w": 1, "h": 1})  # a list for a number
@example(data={"type": "text", "start": math.inf, "end": 4})  # no integer is infinite
@example(data={"type": "time", "start": 10**400, "end": 1})  # beyond any float
def test_span_from_dict_gives_a_span_or_refuses_with_value_error(
    data: dict[str, Any] | None,
) -> None:
    try:
        span = span_from_dict(data)
    except ValueError:
        assert data is not None
        return
    if data is None:
        assert span is None
        return
    assert span is not None
    written = span_to_dict(span)
    assert written is not None and written["type"] == data["type"]
    if isinstance(span, TextSpan):
        assert all(type(written[name]) is int for name in ("start", "end"))
    else:
        assert all(type(value) is float for name, value in written.items() if name != "type")
    assert same_span(span_from_dict(written), span)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    span=st.one_of(
        st.none(),
        st.builds(TimeSpan, st.floats(), st.floats()),
        st.builds(RegionSpan, st.floats(), st.floats(), st.floats(), st.floats()),
        st.builds(TextSpan, st.integers(), st.integers()),
    )
)
def test_every_span_round_trips_through_its_journal_form(span: Span | None) -> None:
    assert same_span(span_from_dict(span_to_dict(span)), span)


# --- check_citations --------------------------------------------------------------------------


def problem_free_citation_is_sound(citation: Citation, item: EvidenceItem | None) -> None:
    """A citation with no problem points inside an item of the study."""
    assert item is not None
    span = citation.span
    if span is None:
        return
    assert isinstance(span, SPANS_BY_KIND[item.kind])
    if isinstance(span, TimeSpan):
        assert item.duration_s is not None
        assert 0 <= span.start < span.end <= item.duration_s + TOLERANCE
    elif isinstance(span, RegionSpan):
        for origin, size in ((span.x, span.w), (span.y, span.h)):
            assert math.isfinite(origin) and math.isfinite(size) and size > 0
            assert origin >= -TOLERANCE and origin + size <= 1 + TOLERANCE
    else:
        assert type(span.start) is int and type(span.end) is int
        assert item.text_length is not None
        assert 0 <= span.start < span.end <= item.text_length


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    citations=st.lists(st.builds(Citation, evidence_ids, spans), max_size=6),
    field=st.sampled_from(["citations", "findings[f-1].citations", ""]),
)
@example(citations=[Citation(f.CALL, TimeSpan(math.nan, math.inf))], field="citations")
@example(citations=[Citation(f.PHOTO, RegionSpan(1e308, 0, 1e308, 1))], field="citations")
@example(citations=[Citation(f.NOTE, TextSpan(True, 2))], field="citations")
def test_check_citations_reports_problems_and_never_raises(
    citations: list[Citation], field: str
) -> None:
    evidence = study_evidence()
    problems = check_citations(citations, evidence, field=field)

    assert isinstance(problems, list)
    json.dumps([problem.to_dict() for problem in problems], allow_nan=False)
    where = re.compile(rf"{re.escape(field)}\[(\d+)\]\.(evidence_id|span|span\.\w+)")
    flagged: set[int] = set()
    for problem in problems:
        assert problem.code in PROBLEM_CODES
        assert isinstance(problem.message, str) and problem.message
        match = where.fullmatch(problem.field)
        assert match is not None, problem.field
        position = int(match[1])
        assert position < len(citations)
        assert problem.evidence_id == citations[position].evidence_id
        flagged.add(position)
    for position, citation in enumerate(citations):
        item = evidence.get(citation.evidence_id)
        if item is None:
            assert [p.code for p in problems if p.field.startswith(f"{field}[{position}].")] == [
                "citation.evidence_not_in_study"
            ]
        if position not in flagged:
            problem_free_citation_is_sound(citation, item)


# --- anchor_url and the links the renderers make of it ----------------------------------------

hostile_ids = st.one_of(
    st.text(max_size=24),
    st.sampled_from(
        [
            '"><script>alert(1)</script>',
            "' onmouseover='alert(1)",
            "javascript:alert(1)",
            " JaVa\tScRiPt:alert(1)",
            "a b\nc",
            "x>)[y](javascript:alert(1)",
            "\u202egnp.exe",
            "%22%3E",
        ]
    ),
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(evidence_id=hostile_ids, span=spans)
def test_anchor_url_is_always_a_fragment_of_the_same_document(
    evidence_id: str, span: Span | None
) -> None:
    anchor = anchor_url(evidence_id, span)
    assert anchor == f"#evidence-{evidence_id}"  # the span never changes where it points
    assert safe_href(anchor).startswith("#")  # no scheme of any kind can come of it


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    evidence_id=st.one_of(
        st.uuids().map(str),
        st.from_regex(r"e-[a-z0-9][a-z0-9-]{0,20}", fullmatch=True),
    ),
    span=spans,
)
def test_anchor_url_of_a_real_evidence_id_needs_no_escaping(
    evidence_id: str, span: Span | None
) -> None:
    anchor = anchor_url(evidence_id, span)
    assert not BREAKOUT.search(anchor)
    assert safe_href(anchor) == anchor


@functools.cache
def study_journal() -> Journal:
    """The test study's journal, compiled once."""
    return compile_study_journal(StudyIndex(f.record()))


def with_evidence_ids(journal: Journal, rename: Mapping[str, str]) -> Journal:
    """The journal with every evidence id (cited and listed) replaced as ``rename`` says."""
    body = copy.deepcopy(dict(journal.body))

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("evidence_id"), str):
                node["evidence_id"] = rename.get(node["evidence_id"], node["evidence_id"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(body)
    for entry in body["evidence"]:
        entry["id"] = rename[entry["id"]]
    return Journal(journal.kind, journal.subject_id, journal.title, body)


MARKDOWN_LINK = re.compile(r"\]\(<(.*?)>\)", re.DOTALL)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(hostile=hostile_ids)
def test_rendered_links_to_hostile_evidence_ids_stay_inside_their_href(hostile: str) -> None:
    original = study_journal()
    ids = [entry["id"] for entry in original.body["evidence"]]
    journal = with_evidence_ids(original, {old: f"{hostile}{n}" for n, old in enumerate(ids)})

    root = tinyhtml5.parse(render_html(journal))
    anchors = [e for e in root.iter("{http://www.w3.org/1999/xhtml}a") if "href" in e.attrib]
    assert anchors
    for anchor in anchors:
        assert set(anchor.attrib) <= {"href", "class", "title", "data-evidence"}
        assert anchor.attrib["href"].startswith("#")
    assert not list(root.iter("{http://www.w3.org/1999/xhtml}script"))
    assert not [name for e in root.iter() for name in e.attrib if name.lower().startswith("on")]

    markdown = render_markdown(journal)
    targets = MARKDOWN_LINK.findall(markdown)
    assert len(targets) == markdown.count("](<") > 0
    for target in targets:
        assert target.startswith("#") and not MARKDOWN_BREAKOUT.search(target), target


@pytest.mark.parametrize("evidence_id", [str(uuid.UUID(int=7)), f.PHOTO])
def test_rendered_links_to_real_evidence_ids_land_on_their_evidence(evidence_id: str) -> None:
    original = study_journal()
    rename = {entry["id"]: entry["id"] for entry in original.body["evidence"]}
    rename[f.PHOTO] = evidence_id
    root = tinyhtml5.parse(render_html(with_evidence_ids(original, rename)))
    targets = {e.attrib["id"] for e in root.iter() if "id" in e.attrib}
    links = [
        e.attrib["href"]
        for e in root.iter("{http://www.w3.org/1999/xhtml}a")
        if e.attrib.get("href", "").startswith("#evidence-")
    ]
    assert f"#evidence-{evidence_id}" in links
    assert all(link[1:] in targets for link in links)
