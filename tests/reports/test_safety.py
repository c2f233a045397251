"""Hostile text from researchers, transcripts and names stays inert in HTML, PDF and Markdown."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest
import tinyhtml5

from reports import (
    Action,
    Citation,
    Journal,
    Moment,
    StudyIndex,
    Transcript,
    TranscriptSegment,
    compile_journey_journal,
    compile_study_journal,
    compile_visit_journal,
    render_html,
    render_markdown,
)
from reports.evidence import Span
from reports.pdf import render_pdf
from reports.presentation import safe_href
from tests.reports import factories as f
from tests.reports import poppler

SCRIPT = '<script>alert("x")</script>'
TEMPLATE = "{{ 7*7 }}{% print(1) %}"
BIDI = "\u202egnp.exe\u2066x\u2069\u202a\u202b\u202c\u202d\u2067\u2068"
PAYLOAD = f'{SCRIPT}<img src=x onerror="alert(1)">{TEMPLATE}{BIDI}'
BIDI_CHARS = re.compile("[\u202a-\u202e\u2066-\u2069]")
SAFE_TARGET = re.compile(r"^(#|/|https://|data:image/(png|jpeg|gif|webp);base64,)")


def hostile_url(evidence_id: str, span: Span | None) -> str:
    """An evidence URL callable gone wrong: it hands back a script URL for the note."""
    if evidence_id == f.NOTE:
        return " JaVa\tScRiPt:alert(4)"
    return f"https://viewer.example/evidence/{evidence_id}"


def hostile_journals() -> list[Journal]:
    record = f.record()
    evidence = tuple(
        dataclasses.replace(item, note_text=PAYLOAD)
        if item.id == f.NOTE
        else dataclasses.replace(
            item, display_bytes=None, display_media_type=None, display_url="javascript:alert(2)"
        )
        if item.id == f.OTHER_PHOTO
        else item
        for item in record.evidence
    )
    visits = tuple(
        dataclasses.replace(v, researcher=PAYLOAD, target_name=PAYLOAD, stage=PAYLOAD)
        for v in record.visits
    )
    segments = (TranscriptSegment(200, 219, PAYLOAD, speaker=PAYLOAD),)
    findings = tuple(
        dataclasses.replace(finding, title=PAYLOAD, body=PAYLOAD) for finding in record.findings
    )
    moments = (
        *record.moments,
        Moment("m-x", f.STORE_VISIT, PAYLOAD, PAYLOAD, offset_s=1, effort=2,
               citations=(Citation(f.NOTE), Citation(f.OTHER_PHOTO))),
    )  # fmt: skip
    hostile = dataclasses.replace(
        record,
        study=dataclasses.replace(record.study, name=PAYLOAD, company=PAYLOAD),
        journeys=(dataclasses.replace(record.journeys[0], title=PAYLOAD, scenario=PAYLOAD),),
        evidence=evidence,
        visits=visits,
        transcripts=(Transcript(f.CALL, segments),),
        findings=findings,
        moments=moments,
        actions=(Action("a-x", "f-wait", PAYLOAD, PAYLOAD, None, "open", PAYLOAD),),
        web_steps=tuple(
            dataclasses.replace(s, action=PAYLOAD, url=PAYLOAD, error=PAYLOAD)
            for s in record.web_steps
        ),
    )
    index = StudyIndex(hostile)
    return [
        compile_visit_journal(index, f.STORE_VISIT),
        compile_visit_journal(index, f.WEB_VISIT),
        compile_journey_journal(index, "j-kettle"),
        compile_study_journal(index),
    ]


JOURNALS = hostile_journals()
IDS = ["visit-store", "visit-web", "journey", "study"]


def link_targets(root: Element) -> list[str]:
    return [
        value
        for element in root.iter()
        for name, value in element.attrib.items()
        if name in ("href", "src", "{http://www.w3.org/1999/xlink}href")
    ]


@pytest.mark.parametrize("journal", JOURNALS, ids=IDS)
def test_hostile_text_is_shown_as_text_in_html_and_never_runs(journal: Journal) -> None:
    html = render_html(journal, evidence_url=hostile_url)
    root = tinyhtml5.parse(html)

    assert not list(root.iter("{http://www.w3.org/1999/xhtml}script"))
    assert not [name for e in root.iter() for name in e.attrib if name.lower().startswith("on")]
    assert all(SAFE_TARGET.match(target) for target in link_targets(root))
    assert "{{" not in html and "{%" not in html
    assert not BIDI_CHARS.search(html)
    shown = "".join(root.itertext())
    assert SCRIPT in shown and TEMPLATE in shown  # visible to the reader, as plain text


@pytest.mark.parametrize("journal", JOURNALS, ids=IDS)
def test_hostile_text_is_inert_in_markdown(journal: Journal) -> None:
    markdown = render_markdown(journal, evidence_url=hostile_url)

    assert "<script" not in markdown and "<img" not in markdown
    assert "{{" not in markdown and "{%" not in markdown
    assert not BIDI_CHARS.search(markdown)
    assert not re.search(r"\]\(<?\s*javascript", markdown, re.IGNORECASE)
    assert "&lt;script&gt;alert" in markdown


@pytest.mark.parametrize("journal", [JOURNALS[2], JOURNALS[3]], ids=["journey", "study"])
def test_hostile_text_is_printed_as_text_in_pdf_and_links_stay_safe(
    journal: Journal, tmp_path: Path
) -> None:
    pdf = render_pdf(journal, evidence_url=hostile_url)

    text = poppler.pdf_text(pdf, tmp_path)
    assert SCRIPT in text
    assert "{{ 7*7 }}" in text
    assert not BIDI_CHARS.search(text)
    urls = poppler.pdf_urls(pdf, tmp_path)
    # The script URL for the note was turned into a harmless '#'.
    assert "#" in urls
    assert all(url == "#" or url.startswith("https://viewer.example/evidence/") for url in urls)
    assert b"/JavaScript" not in pdf and b"/JS " not in pdf


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://viewer.example/e/1?t=3", "https://viewer.example/e/1?t=3"),
        ("http://viewer.example/e/1", "http://viewer.example/e/1"),
        ("/viewer/evidence/1", "/viewer/evidence/1"),
        ("evidence/1", "evidence/1"),
        ("#evidence-1", "#evidence-1"),
        ("javascript:alert(1)", "#"),
        ("  JAVASCRIPT:alert(1)", "#"),
        ("java\nscript:alert(1)", "#"),
        ("java\u202escript:alert(1)", "#"),
        ("vbscript:msgbox(1)", "#"),
        ("data:text/html;base64,PHNjcmlwdD4=", "#"),
        ("file:///etc/passwd", "#"),
        ("//evil.example/x", "#"),
        ("\\\\evil.example\\x", "#"),
        ("", "#"),
    ],
)
def test_only_http_relative_and_fragment_links_survive(url: str, target: str) -> None:
    assert safe_href(url) == target
