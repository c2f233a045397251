"""Researchers' Markdown notes as safe HTML, each block anchored to its source line.

Notes are rendered by markdown-it with raw HTML turned off and then cleaned by nh3, so
whatever a note holds (``<script>``, ``javascript:`` links, template syntax) reaches the
page as text or as harmless markup. Every top-level block gets ``id="…line-N"`` and the
range of source lines it covers, so a search hit on line N of a note can be opened.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# phones write one thought a line: a line break in a note is a line break on the page
_markdown = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False})
_markdown.enable("table").enable("strikethrough")
ANCHOR = re.compile(r"^(note-[0-9a-f]{8}-)?line-\d+$")
LINE_ATTRIBUTES = frozenset({"data-line-start", "data-line-end"})
ALLOWED_ATTRIBUTES = {
    **{tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"id", *LINE_ATTRIBUTES},
}
URL_SCHEMES = {"http", "https", "mailto"}
BARE_BLOCKS = frozenset({"fence", "code_block", "hr"})
# a note sits under the page's h1, its section's h2 and its own h3: its headings start at h4
HEADING_SHIFT = 3


def _keep_attribute(tag: str, name: str, value: str) -> str | None:
    """Keep only the anchors this module wrote; a note cannot name elements itself."""
    if name == "id":
        return value if ANCHOR.match(value) else None
    if name in LINE_ATTRIBUTES:
        return value if value.isdigit() else None
    return value


def anchor_prefix(evidence_id: object) -> str:
    """Return the id prefix of a note's line anchors when several notes share a page."""
    return f"note-{str(evidence_id)[:8]}-"


def render_note(text: str, prefix: str = "") -> Markup:
    """Render a Markdown note to sanitised HTML with a line anchor on each block."""
    tokens = _markdown.parse(text or "")
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + HEADING_SHIFT)}"
        # fences, code blocks and rules stand alone in the stream; other blocks open and close
        opens_block = token.nesting == 1 or (token.nesting == 0 and token.type in BARE_BLOCKS)
        if opens_block and token.level == 0 and token.map:
            first, last = token.map
            token.attrSet("id", f"{prefix}line-{first + 1}")
            token.attrSet("data-line-start", str(first + 1))
            token.attrSet("data-line-end", str(last))
    html = _markdown.renderer.render(tokens, _markdown.options, {})
    cleaned = nh3.clean(
        html,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_keep_attribute,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(cleaned)  # noqa: S704 - markdown-it without raw HTML, then nh3
