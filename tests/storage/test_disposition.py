"""Download names from phones are contained and shown safely (RELIABILITY 22)."""

from __future__ import annotations

import pytest

from server.storage import content_disposition, safe_filename


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\field\\IMG_1.jpg", "IMG_1.jpg"),
        ("photo\x00.jpg", "photo.jpg"),
        ("line\r\nSet-Cookie: x.jpg", "lineSet-Cookie: x.jpg"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("  ..  ", "evidence"),
        ("", "evidence"),
        ("Beleg März.jpg", "Beleg März.jpg"),
    ],
)
def test_reliability_22_file_names_are_contained(filename: str, shown: str) -> None:
    assert safe_filename(filename) == shown


def test_ascii_name_needs_no_extended_parameter() -> None:
    assert content_disposition("inline", "store front.jpg") == 'inline; filename="store front.jpg"'


def test_non_ascii_name_gets_an_ascii_fallback_and_utf8_name() -> None:
    value = content_disposition("attachment", 'Beleg "März" 東京.jpg')

    assert value == (
        'attachment; filename="Beleg _Marz_ .jpg"; '
        "filename*=UTF-8''Beleg%20%22M%C3%A4rz%22%20%E6%9D%B1%E4%BA%AC.jpg"
    )
    assert value.isascii()
    assert "\n" not in value and "\r" not in value


def test_unknown_disposition_is_refused() -> None:
    with pytest.raises(ValueError, match="disposition"):
        content_disposition("attachment; filename=evil", "a.jpg")
