"""Render a journal as Markdown, with every user-written string escaped and every figure linked."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from reports.html import format_timestamp
from reports.journal import Journal
from reports.presentation import (
    CHANNEL_LABELS,
    KIND_LABELS,
    EvidenceUrl,
    anchor_url,
    citation_label,
    evidence_href,
    format_clock,
    format_metric,
    metric_label,
    neutralise,
    stage_label,
)

# Everything Markdown (or a template engine reading it later) could treat as syntax.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$%])")
_URL_SAFE = ":/?#@!$&'*+,;=%-._~"


def md_text(value: object) -> str:
    """Escape text for Markdown: syntax characters, raw HTML, bidi overrides, line breaks."""
    text = neutralise("" if value is None else value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _SPECIAL.sub(r"\\\1", text)
    return re.sub(r"\s*\n\s*", " ", text).strip()


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


class _Writer:
    def __init__(self, journal: Journal, evidence_url: EvidenceUrl) -> None:
        self.journal = journal
        self.body = journal.body
        self.evidence_url = evidence_url
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        """Append lines to the document."""
        self.lines.extend(lines)

    def link(self, reference: Mapping[str, Any], label: str | None = None) -> str:
        """Return a Markdown link to what a citation, quote or image points at."""
        span = reference.get("span", reference.get("region"))
        target = evidence_href(
            self.evidence_url, {"evidence_id": reference["evidence_id"], "span": span}
        )
        text = md_text(label if label is not None else citation_label(reference))
        return f"[{text}](<{quote(target, safe=_URL_SAFE)}>)"

    def cites(self, citations: Sequence[Mapping[str, Any]]) -> str:
        """Return the links of a list of citations, or say that there are none."""
        if not citations:
            return "*no evidence cited*"
        return " ".join(self.link(c) for c in citations)

    def metric_table(self, metrics: Sequence[Mapping[str, Any]]) -> None:
        """Add a table of measures with their evidence."""
        if not metrics:
            self.add("*No evidence-backed measures.*", "")
            return
        self.add("| Measure | Value | Evidence |", "| --- | --- | --- |")
        for m in metrics:
            basis = f" ({md_text(m['basis'])})" if m.get("basis") else ""
            label = md_text(metric_label(m)) + basis
            self.add(f"| {label} | {md_text(format_metric(m))} | {self.cites(m['citations'])} |")
        self.add("")

    def metric_cell(self, metric: Mapping[str, Any] | None) -> str:
        """Return one measure and its evidence for a table cell."""
        if metric is None:
            return "\u2013"
        return f"{md_text(format_metric(metric))} {self.cites(metric['citations'])}"

    def quotes(self, entry: Mapping[str, Any], indent: str) -> None:
        """Add the quotes and photos of a statement as one block quote under its list item."""
        lines = []
        for q in entry["quotes"]:
            at = f"{self.link(q, format_clock(q['at']))} " if q["at"] is not None else ""
            speaker = f"{md_text(q['speaker'])}: " if q["speaker"] else ""
            lines.append(f"{at}{speaker}“{md_text(q['text'])}”")
        lines.extend(self.link(image, "photo") for image in entry["images"])
        for position, line in enumerate(lines):
            if position:
                # An empty quote line keeps each quote its own paragraph.
                self.add(f"{indent}>")
            self.add(f"{indent}> {line}")

    def moments(self, entries: Iterable[Mapping[str, Any]]) -> None:
        """Add a timeline of contacts and moments."""
        for m in entries:
            if m.get("type") == "contact":
                channel = md_text(CHANNEL_LABELS.get(m["channel"], m["channel"]))
                self.add(
                    f"- **{format_timestamp(m['started_at'])} · contact {m['position']}** · "
                    f"{channel}: {md_text(m['target_name'])} ({md_text(m['researcher'])})"
                )
                continue
            rating = "".join(
                f" · {name} {m[name]}" for name in ("effort", "sentiment") if m[name] is not None
            )
            stage = f" · {md_text(m['stage'])}" if m["stage"] else ""
            self.add(
                f"- **{format_timestamp(m['at'])}**{stage}{rating} — "
                f"{md_text(m['what_happened'])} — evidence: {self.cites(m['citations'])}"
            )
            self.quotes(m, "  ")
        self.add("")

    def findings(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Add ranked findings with their evidence, quotes and actions."""
        for f in rows:
            marker = f"{f['rank']}. "
            indent = " " * len(marker)
            kind = md_text(KIND_LABELS.get(f["kind"], f["kind"]))
            self.add(f"{marker}**{md_text(f['title'])}** ({kind}, {f['severity_name']})")
            body = f"{md_text(f['body'])} — " if f["body"] else ""
            self.add(f"{indent}{body}evidence: {self.cites(f['citations'])}")
            self.quotes(f, indent)
            for a in f["actions"]:
                due = f", due {a['due_on']}" if a["due_on"] else ""
                self.add(f"{indent}- Action: {md_text(a['title'])} — {md_text(a['owner'])}{due}")
        self.add("")

    def integrity(self) -> None:
        """Add the citation problems and what was left out of the numbers."""
        for heading, key in (
            ("Citation problems", "problems"),
            ("Left out of the numbers", "gaps"),
        ):
            if self.body.get(key):
                self.add(f"## {heading}", "")
                for p in self.body[key]:
                    code, where = md_text(p["code"]), md_text(p["field"])
                    self.add(f"- {code} at {where}: {md_text(p['message'])}")
                self.add("")

    def evidence(self) -> None:
        """Add the evidence appendix that anchor links point into."""
        if not self.body.get("evidence"):
            return
        self.add("## Evidence", "")
        for e in self.body["evidence"]:
            self.add(
                f'- <a id="evidence-{quote(e["id"], safe="")}"></a>{md_text(e["kind"])} '
                f"{md_text(e['id'])} captured {format_timestamp(e['captured_at'])}, "
                f"sha256 {md_text(e['sha256'])}"
            )
        self.add("")


