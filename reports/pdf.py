"""Render a journal as PDF through WeasyPrint, from the same HTML, reading nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import ImageFile
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from reports.html import render_html
from reports.journal import Journal
from reports.presentation import EvidenceUrl, anchor_url

# Importing WeasyPrint tells Pillow, for the whole process, to accept truncated images.
# Journals embed only complete copies made by Fieldbook, while evidence processing in the
# same worker must refuse a truncated photo: keep Pillow strict.
ImageFile.LOAD_TRUNCATED_IMAGES = False


@dataclass(frozen=True, slots=True)
class Resource:
    """Bytes handed to the PDF renderer for one URL, e.g. a photo's display copy."""

    data: bytes
    media_type: str


class JournalResourceFetcher(URLFetcher):
    """Serve data: URLs and the resources handed over; refuse files, networks and the rest."""

    def __init__(self, resources: Mapping[str, Resource] | None = None) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False)
        self._resources = dict(resources or {})
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        """Return a handed-over resource or a data: URL; raise for anything else."""
        resource = self._resources.get(url)
        if resource is not None:
            return URLFetcherResponse(url, resource.data, {"Content-Type": resource.media_type})
        if url[:5].lower() == "data:":
            return super().fetch(url, headers)
        self.refused.append(url)
        raise PermissionError(f"journal PDFs read nothing outside the document: {url[:200]}")


def render_pdf(
    journal: Journal,
    *,
    evidence_url: EvidenceUrl = anchor_url,
    resources: Mapping[str, Resource] | None = None,
    fetcher: JournalResourceFetcher | None = None,
) -> bytes:
    """Render a journal as PDF; only data: URLs and the given resources are ever read.

    Pass `fetcher` instead of `resources` to see afterwards which URLs were refused.
    """
    if fetcher is not None and resources is not None:
        raise ValueError("hand resources to the fetcher, not to render_pdf as well")
    html = render_html(journal, evidence_url=evidence_url)
    url_fetcher = fetcher if fetcher is not None else JournalResourceFetcher(resources)
    document = HTML(string=html, base_url=None, url_fetcher=url_fetcher)
    pdf = document.write_pdf()
    if pdf is None:  # write_pdf returns bytes when no target is given
        raise RuntimeError("WeasyPrint produced no PDF")
    return pdf
