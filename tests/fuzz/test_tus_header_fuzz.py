"""Fuzzing the tus headers a phone sends with every resumable upload.

What is fuzzed: ``parse_metadata`` (``Upload-Metadata``: comma-separated ``key base64value``
pairs) and ``parse_checksum`` (``Upload-Checksum: ALGORITHM BASE64DIGEST``) in
``server.services.uploads`` with arbitrary text, near-valid headers with bad base64 or
non-UTF-8 values, duplicate and empty keys and huge values; and, through the real Flask test
client, the numeric and version headers of the tus endpoints (``Upload-Length``,
``Upload-Offset``, ``Content-Length``, ``Tus-Resumable``, ``Upload-Defer-Length``, plus
``Upload-Metadata`` and ``Upload-Checksum``) with arbitrary Latin-1 strings, the characters
an HTTP server can hand to the app.

Properties: each parser returns its documented type or raises the client error it documents
(``ValidationFailed``, 422, ``upload.metadata_invalid`` / ``upload.checksum_invalid``, or the
400 ``upload.checksum_algorithm``) naming the offending header field; whatever a header
encodes with the tus rules parses back to exactly what was encoded; and every answer of the
tus endpoints is a success or a 4xx in the shared JSON error shape
``{code, status, message, errors}``, never a 5xx.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from server.errors import AppError, ValidationFailed
from server.services.uploads import CHECKSUMS, parse_checksum, parse_metadata
from tests.conftest import Actor, StudyTeam
from tests.uploads.tus_wire import OFFSET_STREAM, TUS, TUS_VERSION, metadata_header

UPLOADS = "/api/v1/uploads"
ERROR_KEYS = {"code", "status", "message", "errors"}
# What a WSGI server can put in a header value: Latin-1 text without line breaks.
header_text = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=40)
# Keys the tus specification allows: not empty, no spaces and no commas.
tus_keys = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=","),
    min_size=1,
    max_size=20,
)
# Base64 with a flaw: a character outside the alphabet, missing padding, or stray text.
bad_base64 = st.one_of(
    st.sampled_from(["a", "ab", "abc", "a===", "=abc", "ab=c", "YQ", "YQ=", "**", "é", "YQ==é"]),
    # the parser strips each pair, so what it decodes is the text without trailing spaces
    st.text(st.characters(codec="latin-1", exclude_characters="\r\n, "), min_size=1).filter(
        lambda text: not _valid_base64(text.rstrip())
    ),
)


def _valid_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        return False
    return True


def numbers_and_garbage() -> st.SearchStrategy[str]:
    """What a numeric header may hold: numbers of any size and sign, and anything else."""
    return st.one_of(
        st.integers(-(10**6), 10**30).map(str),
        st.integers(0, 10**6).map(str),
        header_text,
        st.sampled_from(
            [
                *["", " ", "0", "00", "+1", "-0", "1e3", "0x10", "1_000", " 12", "12 ", "1.5"],
                # isdigit() holds for all three; int() refuses the first two
                *["\u00b2", "\u00b9\u00b2\u00b3", "\u0661\u0662"],
                # int() refuses over 4300 digits
                *["9" * 30, "9" * 5000, "1" + "0" * 19],
            ]
        ),
    )


def mostly(
    usual: st.SearchStrategy[str | None], unusual: st.SearchStrategy[str | None], one_in: int = 3
) -> st.SearchStrategy[str | None]:
    """``unusual`` about once in ``one_in`` draws, else ``usual``: enough valid headers that
    requests get past the first check to the next one."""
    odd = st.sampled_from([False] * (one_in - 1) + [True])
    return odd.flatmap(lambda is_odd: unusual if is_odd else usual)


# Tus-Resumable: the version, left out, or anything else.
tus_versions = mostly(
    st.just(TUS_VERSION), st.one_of(st.none(), st.sampled_from(["1.0", "0.2.2", ""]), header_text)
)
# Sensible byte counts, so that numeric headers are mostly valid.
byte_counts = st.integers(1, 10**6).map(str)


# --- Upload-Metadata ------------------------------------------------------------------------


def assert_metadata_refusal(error: AppError, keys: set[str]) -> None:
    assert isinstance(error, ValidationFailed)
    assert (error.status, error.code) == (422, "upload.metadata_invalid")
    [field] = error.errors
    assert field.startswith("Upload-Metadata.")
    assert field.removeprefix("Upload-Metadata.") in keys


def pair_keys(header: str) -> set[str]:
    """The keys a header names, as the parser splits it."""
    return {pair.strip().partition(" ")[0] for pair in header.split(",")}


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(header=st.one_of(header_text, st.text(max_size=60)))
@example(header="visit_id é")  # non-ASCII text where base64 belongs
@example(header="kind \xff\xfe")
@example(header="a YQ==,,  ,b")
def test_parse_metadata_of_any_text_is_a_dict_or_a_metadata_refusal(header: str) -> None:
    try:
        metadata = parse_metadata(header)
    except AppError as error:
        assert_metadata_refusal(error, pair_keys(header))
        return
    assert isinstance(metadata, dict)
    for key, value in metadata.items():
        assert isinstance(key, str) and isinstance(value, str)
        assert key and "," not in key and " " not in key


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    metadata=st.dictionaries(tus_keys, st.text(max_size=50), max_size=8),
    separator=st.sampled_from([",", ", ", " ,", " , ", ",,"]),
    padding=st.sampled_from(["", " ", "  ", ","]),
)
def test_parse_metadata_gives_back_what_the_tus_encoding_holds(
    metadata: dict[str, str], separator: str, padding: str
) -> None:
    pairs = metadata_header(metadata).split(",") if metadata else []
    header = padding + separator.join(pairs) + padding
    assert parse_metadata(header) == metadata


@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(
    key=tus_keys,
    size=st.one_of(st.integers(0, 1000), st.integers(100_000, 200_000)),
    fill=st.characters(),
)
def test_parse_metadata_round_trips_huge_values(key: str, size: int, fill: str) -> None:
    value = fill * size
    assert parse_metadata(metadata_header({key: value})) == {key: value}


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(pairs=st.lists(st.tuples(st.sampled_from(["kind", "a", "b"]), st.text(max_size=20))))
def test_parse_metadata_of_duplicate_keys_keeps_the_last_value(
    pairs: list[tuple[str, str]],
) -> None:
    header = ",".join(metadata_header({key: value}) for key, value in pairs)
    assert parse_metadata(header) == dict(pairs)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    good=st.dictionaries(tus_keys, st.text(max_size=20), max_size=4),
    key=tus_keys,
    broken=st.one_of(
        bad_base64,
        # base64 of bytes that are not UTF-8
        st.binary(min_size=1, max_size=20)
        .filter(lambda raw: not _is_utf8(raw))
        .map(lambda raw: base64.b64encode(raw).decode()),
    ),
)
def test_parse_metadata_names_the_key_whose_value_is_broken(
    good: dict[str, str], key: str, broken: str
) -> None:
    good.pop(key, None)
    header = ",".join(filter(None, [metadata_header(good), f"{key} {broken}"]))
    with pytest.raises(AppError) as raised:
        parse_metadata(header)
    assert_metadata_refusal(raised.value, {key})
    assert raised.value.errors == {f"Upload-Metadata.{key}": ["Not base64 of UTF-8 text."]}


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- Upload-Checksum ------------------------------------------------------------------------


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    header=st.one_of(
        st.none(),
        header_text,
        st.builds(
            lambda algorithm, digest: f"{algorithm} {digest}",
            st.sampled_from([*CHECKSUMS, "SHA256", "crc32", ""]),
            st.one_of(bad_base64, header_text),
        ),
    )
)
@example(header="sha256 é")  # non-ASCII text where base64 belongs
@example(header="md5 \xb2")
@example(header="   ")
def test_parse_checksum_of_any_text_is_a_digest_or_a_checksum_refusal(header: str | None) -> None:
    try:
        checksum = parse_checksum(header)
    except AppError as error:
        assert list(error.errors) == ["Upload-Checksum"]
        assert (error.status, error.code) in {
            (400, "upload.checksum_algorithm"),
            (422, "upload.checksum_invalid"),
        }
        return
    if checksum is None:
        assert not header
        return
    algorithm, digest = checksum
    assert algorithm in CHECKSUMS and isinstance(digest, bytes)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(algorithm=st.sampled_from(sorted(CHECKSUMS)), chunk=st.binary(max_size=100))
def test_parse_checksum_gives_back_the_digest_a_client_sends(algorithm: str, chunk: bytes) -> None:
    digest = CHECKSUMS[algorithm](chunk).digest()
    header = f"{algorithm} {base64.b64encode(digest).decode()}"
    assert parse_checksum(header) == (algorithm, digest)


# --- the tus endpoints through the Flask test client ------------------------------------------

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
# The app fixture gives each test one rolled-back transaction; the examples of a test share it
# (and its researcher and visit), which is what function-scoped fixtures are checked for.
endpoint_settings = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def visit_id(team: StudyTeam) -> str:
    """A draft phone visit of the team's researcher, which uploads attach to."""
    body = {"channel": "phone", "title": "Help desk call", "client_uuid": str(uuid.uuid4())}
    answer = team.researcher.post(f"/api/v1/studies/{team.study.id}/visits", json=body)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return str(answer.json["id"])


