"""Turn a client's file name into one that is safe to show and to offer as a download name.

The result is only ever a display or ``Content-Disposition`` name: storage keys are
generated and never derived from it (RELIABILITY 17 and 22).
"""

from __future__ import annotations

import unicodedata

__all__ = ["DEFAULT_NAME", "MAX_DISPLAY_NAME", "safe_display_name"]

DEFAULT_NAME = "evidence"
MAX_DISPLAY_NAME = 120
_MAX_EXTENSION = 10

# Bidi embeddings, overrides, isolates and marks: they can make "gpj.exe" read as "exe.jpg".
_BIDI_CONTROLS = frozenset(
    chr(c) for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
)
# Characters Windows, macOS or HTTP headers treat specially in a file name.
_RESERVED = frozenset('<>:"|?*;')
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
# Spellings that already name the stored type, so no second extension is added.
_SAME_TYPE = (
    frozenset({"jpg", "jpeg", "jpe", "jfif"}),
    frozenset({"heic", "heif", "hif"}),
    frozenset({"md", "markdown", "txt"}),
    frozenset({"ogg", "oga", "opus"}),
    frozenset({"3gp", "3gpp"}),
    frozenset({"aac", "adts"}),
    frozenset({"mov", "qt"}),
)


def safe_display_name(
    client_name: str | None,
    *,
    extension: str | None = None,
    max_length: int = MAX_DISPLAY_NAME,
) -> str:
    """Contain a client file name for display: last path part, no controls, bounded length.

    Directories (``../``, absolute and Windows paths) are dropped, bidi controls and other
    invisible format characters removed, control characters, line breaks and characters
    reserved by file systems replaced with ``_``. When ``extension`` (the type sniffed from
    the content) is given and the name does not already end in it, it is appended so that a
    download opens with the right program.
    """
    if max_length < 2 * (_MAX_EXTENSION + 1):
        raise ValueError("max_length is too small to keep a readable extension")
    name = "".join(_contained_char(c) for c in unicodedata.normalize("NFC", client_name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = " ".join(name.split()).strip(" .")
    stem, ext = _split_extension(name)
    if extension:
        wanted = extension.lower().lstrip(".")
        if not _names_same_type(ext, wanted):
            stem, ext = name, wanted
    stem = stem.strip(" .") or DEFAULT_NAME
    if stem.upper().split(".", 1)[0] in _WINDOWS_DEVICES:
        stem = f"_{stem}"
    suffix = f".{ext}" if ext else ""
    return stem[: max_length - len(suffix)].rstrip(" .") + suffix


def _contained_char(char: str) -> str:
    if char in _BIDI_CONTROLS:
        return ""
    category = unicodedata.category(char)
    if category == "Cf":
        return ""  # invisible format characters only serve to disguise a name
    if category in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp") or char in _RESERVED:
        return "_"
    return char


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if dot and stem and 0 < len(ext) <= _MAX_EXTENSION and ext.isascii() and ext.isalnum():
        return stem, ext
    return name, ""


def _names_same_type(ext: str, wanted: str) -> bool:
    ext = ext.lower()
    if ext == wanted:
        return True
    return any(ext in group and wanted in group for group in _SAME_TYPE)
