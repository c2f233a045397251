"""Citation integrity: every citation must point inside an evidence item of the study."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reports.catalog import StudyIndex
from reports.evidence import Citation, EvidenceItem, RegionSpan, Span, TextSpan, TimeSpan

# Which spans make sense on which kind of item; a whole-item citation fits every kind.
SPANS_BY_KIND: Mapping[str, tuple[type, ...]] = {
    "photo": (RegionSpan,),
    "screenshot": (RegionSpan,),
    "audio": (TimeSpan, TextSpan),
    "video": (TimeSpan, TextSpan),
    "note": (TextSpan,),
    "document": (TextSpan,),
    "web_step": (),
}
_SPAN_NAMES = {TimeSpan: "time", RegionSpan: "region", TextSpan: "text"}
# Float noise from players and sliders must not turn a region or time into a problem.
_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class IntegrityProblem:
    """Something that keeps a journal from being trusted, with a stable machine code."""

    code: str
    field: str
    message: str
    evidence_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the journal form of the problem."""
        return {
            "code": self.code,
            "field": self.field,
            "message": self.message,
            "evidence_id": self.evidence_id,
        }


def check_citations(
    citations: Sequence[Citation],
    evidence: Mapping[str, EvidenceItem],
    *,
    field: str = "citations",
) -> list[IntegrityProblem]:
    """Check citations against the study's evidence; return one problem per broken rule."""
    if all_sound(citations, evidence):
        return []
    problems: list[IntegrityProblem] = []
    for position, citation in enumerate(citations):
        where = f"{field}[{position}]"
        item = evidence.get(citation.evidence_id)
        if item is None:
            problems.append(
                IntegrityProblem(
                    "citation.evidence_not_in_study",
                    f"{where}.evidence_id",
                    "the cited evidence is not part of this study",
                    citation.evidence_id,
                )
            )
            continue
        if citation.span is not None:
            problems.extend(_check_span(citation.span, item, f"{where}.span"))
    return problems


def all_sound(citations: Iterable[Citation], evidence: Mapping[str, EvidenceItem]) -> bool:
    """Tell whether no citation breaks a rule: the common case, checked without naming any.

    Large studies hold hundreds of thousands of citations; naming where each one sits
    costs more than checking it, so names are made only for the few that are broken.
    """
    for citation in citations:
        item = evidence.get(citation.evidence_id)
        if item is None:
            return False
        if citation.span is not None and _check_span(citation.span, item, ""):
            return False
    return True


def _check_span(span: Span, item: EvidenceItem, where: str) -> list[IntegrityProblem]:
    if not isinstance(span, SPANS_BY_KIND[item.kind]):
        name = _SPAN_NAMES[type(span)]
        return [
            _problem(
                "citation.span_unsupported", where, f"a {name} span cannot cite a {item.kind}", item
            )
        ]
    if isinstance(span, TimeSpan):
        return _check_time(span, item, where)
    if isinstance(span, RegionSpan):
        return _check_region(span, item, where)
    return _check_text(span, item, where)


def _problem(code: str, where: str, message: str, item: EvidenceItem) -> IntegrityProblem:
    return IntegrityProblem(code, where, message, item.id)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_time(span: TimeSpan, item: EvidenceItem, where: str) -> list[IntegrityProblem]:
    for name in ("start", "end"):
        value = getattr(span, name)
        if not _finite(value) or value < 0:
            return [
                _problem(
                    "citation.span_out_of_range",
                    f"{where}.{name}",
                    "time must be a finite number of seconds >= 0",
                    item,
                )
            ]
    if span.end <= span.start:
        return [_problem("citation.span_empty", f"{where}.end", "end must follow start", item)]
    if item.duration_s is None:
        return [
            _problem("citation.span_unverifiable", where, "the item's duration is not known", item)
        ]
    if span.end > item.duration_s + _TOLERANCE:
        return [
            _problem(
                "citation.span_out_of_range",
                f"{where}.end",
                f"time {span.end:g}s is beyond the item's {item.duration_s:g}s",
                item,
            )
        ]
    return []


def _check_region(span: RegionSpan, item: EvidenceItem, where: str) -> list[IntegrityProblem]:
    for name in ("x", "y", "w", "h"):
        if not _finite(getattr(span, name)):
            return [_problem("citation.span_out_of_range", f"{where}.{name}", "not a number", item)]
    for name in ("w", "h"):
        if getattr(span, name) <= 0:
            return [_problem("citation.span_empty", f"{where}.{name}", "region is empty", item)]
    problems: list[IntegrityProblem] = []
    for origin, size in (("x", "w"), ("y", "h")):
        start, length = getattr(span, origin), getattr(span, size)
        if start < -_TOLERANCE or start > 1 + _TOLERANCE:
            problems.append(
                _problem(
                    "citation.span_out_of_range",
                    f"{where}.{origin}",
                    "region must lie within the unit square",
                    item,
                )
            )
        elif start + length > 1 + _TOLERANCE:
            problems.append(
                _problem(
                    "citation.span_out_of_range",
                    f"{where}.{size}",
                    "region must lie within the unit square",
                    item,
                )
            )
    return problems


def _check_text(span: TextSpan, item: EvidenceItem, where: str) -> list[IntegrityProblem]:
    for name in ("start", "end"):
        value = getattr(span, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return [
                _problem(
                    "citation.span_out_of_range",
                    f"{where}.{name}",
                    "character offsets must be whole numbers >= 0",
                    item,
                )
            ]
    if span.end <= span.start:
        return [_problem("citation.span_empty", f"{where}.end", "end must follow start", item)]
    if item.text_length is None:
        return [_problem("citation.span_unverifiable", where, "the item has no text", item)]
    if span.end > item.text_length:
        return [
            _problem(
                "citation.span_out_of_range",
                f"{where}.end",
                f"character {span.end} is beyond the item's {item.text_length} characters",
                item,
            )
        ]
    return []


def check_study_citations(index: StudyIndex) -> list[IntegrityProblem]:
    """Check every citation in a study: moments, findings and checklist answers."""
    problems: list[IntegrityProblem] = []
    for visit in index.ordered_visits():
        problems.extend(check_visit_citations(index, visit.id))
    for finding in sorted(index.findings.values(), key=lambda f: f.id):
        problems.extend(
            check_citations(
                finding.citations, index.evidence, field=f"findings[{finding.id}].citations"
            )
        )
    return problems


def check_visit_citations(index: StudyIndex, visit_id: str) -> list[IntegrityProblem]:
    """Check the citations of one visit's moments and checklist answers."""
    problems: list[IntegrityProblem] = []
    evidence = index.evidence
    for moment in index.moments_by_visit.get(visit_id, []):
        if not all_sound(moment.citations, evidence):
            field = f"moments[{moment.id}].citations"
            problems.extend(check_citations(moment.citations, evidence, field=field))
    for answer in index.visits[visit_id].checklist:
        if not all_sound(answer.citations, evidence):
            field = f"visits[{visit_id}].checklist[{answer.question_id}].citations"
            problems.extend(check_citations(answer.citations, evidence, field=field))
    return problems


def cited_ids(citations: Iterable[Citation]) -> set[str]:
    """Return the distinct evidence ids a set of citations points at."""
    return {citation.evidence_id for citation in citations}