def assert_tus_answer(answer: TestResponse, method: str = "") -> None:
    """A success, or a 4xx in the shared JSON error shape; never a server error."""
    assert answer.status_code < 500, answer.get_data(as_text=True)
    assert answer.headers["Tus-Resumable"] == TUS_VERSION
    if answer.status_code < 400:
        assert answer.status_code in (200, 201, 204)
        return
    if method == "HEAD":  # the answer to a HEAD carries no body
        return
    body = answer.get_json()
    assert isinstance(body, dict) and set(body) == ERROR_KEYS, body
    assert body["status"] == answer.status_code
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)


def send(actor: Actor, method: str, url: str, headers: dict[str, str], data: bytes = b"") -> Any:
    """Send a request with the actor's token and ``headers``."""
    return actor.client.open(url, method=method, headers={**actor.headers, **headers}, data=data)


def sent_headers(**headers: str | None) -> dict[str, str]:
    """Header names in HTTP spelling; a header drawn as None is not sent."""
    return {name.replace("_", "-"): value for name, value in headers.items() if value is not None}


@sqlite_only
@endpoint_settings
@given(
    upload_length=mostly(byte_counts, st.one_of(st.none(), numbers_and_garbage())),
    defer_length=mostly(st.none(), numbers_and_garbage()),
    content_length=mostly(st.none(), numbers_and_garbage()),
    tus_resumable=tus_versions,
    content_type=st.sampled_from([None, OFFSET_STREAM, "text/plain"]),
    body=st.binary(max_size=32),
)
@example(  # a creation that names no length at all
    upload_length=None,
    defer_length="1",
    content_length=None,
    tus_resumable=TUS_VERSION,
    content_type=None,
    body=b"",
)
@example(  # isdigit() holds for '²', but int() refuses it
    upload_length="\u00b2",
    defer_length=None,
    content_length=None,
    tus_resumable=TUS_VERSION,
    content_type=None,
    body=b"",
)
@example(  # int() refuses more than 4300 digits
    upload_length="9" * 5000,
    defer_length=None,
    content_length=None,
    tus_resumable=TUS_VERSION,
    content_type=None,
    body=b"",
)
def test_creating_an_upload_with_any_numeric_headers_never_fails_on_the_server(
    team: StudyTeam,
    visit_id: str,
    upload_length: str | None,
    defer_length: str | None,
    content_length: str | None,
    tus_resumable: str | None,
    content_type: str | None,
    body: bytes,
) -> None:
    headers = sent_headers(
        Upload_Length=upload_length,
        Upload_Defer_Length=defer_length,
        Content_Length=content_length,
        Tus_Resumable=tus_resumable,
        Content_Type=content_type,
        Upload_Metadata=metadata_header({"visit_id": visit_id, "kind": "photo"}),
    )
    assert_tus_answer(send(team.researcher, "POST", UPLOADS, headers, body))


