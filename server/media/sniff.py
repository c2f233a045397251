"""Decide what an uploaded evidence file is from its first bytes, never from its name.

Typing rule (RELIABILITY 17):

* The client's file name never decides or vetoes the type: a PNG named ``.jpg`` is stored
  as ``image/png``. Browsers derive ``File.type`` from the name, so the declared mime type
  is only held against the content at the level of *kind*: ``image/jpeg`` sent with PNG
  bytes is accepted as PNG, ``audio/mp4`` sent with PNG bytes is ``media.type_mismatch``.
* Content that is dangerous to keep, render or hand to a decoder (SVG, HTML/XML, HLS and
  M3U playlists, ffconcat scripts, shell and server scripts, archives, executables) is
  ``media.type_forbidden`` whatever the client declared; forbidden wins over mismatch so
  that an attack is recorded as one.
* Content of a known format that does not fit the declared evidence kind is
  ``media.type_mismatch``; anything else is ``media.type_unknown``, and a zero-byte file is
  ``media.empty``.
* Audio/video verdicts are provisional: containers such as MP4, Matroska and Ogg can carry
  either, so the brand or first stream picks a kind and a stream probe must confirm it.
"""

from __future__ import annotations

import codecs
import re
import struct
from typing import NamedTuple

from server.media.display_names import safe_display_name
from server.media.errors import MediaRejected

__all__ = ["KINDS", "SNIFF_BYTES", "MediaRejected", "Sniffed", "safe_display_name", "sniff"]

KINDS = frozenset({"photo", "audio", "video", "document", "note", "screenshot"})

# Enough to see past an ID3 tag with a small cover picture and to judge a text note.
SNIFF_BYTES = 64 * 1024

_FIELD = "file"


class Sniffed(NamedTuple):
    """What the content is: its mime type, evidence kind and canonical file extension."""

    mime: str
    kind: str
    extension: str


# A recognised format: for each evidence kind it may be stored as, the (mime, extension)
# to store. The first kind is used when the client declares none.
_Variants = dict[str, tuple[str, str]]


def _image(mime: str, extension: str) -> _Variants:
    return {"photo": (mime, extension), "screenshot": (mime, extension)}


def _audio(mime: str, extension: str) -> _Variants:
    return {"audio": (mime, extension)}


def _audio_or_video(
    video: tuple[str, str], audio: tuple[str, str], *, first: str = "video"
) -> _Variants:
    both = {"video": video, "audio": audio}
    return {first: both[first], **both}


JPEG = _image("image/jpeg", "jpg")
PNG = _image("image/png", "png")
WEBP = _image("image/webp", "webp")
HEIC = _image("image/heic", "heic")
HEIF = _image("image/heif", "heif")
MP3 = _audio("audio/mpeg", "mp3")
AAC = _audio("audio/aac", "aac")
FLAC = _audio("audio/flac", "flac")
WAV = _audio("audio/wav", "wav")
AMR = _audio("audio/amr", "amr")
AMR_WB = _audio("audio/amr-wb", "awb")
M4A = _audio("audio/mp4", "m4a")
MP4_VIDEO: _Variants = {"video": ("video/mp4", "mp4")}
MP4 = _audio_or_video(("video/mp4", "mp4"), ("audio/mp4", "m4a"))
QUICKTIME = _audio_or_video(("video/quicktime", "mov"), ("audio/mp4", "m4a"))
THREE_GP = _audio_or_video(("video/3gpp", "3gp"), ("audio/3gpp", "3gp"))
THREE_G2 = _audio_or_video(("video/3gpp2", "3g2"), ("audio/3gpp2", "3g2"))
WEBM = _audio_or_video(("video/webm", "webm"), ("audio/webm", "webm"))
MATROSKA = _audio_or_video(("video/x-matroska", "mkv"), ("audio/x-matroska", "mka"))
PDF: _Variants = {"document": ("application/pdf", "pdf")}
NOTE: _Variants = {"note": ("text/markdown", "md")}

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"mif2", b"msf1"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_VIDEO_BRANDS = {b"M4V ", b"M4VH", b"M4VP", b"F4V ", b"F4P "}
_ISO_BRANDS = {b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso8", b"iso9"} | {
    b"mp41",
    b"mp42",
    b"mp71",
    b"avc1",
    b"dash",
    b"MSNV",
    b"mmp4",
    b"XAVC",
    b"NDAS",
}
# AVIF shares the HEIF container; Fieldbook does not accept it, so it must not pass as HEIF.
_REFUSED_BRANDS = {b"avif", b"avis"}