def _visit(w: _Writer) -> None:
    v = w.body["visit"]
    channel = md_text(CHANNEL_LABELS.get(v["channel"], v["channel"]))
    w.add(
        f"{channel} visit to {md_text(v['target_name'])} by {md_text(v['researcher'])}, "
        f"{format_timestamp(v['started_at'])}, stage {md_text(stage_label(v['stage']))}",
        "",
        "## Measures",
        "",
    )
    w.metric_table(w.body["metrics"])
    if w.body["checklist"]:
        w.add("## Checklist", "", "| Question | Score | Evidence |", "| --- | --- | --- |")
        for a in w.body["checklist"]:
            score = f"{a['score']} / {a['max_score']}"
            w.add(_row(md_text(a["question"]), score, w.cites(a["citations"])))
        w.add("")
    w.add("## Timeline", "")
    w.moments(w.body["timeline"])
    if w.body["web_steps"]:
        w.add("## Website steps", "")
        for s in w.body["web_steps"]:
            error = f" — error: {md_text(s['error'])}" if s["error"] else ""
            step = f"{s['number']}. {md_text(s['action'])}, {md_text(s['url'])}{error}"
            w.add(f"{step} {w.cites(s['citations'])}")
        w.add("")


def _journey(w: _Writer) -> None:
    w.add("## Measures", "")
    w.metric_table(w.body["metrics"])
    w.add("## Timeline", "")
    w.moments(w.body["timeline"])


def _study(w: _Writer) -> None:
    w.add("## Headline measures", "")
    w.metric_table(w.body["metrics"])
    w.add("## Findings, most severe first", "")
    w.findings(w.body["findings"])
    if w.body["effort_curve"]:
        w.add(
            "## Effort along the journey",
            "",
            "| Stage | Effort (1-5) | Sentiment |",
            "| --- | --- | --- |",
        )
        for p in w.body["effort_curve"]:
            stage = md_text(stage_label(p["stage"]))
            w.add(_row(stage, w.metric_cell(p["effort"]), w.metric_cell(p["sentiment"])))
        w.add("")
    w.add("## Checklist scores", "", "| Channel or stage | Score |", "| --- | --- |")
    for row in w.body["scores_by_channel"]:
        channel = md_text(CHANNEL_LABELS.get(row["channel"], row["channel"]))
        w.add(_row(channel, w.metric_cell(row["score"])))
    for row in w.body["scores_by_stage"]:
        w.add(f"| {md_text(stage_label(row['stage']))} | {w.metric_cell(row['score'])} |")
    w.add("", "## Action plan", "")
    for a in w.body["action_plan"]:
        due = a["due_on"] or "no date"
        w.add(
            f"- #{a['finding_rank']} {md_text(a['finding_title'])}: {md_text(a['title'])} — "
            f"{md_text(a['owner'])}, due {due}, {md_text(a['status'])}"
        )
    w.add("")


def render_markdown(journal: Journal, *, evidence_url: EvidenceUrl = anchor_url) -> str:
    """Render a journal as Markdown with every figure and statement linked to its evidence."""
    w = _Writer(journal, evidence_url)
    study = journal.body["study"]
    w.add(
        f"# {md_text(journal.title)}",
        "",
        f"*{md_text(study['name'])} · {journal.kind} journal*",
        "",
    )
    {"visit": _visit, "journey": _journey, "study": _study}[journal.kind](w)
    if journal.kind != "study" and journal.body.get("findings"):
        w.add("## Findings", "")
        w.findings(journal.body["findings"])
    w.integrity()
    w.evidence()
    return "\n".join(w.lines).rstrip() + "\n"