@sqlite_only
@endpoint_settings
@given(
    with_visit=st.booleans(),
    metadata=st.one_of(header_text, st.text(st.characters(exclude_characters="\r\n"))),
    upload_length=mostly(byte_counts, numbers_and_garbage()),
)
@example(with_visit=True, metadata="kind \xe9", upload_length="1000")
@example(with_visit=True, metadata="kind cGhvdG8=,filename \xff", upload_length="1000")
def test_creating_an_upload_with_any_metadata_never_fails_on_the_server(
    team: StudyTeam, visit_id: str, with_visit: bool, metadata: str, upload_length: str
) -> None:
    if with_visit:  # get past the visit check to the other fields
        metadata = metadata_header({"visit_id": visit_id}) + "," + metadata
    headers = {**TUS, "Upload-Length": upload_length, "Upload-Metadata": metadata}
    assert_tus_answer(send(team.researcher, "POST", UPLOADS, headers))


@sqlite_only
@endpoint_settings
@given(
    upload_offset=mostly(st.just("0"), st.one_of(st.none(), byte_counts, numbers_and_garbage())),
    content_length=mostly(st.none(), numbers_and_garbage()),
    tus_resumable=tus_versions,
    checksum=st.one_of(st.none(), st.just("valid"), header_text),
    content_type=st.sampled_from([OFFSET_STREAM, OFFSET_STREAM, "text/plain", None]),
    body=st.binary(max_size=32),
)
@example(
    upload_offset="\u00b9\u00b2\u00b3",
    content_length=None,
    tus_resumable=TUS_VERSION,
    checksum="sha256 \u00e9",
    content_type=OFFSET_STREAM,
    body=b"\xff\xd8",
)
def test_patching_an_upload_with_any_numeric_headers_never_fails_on_the_server(
    team: StudyTeam,
    visit_id: str,
    upload_offset: str | None,
    content_length: str | None,
    tus_resumable: str | None,
    checksum: str | None,
    content_type: str | None,
    body: bytes,
) -> None:
    researcher = team.researcher
    metadata = metadata_header({"visit_id": visit_id, "kind": "photo"})
    created = send(
        researcher, "POST", UPLOADS, {**TUS, "Upload-Length": "1000", "Upload-Metadata": metadata}
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    url = created.headers["Location"]
    if checksum == "valid":
        checksum = "sha256 " + base64.b64encode(hashlib.sha256(body).digest()).decode()
    headers = sent_headers(
        Upload_Offset=upload_offset,
        Content_Length=content_length,
        Tus_Resumable=tus_resumable,
        Upload_Checksum=checksum,
        Content_Type=content_type,
    )
    assert_tus_answer(send(researcher, "PATCH", url, headers, body))
    for method in ("HEAD", "DELETE"):
        version = sent_headers(Tus_Resumable=tus_resumable)
        assert_tus_answer(send(researcher, method, url, version), method)