# Leading bytes of archives and executables, each refused as media.type_forbidden.
_FORBIDDEN_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "ZIP archive"),
    (b"PK\x05\x06", "ZIP archive"),
    (b"PK\x07\x08", "ZIP archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"\x1f\x9d", "compress archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"\x28\xb5\x2f\xfd", "Zstandard archive"),
    (b"\x04\x22\x4d\x18", "LZ4 archive"),
    (b"LZIP", "lzip archive"),
    (b"MSCF", "cabinet archive"),
    (b"xar!", "xar archive"),
    (b"!<arch>\n", "ar archive"),
    (b"\xed\xab\xee\xdb", "RPM package"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE compound document"),
    (b"\x7fELF", "ELF executable"),
    (b"MZ", "Windows executable"),
    (b"\xfe\xed\xfa\xce", "Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "Mach-O or Java class file"),
    (b"\x00asm", "WebAssembly module"),
)

# What a browser's content sniffer takes for HTML (WHATWG MIME Sniffing, "HTML" patterns),
# plus XML and SVG roots: refused so that nothing stored can ever render as a page.
_MARKUP = re.compile(
    r"<(?:!doctype|!--|\?xml|(?:html|head|script|iframe|h1|div|font|table|a|style|title|b|"
    r"body|br|p|svg|object|embed|math)[\s/>])",
    re.IGNORECASE,
)
_SCRIPT_START = re.compile(r"(?:#!|<\?php|<%|@echo\s+off)", re.IGNORECASE)
# M3U and HLS playlists make a decoder open other files or URLs (RELIABILITY 20).
_PLAYLIST_LINE = re.compile(r"^#EXT(?:M3U|INF|-X-)", re.IGNORECASE | re.MULTILINE)


def sniff(
    head: bytes,
    declared_kind: str | None,
    filename: str | None,
    *,
    declared_mime: str | None = None,
) -> Sniffed:
    """Type evidence from its leading bytes and check it against the declared kind.

    ``head`` is the start of the file (``SNIFF_BYTES`` is plenty). ``filename`` is accepted
    only so that callers can pass what they have: it is never consulted. Raise
    ``MediaRejected`` with ``media.empty``, ``media.type_forbidden``,
    ``media.type_unknown``, ``media.type_mismatch`` or ``media.kind_invalid``.
    """
    del filename  # the name is never evidence of the type
    if declared_kind is not None and declared_kind not in KINDS:
        raise MediaRejected(
            "media.kind_invalid", "kind", f"kind must be one of {', '.join(sorted(KINDS))}"
        )
    variants = _identify(head)
    mime_kinds = _kinds_for_declared_mime(declared_mime)
    if mime_kinds is not None and not mime_kinds & variants.keys():
        raise MediaRejected(
            "media.type_mismatch",
            _FIELD,
            f"the content is {_describe(variants)}, not {declared_mime}",
        )
    if declared_kind is None:
        candidates = [k for k in variants if mime_kinds is None or k in mime_kinds]
        kind = candidates[0]
    elif declared_kind in variants and (mime_kinds is None or declared_kind in mime_kinds):
        kind = declared_kind
    else:
        raise MediaRejected(
            "media.type_mismatch",
            _FIELD,
            f"the content is {_describe(variants)}, which cannot be {declared_kind} evidence",
        )
    mime, extension = variants[kind]
    return Sniffed(mime, kind, extension)


def _describe(variants: _Variants) -> str:
    return next(iter(variants.values()))[0]


def _kinds_for_declared_mime(declared_mime: str | None) -> set[str] | None:
    if not declared_mime:
        return None
    essence = declared_mime.split(";", 1)[0].strip().lower()
    if essence in ("", "application/octet-stream", "binary/octet-stream"):
        return None
    major = essence.split("/", 1)[0]
    by_major = {
        "image": {"photo", "screenshot"},
        "audio": {"audio"},
        "video": {"video"},
        "text": {"note"},
    }
    by_essence = {
        "application/pdf": {"document"},
        "application/ogg": {"audio", "video"},
        "application/mp4": {"audio", "video"},
    }
    return by_essence.get(essence, by_major.get(major, set()))


def _forbid(what: str) -> MediaRejected:
    return MediaRejected("media.type_forbidden", _FIELD, f"{what} files are not accepted")


def _unknown(what: str = "the file type is not recognised") -> MediaRejected:
    return MediaRejected("media.type_unknown", _FIELD, what)


def _identify(head: bytes) -> _Variants:
    if not head:
        raise MediaRejected("media.empty", _FIELD, "the file is empty")
    binary = _identify_binary(head)
    if binary is not None:
        return binary
    for magic, what in _FORBIDDEN_MAGIC:
        if head.startswith(magic):
            raise _forbid(what)
    if len(head) > 262 and head[257:262] == b"ustar":
        raise _forbid("tar archive")
    return _identify_text(head)


def _identify_binary(head: bytes) -> _Variants | None:
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[4:8] == b"ftyp":
        return _identify_iso_media(head)
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and len(head) >= 12:
        if head[8:12] == b"WEBP" and head[:4] == b"RIFF":
            return WEBP
        if head[8:12] == b"WAVE":
            return WAV
        raise _unknown("this RIFF file is neither WAV audio nor a WebP image")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _identify_matroska(head)
    if head.startswith(b"OggS"):
        return _identify_ogg(head)
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"#!AMR-WB\n"):
        return AMR_WB
    if head.startswith(b"#!AMR\n"):
        return AMR
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"ID3"):
        return _identify_after_id3(head)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        # UTF-16 text: its byte-order mark would otherwise pass for an MPEG frame sync.
        raise _unknown("UTF-16 text is not accepted; notes must be UTF-8")
    return _identify_mpeg_audio(head)


