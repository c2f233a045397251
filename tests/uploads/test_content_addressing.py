"""Evidence over HTTP is stored by content: RELIABILITY 5 and the zero-byte case of 16."""

from __future__ import annotations

import io

import pytest
from tusclient.exceptions import TusCommunicationError

from tests.uploads.live_uploads import Researcher, UploadServer
from tests.uploads.recordings import phone_photo, sha256_hex

# RELIABILITY 5 -------------------------------------------------------------------------


def test_rel5_same_photo_as_two_items_is_one_blob_referenced_twice(
    researcher: Researcher, shared_server: UploadServer
) -> None:
    """One photo sent by multipart and again by tus makes two items over one stored blob."""
    photo = phone_photo(seed=5)
    digest = sha256_hex(photo)
    visit = researcher.new_visit()

    first = researcher.send_photo(visit, photo, sha256=digest)
    url = researcher.new_upload(visit, len(photo), kind="photo", sha256=digest, filename="c.jpg")
    second = researcher.patch(url, 0, photo)

    assert first.status_code == 201, first.text
    assert second.status_code == 204, second.text
    ids = {first.json()["id"], second.headers["Fieldbook-Evidence-Id"]}
    items = researcher.evidence(visit)
    assert {item["id"] for item in items} == ids and len(ids) == 2
    assert {item["sha256"] for item in items} == {digest}
    assert [blob.name for blob in shared_server.blob_files() if blob.name == digest] == [digest]
    for item_id in ids:
        original = researcher.api("GET", f"/evidence/{item_id}/original")
        assert original.status_code == 200
        assert original.content == photo


# RELIABILITY 16 ------------------------------------------------------------------------


def test_rel16_zero_byte_file_is_refused_by_both_paths_and_nothing_is_kept(
    researcher: Researcher, shared_server: UploadServer
) -> None:
    """An empty file is a 422 ``media.empty``, never an item nor an upload left waiting."""
    visit = researcher.new_visit()
    spooled = shared_server.spool_files()

    multipart = researcher.send_photo(visit, b"")
    created = researcher.create_upload(visit, 0, kind="photo", filename="empty.jpg")

    for refused in (multipart, created):
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "media.empty"
    assert "Upload-Length" in created.json()["errors"]
    with pytest.raises(TusCommunicationError):
        researcher.uploader(
            io.BytesIO(b""), visit, sha256=sha256_hex(b""), chunk_size=1024
        ).upload()
    assert researcher.evidence(visit) == []
    assert shared_server.spool_files() == spooled
