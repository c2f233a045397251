"""PDF journals through WeasyPrint, read back with poppler's pdftotext, pdfinfo and pdftoppm."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from reports import (
    Journal,
    TimeSpan,
    compile_journey_journal,
    compile_study_journal,
    compile_visit_journal,
)
from reports.evidence import Span
from reports.pdf import JournalResourceFetcher, Resource, render_pdf
from tests.reports import factories as f
from tests.reports import poppler

RED = (220, 20, 20)
CDN_PHOTO = "https://cdn.example/photos/queue.png"


def viewer_url(evidence_id: str, span: Span | None) -> str:
    suffix = f"?t={span.start:g}" if isinstance(span, TimeSpan) else ""
    return f"https://viewer.example/evidence/{evidence_id}{suffix}"


def test_pdf_text_carries_the_timeline_quotes_times_and_figures(tmp_path: Path) -> None:
    pdf = render_pdf(compile_journey_journal(f.record(), "j-kettle"))

    assert pdf.startswith(b"%PDF-")
    words = " ".join(poppler.pdf_text(pdf, tmp_path).split())
    assert "Return a faulty kettle" in words
    assert "03:20 agent: “Can you give me your order number again?" in words
    assert "Hold and wait time 2 min 30 s" in words
    assert "Contacts needed 3 contacts" in words
    assert "Returns take several contacts" in words


def test_pdf_links_every_figure_to_the_evidence_viewer(tmp_path: Path) -> None:
    pdf = render_pdf(compile_visit_journal(f.record(), f.CALL_VISIT), evidence_url=viewer_url)

    urls = poppler.pdf_urls(pdf, tmp_path)

    assert "https://viewer.example/evidence/e-call?t=200" in urls
    assert "https://viewer.example/evidence/e-call?t=0" in urls  # the first hold period
    assert all(url.startswith("https://viewer.example/evidence/") for url in urls)


def test_pdf_page_shows_the_embedded_photo(tmp_path: Path) -> None:
    pdf = render_pdf(compile_visit_journal(f.record(), f.STORE_VISIT))

    page = poppler.first_page(pdf, tmp_path)

    assert abs(page.size[0] - 595) <= 1 and abs(page.size[1] - 842) <= 1  # A4 at 72 dpi
    assert poppler.pixels_near(page, RED) > 500


def with_cdn_photo(url: str) -> Journal:
    evidence = tuple(
        dataclasses.replace(item, display_bytes=None, display_media_type=None, display_url=url)
        if item.id == f.PHOTO
        else item
        for item in f.evidence()
    )
    return compile_visit_journal(f.record(evidence=evidence), f.STORE_VISIT)


def test_pdf_fetches_a_photo_url_only_when_its_bytes_are_handed_over(tmp_path: Path) -> None:
    journal = with_cdn_photo(CDN_PHOTO)
    fetcher = JournalResourceFetcher()

    refused = render_pdf(journal, fetcher=fetcher)

    assert set(fetcher.refused) == {CDN_PHOTO}
    assert poppler.pixels_near(poppler.first_page(refused, tmp_path), RED) == 0

    handed = {CDN_PHOTO: Resource(f.png_bytes(RED), "image/png")}
    shown = render_pdf(journal, resources=handed)
    assert poppler.pixels_near(poppler.first_page(shown, tmp_path), RED) > 500


def test_pdf_never_reads_a_file_even_one_named_relative_to_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "queue.png").write_bytes(f.png_bytes(RED))
    monkeypatch.chdir(tmp_path)
    fetcher = JournalResourceFetcher()

    pdf = render_pdf(with_cdn_photo("queue.png"), fetcher=fetcher)

    assert poppler.pixels_near(poppler.first_page(pdf, tmp_path), RED) == 0
    assert all(not url.startswith("data:") for url in fetcher.refused)


@pytest.mark.parametrize(
    "url", ["file:///etc/hostname", "http://169.254.169.254/latest", "ftp://example.org/x"]
)
def test_resource_fetcher_refuses_files_and_networks(url: str) -> None:
    fetcher = JournalResourceFetcher()

    with pytest.raises(PermissionError):
        fetcher.fetch(url)
    assert fetcher.refused == [url]


def test_resource_fetcher_serves_data_urls_and_handed_resources() -> None:
    fetcher = JournalResourceFetcher({"https://cdn.example/a.png": Resource(b"png", "image/png")})

    handed = fetcher.fetch("https://cdn.example/a.png")
    inline = fetcher.fetch("data:text/plain;base64,aGVsbG8=")

    assert (handed.read(), handed.content_type) == (b"png", "image/png")
    assert inline.read() == b"hello"
    assert fetcher.refused == []


def test_study_pdf_renders_with_its_chart(tmp_path: Path) -> None:
    pdf = render_pdf(compile_study_journal(f.record()))

    words = " ".join(poppler.pdf_text(pdf, tmp_path).split())

    assert "Effort along the journey" in words
    assert "Buy Return Refund" in words  # the chart's stage labels
    assert "Staff the returns desk at peak" in words


def test_the_pdf_renderer_leaves_pillow_strict_about_truncated_images() -> None:
    # WeasyPrint switches truncated-image loading on for the whole process when imported;
    # evidence processing in the same worker must still refuse a truncated photo.
    import importlib

    from PIL import ImageFile

    import reports.pdf

    importlib.reload(reports.pdf)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