def _identify_iso_media(head: bytes) -> _Variants:
    (box_size,) = struct.unpack(">I", head[:4])
    if box_size < 16:
        raise _unknown("the ISO media file type box is malformed")
    end = min(box_size, len(head))
    major = head[8:12]
    compatible = [head[i : i + 4] for i in range(16, end - 3, 4)]
    if major in _REFUSED_BRANDS:
        raise _unknown("AVIF images are not accepted; send JPEG or HEIC")
    for brand in (major, *compatible):
        found = _variants_for_brand(brand)
        if found is not None:
            return found
    raise _unknown(f"the ISO media brand {major.decode('latin-1')!r} is not accepted")


def _variants_for_brand(brand: bytes) -> _Variants | None:
    if brand in _HEIC_BRANDS:
        return HEIC
    if brand in _HEIF_BRANDS:
        return HEIF
    if brand in _AUDIO_BRANDS:
        return M4A
    if brand in _VIDEO_BRANDS:
        return MP4_VIDEO
    if brand == b"qt  ":
        return QUICKTIME
    if brand.startswith(b"3g2"):
        return THREE_G2
    if brand[:3] in (b"3gp", b"3gg", b"3ge", b"3gs", b"3gr"):
        return THREE_GP
    if brand in _ISO_BRANDS:
        return MP4
    return None


def _identify_matroska(head: bytes) -> _Variants:
    # The DocType element sits in the EBML header, within the first few dozen bytes.
    header = head[:256]
    if b"\x42\x82" in header and b"webm" in header:
        return WEBM
    if b"\x42\x82" in header and b"matroska" in header:
        return MATROSKA
    raise _unknown("this EBML file is neither WebM nor Matroska")


def _identify_ogg(head: bytes) -> _Variants:
    # The first page's first packet names the codec of the first stream; it starts after
    # the 27-byte page header and the page's segment table.
    start = 27 + head[26] if len(head) > 26 else len(head)
    codec = head[start : start + 8]
    if codec.startswith(b"OpusHead"):
        return _audio_or_video(("video/ogg", "ogv"), ("audio/ogg", "opus"), first="audio")
    if codec.startswith(b"\x80theora"):
        return _audio_or_video(("video/ogg", "ogv"), ("audio/ogg", "ogg"))
    return _audio_or_video(("video/ogg", "ogv"), ("audio/ogg", "ogg"), first="audio")


def _identify_after_id3(head: bytes) -> _Variants:
    # Decoders skip an ID3v2 tag and probe what follows, so what follows is what counts.
    if len(head) < 10:
        return MP3
    size_bytes = head[6:10]
    if any(b & 0x80 for b in size_bytes):
        raise _unknown("the ID3 tag is malformed")
    size = 0
    for b in size_bytes:
        size = (size << 7) | b
    end = 10 + size + (10 if head[5] & 0x10 else 0)
    rest = head[end:]
    if not rest:
        return MP3  # the tag runs past the sniffed head; the stream probe has the last word
    found = _identify(rest)
    if "audio" not in found:
        raise _unknown("an ID3 tag must be followed by audio")
    return found


def _identify_mpeg_audio(head: bytes) -> _Variants | None:
    if len(head) < 4 or head[0] != 0xFF:
        return None
    b1, b2, b3 = head[1], head[2], head[3]
    if b1 & 0xF6 == 0xF0:
        # ADTS: 12-bit sync, layer 00; sampling index 13-15 is reserved.
        return AAC if (b2 >> 2) & 0x0F < 13 else None
    if b1 & 0xE0 != 0xE0:
        return None
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    bitrate, sampling, emphasis = b2 >> 4, (b2 >> 2) & 3, b3 & 3
    if version == 1 or layer == 0 or bitrate in (0, 15) or sampling == 3 or emphasis == 2:
        return None
    return MP3


def _identify_text(head: bytes) -> _Variants:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        # final=False: the head may end in the middle of a multi-byte character.
        text = decoder.decode(head, final=False)
    except UnicodeDecodeError:
        raise _unknown() from None
    if "\x00" in text:
        raise _unknown()
    start = text.lstrip("\ufeff \t\r\n\f\v")
    opening = start[:512]
    if _PLAYLIST_LINE.search(start):
        raise _forbid("playlist")
    if opening.lower().startswith("ffconcat"):
        raise _forbid("ffconcat script")
    if _SCRIPT_START.match(opening):
        raise _forbid("script")
    if _MARKUP.match(opening):
        raise _forbid("HTML, XML or SVG")
    return NOTE
