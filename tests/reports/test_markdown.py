"""The Markdown journal: the same figures, quotes and evidence links as the HTML one."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from reports import TimeSpan, compile_study_journal, compile_visit_journal, render_markdown
from reports.evidence import Span
from tests.reports import factories as f


def viewer_url(evidence_id: str, span: Span | None) -> str:
    suffix = f"?t={span.start:g}" if isinstance(span, TimeSpan) else ""
    return f"https://viewer.example/evidence/{evidence_id}{suffix}"


def test_markdown_lists_each_measure_with_links_to_its_evidence() -> None:
    text = render_markdown(compile_visit_journal(f.record(), f.CALL_VISIT), evidence_url=viewer_url)

    hold = next(line for line in text.splitlines() if line.startswith("| Hold and wait time"))
    assert "| 2 min 30 s |" in hold
    assert re.findall(r"\]\(<([^>]+)>\)", hold) == [
        "https://viewer.example/evidence/e-call?t=0",
        "https://viewer.example/evidence/e-call?t=30",
    ]


def test_markdown_quotes_carry_their_audio_time_and_render_as_html_text() -> None:
    text = render_markdown(compile_visit_journal(f.record(), f.CALL_VISIT), evidence_url=viewer_url)

    html = MarkdownIt("commonmark").enable("table").render(text)

    assert '<a href="https://viewer.example/evidence/e-call?t=200">03:20</a>' in html
    assert "agent: “Can you give me your order number again? It is four four seven one" in html


def test_study_markdown_ranks_findings_and_plans_actions() -> None:
    text = render_markdown(compile_study_journal(f.record()))

    ranked = re.findall(r"^(\d)\. \*\*(.+?)\*\*", text, re.MULTILINE)
    assert ranked == [
        ("1", "Returns take several contacts"),
        ("2", "Customers repeat their order number"),
        ("3", "Kettles are easy to find in store"),
    ]
    assert "- #1 Returns take several contacts: Staff the returns desk at peak" in text
