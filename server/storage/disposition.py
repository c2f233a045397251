"""``Content-Disposition`` values for evidence downloads.

Researchers' file names arrive from phones and can hold anything: ``../``, NUL, newlines,
right-to-left marks. The stored key never uses them; this module only turns one into a
download name that is contained and shown safely (RFC 6266 with an RFC 8187 ``filename*``).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

DISPOSITIONS = frozenset({"attachment", "inline"})
FALLBACK_FILENAME = "evidence"
_MAX_FILENAME_CHARS = 180
# Control, format (bidi marks, zero-width joiners), line/paragraph separators, surrogates.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9 ._()+-]")
# RFC 8187 attr-char beyond letters and digits.
_ATTR_CHARS = "!#$&+-.^_`|~"


def safe_filename(filename: str) -> str:
    """Return a display name with no path, control or bidi characters; never empty."""
    base = re.split(r"[/\\]", filename or "")[-1]
    cleaned = "".join(
        " " if unicodedata.category(char) == "Zs" else char
        for char in unicodedata.normalize("NFC", base)
        if unicodedata.category(char) not in _UNSAFE_CATEGORIES
    )
    cleaned = " ".join(cleaned.split()).strip(" .")
    return cleaned[:_MAX_FILENAME_CHARS] or FALLBACK_FILENAME


def content_disposition(disposition: str, filename: str) -> str:
    """Build a ``Content-Disposition`` header value with ASCII and UTF-8 file names."""
    if disposition not in DISPOSITIONS:
        raise ValueError(f"disposition must be one of {sorted(DISPOSITIONS)}")
    name = safe_filename(filename)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = _ASCII_UNSAFE.sub("_", ascii_name).strip(" .") or FALLBACK_FILENAME
    value = f'{disposition}; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe=_ATTR_CHARS)}"
    return value
