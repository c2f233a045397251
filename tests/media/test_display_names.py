"""Client file names are contained before anyone sees them (RELIABILITY 22)."""

from __future__ import annotations

import unicodedata

import pytest

from server.media.display_names import MAX_DISPLAY_NAME, safe_display_name
from server.media.sniff import safe_display_name as exported_from_sniff

BIDI_CONTROLS = [
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
]


def assert_contained(name: str) -> None:
    assert name
    assert "/" not in name and "\\" not in name
    assert not name.startswith(".")
    assert len(name) <= MAX_DISPLAY_NAME
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp") for c in name)


@pytest.mark.parametrize(
    ("client_name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\drivers\\etc\\hosts", "hosts"),
        ("/var/lib/fieldbook/media/IMG_1.jpg", "IMG_1.jpg"),
        ("C:\\Users\\alice\\Pictures\\shelf.jpg", "shelf.jpg"),
        ("..", "evidence"),
        ("../", "evidence"),
    ],
)
def test_rel22_directories_and_absolute_paths_are_dropped(client_name: str, expected: str) -> None:
    assert safe_display_name(client_name) == expected


def test_rel22_nul_byte_cannot_hide_the_real_extension() -> None:
    name = safe_display_name("receipt.jpg\x00.exe")
    assert name == "receipt.jpg_.exe"
    assert_contained(name)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r", "\u2028", "\u2029", "\x85"])
def test_rel22_newlines_cannot_split_a_header(newline: str) -> None:
    name = safe_display_name(f"visit{newline}Set-Cookie: session=stolen.md")
    assert_contained(name)
    assert newline not in name
    assert name.startswith("visit_")


@pytest.mark.parametrize("control", BIDI_CONTROLS)
def test_rel22_bidi_controls_are_removed(control: str) -> None:
    name = safe_display_name(f"invoice{control}gpj.exe")
    assert name == "invoicegpj.exe"


def test_rel22_right_to_left_override_cannot_fake_a_jpg() -> None:
    name = safe_display_name("photo_\u202egpj.exe", extension="jpg")
    assert name.endswith(".exe.jpg")
    assert_contained(name)


def test_rel22_control_and_reserved_characters_are_replaced() -> None:
    name = safe_display_name('a\tb\x1bc<d>e:f"g|h?i*j;k.png')
    assert name == "a_b_c_d_e_f_g_h_i_j_k.png"


def test_rel22_long_names_are_bounded_and_keep_the_extension() -> None:
    name = safe_display_name("x" * 5000 + ".heic")
    assert len(name) == MAX_DISPLAY_NAME
    assert name.endswith("x.heic")


def test_rel22_windows_device_names_are_defused() -> None:
    assert safe_display_name("CON.txt") == "_CON.txt"
    assert safe_display_name("lpt1") == "_lpt1"


def test_readable_unicode_names_survive() -> None:
    assert safe_display_name("Bäckerei Müller · Kasse.jpg") == "Bäckerei Müller · Kasse.jpg"
    assert safe_display_name("店舗の写真.heic") == "店舗の写真.heic"


def test_sniffed_extension_is_added_when_the_name_disagrees() -> None:
    assert safe_display_name("IMG_2040.jpg", extension="png") == "IMG_2040.jpg.png"
    assert safe_display_name("IMG_2040.JPEG", extension="jpg") == "IMG_2040.JPEG"
    assert safe_display_name("voice memo", extension="m4a") == "voice memo.m4a"


def test_missing_or_empty_names_get_a_default() -> None:
    assert safe_display_name(None, extension="jpg") == "evidence.jpg"
    assert safe_display_name("   ...  ") == "evidence"


def test_hidden_file_dots_are_stripped() -> None:
    assert safe_display_name(".htaccess") == "htaccess"


def test_sniff_module_exports_the_same_function() -> None:
    assert exported_from_sniff is safe_display_name
