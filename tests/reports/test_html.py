"""The standalone HTML journal, read back with an HTML5 parser."""

from __future__ import annotations

import base64
from xml.etree.ElementTree import Element

import pytest
import tinyhtml5

from reports import (
    Journal,
    StudyIndex,
    TimeSpan,
    compile_journey_journal,
    compile_study_journal,
    compile_visit_journal,
    render_html,
)
from reports.evidence import RegionSpan, Span
from tests.reports import factories as f

NS = "{http://www.w3.org/1999/xhtml}"


def viewer_url(evidence_id: str, span: Span | None) -> str:
    """Link the way the reviewer viewer does: by id, with the time range when there is one."""
    if isinstance(span, TimeSpan):
        return f"/viewer/evidence/{evidence_id}?t={span.start:g}-{span.end:g}"
    if isinstance(span, RegionSpan):
        return f"/viewer/evidence/{evidence_id}?region={span.x:g},{span.y:g},{span.w:g},{span.h:g}"
    return f"/viewer/evidence/{evidence_id}"


def parse(html: str) -> Element:
    return tinyhtml5.parse(html)


def find(root: Element, tag: str, css_class: str | None = None) -> list[Element]:
    found = root.iter(NS + tag)
    if css_class is None:
        return list(found)
    return [e for e in found if css_class in (e.get("class") or "").split()]


def text(element: Element) -> str:
    return " ".join("".join(element.itertext()).split())


def test_quotes_show_their_audio_time_and_link_to_that_stretch_of_the_call() -> None:
    html = render_html(compile_visit_journal(f.record(), f.CALL_VISIT), evidence_url=viewer_url)
    root = parse(html)

    quotes = find(root, "blockquote", "quote")
    said = {text(find(q, "span", "said")[0]): q for q in quotes}
    repeat = said[
        "“Can you give me your order number again? It is four four seven one, as I said.”"
    ]
    (at,) = find(repeat, "a", "at")
    assert text(at) == "03:20"
    assert at.get("href") == "/viewer/evidence/e-call?t=200-219"
    assert text(find(repeat, "span", "speaker")[0]) == "agent:"


def test_every_metric_row_links_to_the_evidence_it_was_computed_from() -> None:
    html = render_html(compile_visit_journal(f.record(), f.CALL_VISIT), evidence_url=viewer_url)
    rows = {row.get("data-metric"): row for row in find(parse(html), "tr", "metric")}

    assert set(rows) == {"hold_and_wait_time", "transfers", "repeats", "checklist_score"}
    hold = rows["hold_and_wait_time"]
    assert text(find(hold, "td", "value")[0]) == "2 min 30 s"
    assert [a.get("href") for a in find(hold, "a", "cite")] == [
        "/viewer/evidence/e-call?t=0-30",
        "/viewer/evidence/e-call?t=30-150",
    ]
    assert [text(a) for a in find(hold, "a", "cite")] == [
        "audio 00:00\u201300:30",
        "audio 00:30\u201302:30",
    ]
    for row in rows.values():
        assert find(row, "a", "cite"), row.get("data-metric")


def test_photo_is_embedded_with_its_cited_region_and_linked_to_the_region() -> None:
    html = render_html(compile_visit_journal(f.record(), f.STORE_VISIT), evidence_url=viewer_url)
    root = parse(html)

    (figure,) = find(root, "figure", "photo")
    image = find(figure, "img")[0]
    prefix = "data:image/png;base64,"
    assert image.get("src", "").startswith(prefix)
    display = next(item for item in f.evidence() if item.id == f.PHOTO).display_bytes
    assert base64.b64decode(image.get("src", "")[len(prefix) :]) == display
    assert find(figure, "a")[0].get("href") == "/viewer/evidence/e-photo?region=0.1,0.2,0.3,0.4"
    region = find(figure, "span", "region")[0].get("style")
    assert region == "left:10.00%;top:20.00%;width:30.00%;height:40.00%"


def test_study_journal_draws_the_effort_curve_as_inline_svg() -> None:
    root = parse(render_html(compile_study_journal(f.record())))

    (svg,) = root.iter("{http://www.w3.org/2000/svg}svg")
    polyline = next(svg.iter("{http://www.w3.org/2000/svg}polyline"))
    points = [tuple(map(float, p.split(","))) for p in (polyline.get("points") or "").split()]
    assert len(points) == 3
    # Effort 1 (Buy), 4.5 (Return), 3 (Refund): higher effort is drawn higher (smaller y).
    assert points[1][1] < points[2][1] < points[0][1]
    labels = [
        text(t) for t in svg.iter("{http://www.w3.org/2000/svg}text") if t.get("class") == "stage"
    ]
    assert labels == ["Buy", "Return", "Refund"]
    findings = find(root, "li", "finding")
    assert [text(find(li, "span", "title")[0]) for li in findings] == [
        "Returns take several contacts",
        "Customers repeat their order number",
        "Kettles are easy to find in store",
    ]


@pytest.mark.parametrize("kind", ["visit", "open-visit", "web-visit", "journey", "study"])
def test_standalone_file_needs_nothing_else_and_its_evidence_links_resolve(kind: str) -> None:
    index = StudyIndex(f.record())
    journal: Journal = {
        "visit": lambda: compile_visit_journal(index, f.STORE_VISIT),
        "open-visit": lambda: compile_visit_journal(index, f.OTHER_VISIT),
        "web-visit": lambda: compile_visit_journal(index, f.WEB_VISIT),
        "journey": lambda: compile_journey_journal(index, "j-kettle"),
        "study": lambda: compile_study_journal(index),
    }[kind]()
    root = parse(render_html(journal))

    assert not find(root, "script") and not find(root, "link")
    assert find(root, "style")
    assert all((img.get("src") or "").startswith("data:image/") for img in find(root, "img"))
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    anchors = [a.get("href") or "" for a in root.iter() if a.tag.endswith("}a")]
    assert len(anchors) >= 3
    assert all(href.startswith("#") and href[1:] in ids for href in anchors)
