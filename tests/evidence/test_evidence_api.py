"""Evidence through the API: type by content, stored once, processed, handed out safely."""

from __future__ import annotations

import hashlib
import io
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image

from server import create_app, migrate
from server.extensions import db
from server.models import AuditEvent, Blob, Evidence, Membership, Role, Study, Target
from server.services import accounts
from tests.conftest import Actor, StudyTeam, app_config
from tests.media.media_factories import LATITUDE, phone_exif, photograph

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def small_photo(seed: int = 3, orientation: int = 6, software: str = "iOS 17.4.1") -> bytes:
    """A 640x480 JPEG with the phone EXIF of the fixture camera (GPS in Rotterdam, 2025)."""
    out = io.BytesIO()
    photograph(640, 480, seed=seed).save(
        out,
        "JPEG",
        quality=85,
        exif=phone_exif(orientation=orientation, software=software).tobytes(),
    )
    return out.getvalue()


@pytest.fixture(scope="module")
def call_m4a(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("audio") / "call.m4a"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=3",
            "-c:a",
            "aac",
            str(path),
        ],
        check=True,
    )
    return path.read_bytes()


def start_visit(team: StudyTeam, **fields: Any) -> dict[str, Any]:
    response = team.researcher.post(
        f"/api/v1/studies/{team.study.id}/visits",
        json={"client_uuid": str(uuid.uuid4()), "channel": "in_person", **fields},
    )
    assert response.status_code == 201, response.json
    return dict(response.json)


def send_file(actor: Actor, visit_id: str, data: bytes, name: str, kind: str, **form: Any) -> Any:
    fields = {"kind": kind, "client_uuid": str(uuid.uuid4()), **form}
    fields["file"] = (io.BytesIO(data), name)
    return actor.post(
        f"/api/v1/visits/{visit_id}/evidence", data=fields, content_type="multipart/form-data"
    )


def evidence_count() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Evidence)) or 0)


def test_photo_is_stored_processed_and_served_without_gps(team: StudyTeam) -> None:
    visit = start_visit(team)
    data = small_photo()
    sha = hashlib.sha256(data).hexdigest()
    created = send_file(team.researcher, visit["id"], data, "IMG_0001.JPG", "photo", sha256=sha)
    assert created.status_code == 201, created.json
    assert created.json["sha256"] == sha and created.json["mime"] == "image/jpeg"
    item = team.researcher.get(f"/api/v1/evidence/{created.json['id']}").json
    assert item["status"] == "ready", item
    assert (item["width"], item["height"]) == (480, 640)  # orientation 6: shown upright
    assert item["captured_at"] == "2025-05-14T08:32:07+00:00"
    assert item["latitude"] == pytest.approx(LATITUDE)
    assert item["media_info"]["photo"]["camera_model"] == "FP5"

    original = team.researcher.get(f"/api/v1/evidence/{item['id']}/original")
    assert original.status_code == 200
    assert original.data == data  # bit-identical, GPS and all
    assert original.headers["Content-Disposition"].startswith("attachment")
    assert original.headers["X-Content-Type-Options"] == "nosniff"

    for which in ("display", "thumbnail"):
        copy = team.researcher.get(f"/api/v1/evidence/{item['id']}/{which}")
        assert copy.status_code == 200 and copy.mimetype == "image/jpeg"
        assert copy.headers["Content-Disposition"].startswith("inline")
        image = Image.open(io.BytesIO(copy.data))
        assert not image.getexif().get_ifd(0x8825), f"{which} copy carries GPS"
        assert image.width < image.height
    reads = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "evidence.original.read", AuditEvent.object_id == item["id"]
        )
    ).all()
    assert [e.actor_id for e in reads] == [team.researcher.user.id]


@pytest.mark.parametrize(
    ("name", "data", "kind", "code"),
    [
        (
            "holiday.jpg",
            b"<!doctype html><script>alert(1)</script>",
            "photo",
            "media.type_forbidden",
        ),
        (
            "logo.jpg",
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
            "photo",
            "media.type_forbidden",
        ),
        (
            "call.m4a",
            b"#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n",
            "audio",
            "media.type_forbidden",
        ),
        (
            "call.m4a",
            b"ffconcat version 1.0\nfile '/etc/passwd'\n",
            "audio",
            "media.type_forbidden",
        ),
    ],
)
def test_rel17_disguised_files_are_refused(
    team: StudyTeam, name: str, data: bytes, kind: str, code: str
) -> None:
    visit = start_visit(team)
    response = send_file(team.researcher, visit["id"], data, name, kind)
    assert response.status_code == 415 and response.json["code"] == code
    assert "file" in response.json["errors"]
    assert evidence_count() == 0


def test_rel17_png_named_jpg_is_kept_as_png(team: StudyTeam) -> None:
    visit = start_visit(team)
    out = io.BytesIO()
    photograph(320, 240, seed=5).save(out, "PNG")
    response = send_file(team.researcher, visit["id"], out.getvalue(), "shot.jpg", "screenshot")
    assert response.status_code == 201 and response.json["mime"] == "image/png"
    assert response.json["original_name"] == "shot.jpg"


def test_rel16_zero_byte_file_is_a_clear_4xx(team: StudyTeam) -> None:
    visit = start_visit(team)
    response = send_file(team.researcher, visit["id"], b"", "empty.jpg", "photo")
    assert response.status_code == 422 and response.json["code"] == "media.empty"
    assert evidence_count() == 0


def test_checksum_mismatch_stores_nothing(team: StudyTeam) -> None:
    visit = start_visit(team)
    response = send_file(
        team.researcher, visit["id"], small_photo(), "a.jpg", "photo", sha256="0" * 64
    )
    assert response.status_code == 422 and response.json["code"] == "evidence.checksum_mismatch"
    assert "sha256" in response.json["errors"]
    assert evidence_count() == 0


def test_rel1_same_item_twice_is_one_item(team: StudyTeam) -> None:
    visit = start_visit(team)
    data, client_uuid = small_photo(seed=7), str(uuid.uuid4())
    first = send_file(team.researcher, visit["id"], data, "a.jpg", "photo", client_uuid=client_uuid)
    again = send_file(team.researcher, visit["id"], data, "a.jpg", "photo", client_uuid=client_uuid)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"]
    other = send_file(
        team.researcher, visit["id"], small_photo(seed=8), "a.jpg", "photo", client_uuid=client_uuid
    )
    assert other.status_code == 409 and other.json["code"] == "idempotency.conflict"
    assert evidence_count() == 1


def test_rel5_same_photo_in_two_places_is_stored_once(team: StudyTeam, app: Any) -> None:
    first_visit, second_visit = start_visit(team), start_visit(team)
    data = small_photo(seed=11)
    a = send_file(team.researcher, first_visit["id"], data, "a.jpg", "photo")
    b = send_file(team.researcher, second_visit["id"], data, "b.jpg", "photo")
    assert a.status_code == b.status_code == 201 and a.json["id"] != b.json["id"]
    sha = hashlib.sha256(data).hexdigest()
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(Blob).where(Blob.sha256 == sha))
        == 1
    )
    blob_files = list(Path(app.config["STORAGE_PATH"]).rglob(sha))
    assert len(blob_files) == 1
    # and the reuse is flagged on the second visit's photo
    flags = team.researcher.get(f"/api/v1/evidence/{b.json['id']}").json["trust_flags"]
    assert any(
        f["code"] == "photo.reused" and f["details"]["visit_id"] == first_visit["id"] for f in flags
    )


def test_rel4_metadata_first_files_later_missing_ones_listed(team: StudyTeam) -> None:
    manifest = [
        {"client_uuid": str(uuid.uuid4()), "kind": "photo", "filename": f"IMG_{n}.jpg"}
        for n in range(3)
    ]
    visit = start_visit(team, evidence_manifest=manifest)
    assert visit["missing_evidence"] == [m["client_uuid"] for m in manifest]
    for n, entry in enumerate(manifest[:2]):
        data = small_photo(seed=20 + n)
        response = send_file(
            team.researcher,
            visit["id"],
            data,
            entry["filename"],
            "photo",
            client_uuid=entry["client_uuid"],
        )
        assert response.status_code == 201
    resent = send_file(
        team.researcher,
        visit["id"],
        small_photo(seed=20),
        "IMG_0.jpg",
        "photo",
        client_uuid=manifest[0]["client_uuid"],
    )
    assert resent.status_code == 200
    now = team.researcher.get(f"/api/v1/visits/{visit['id']}").json
    assert now["missing_evidence"] == [manifest[2]["client_uuid"]]
    assert evidence_count() == 2


def test_notes_are_kept_as_written(team: StudyTeam) -> None:
    visit = start_visit(team)
    text = "# Till 3\nThe assistant said **returns take 28 days**. <script>alert(1)</script>\n"
    body = {"client_uuid": str(uuid.uuid4()), "text": text, "captured_at": "2026-11-21T10:05:00Z"}
    url = f"/api/v1/visits/{visit['id']}/notes"
    first = team.researcher.post(url, json=body)
    assert first.status_code == 201 and first.json["kind"] == "note"
    assert first.json["status"] == "ready" and first.json["text"] == text
    assert team.researcher.post(url, json=body).status_code == 200
    download = team.researcher.get(f"/api/v1/evidence/{first.json['id']}/original")
    assert download.data == text.encode()
    assert download.mimetype == "text/plain" and download.headers["Content-Disposition"].startswith(
        "attachment"
    )
    assert team.researcher.post(url, json={"text": "   "}).status_code == 422


def test_who_may_add_and_read_evidence(team: StudyTeam) -> None:
    visit = start_visit(team)
    data = small_photo(seed=30)
    assert send_file(team.researcher2, visit["id"], data, "x.jpg", "photo").status_code == 404
    assert send_file(team.reviewer, visit["id"], data, "x.jpg", "photo").status_code == 404
    item = send_file(team.researcher, visit["id"], data, "x.jpg", "photo").json
    team.researcher.post(f"/api/v1/visits/{visit['id']}/transitions", json={"to": "submitted"})
    late = send_file(team.researcher, visit["id"], small_photo(seed=31), "y.jpg", "photo")
    assert late.status_code == 409 and late.json["code"] == "visit.not_editable"
    assert team.reviewer.get(f"/api/v1/evidence/{item['id']}").status_code == 200
    assert team.reviewer.get(f"/api/v1/evidence/{item['id']}/original").status_code == 200
    for path in ("", "/original", "/display", "/thumbnail"):
        assert team.outsider.get(f"/api/v1/evidence/{item['id']}{path}").status_code == 404
        assert team.researcher2.get(f"/api/v1/evidence/{item['id']}{path}").status_code == 404
    assert team.outsider.get(f"/api/v1/visits/{visit['id']}/evidence").status_code == 404


def test_trust_flags_for_time_place_and_editing(team: StudyTeam) -> None:
    london = Target(
        study_id=team.study.id, kind="store", name="Oxford St", latitude=51.5154, longitude=-0.1410
    )
    db.session.add(london)
    db.session.commit()
    visit = start_visit(
        team,
        target_id=str(london.id),
        started_at="2026-11-21T10:00:00Z",
        ended_at="2026-11-21T10:45:00Z",
    )
    item = send_file(
        team.researcher,
        visit["id"],
        small_photo(seed=40, software="Adobe Photoshop 25.0"),
        "p.jpg",
        "photo",
    ).json
    flags = {
        f["code"] for f in team.researcher.get(f"/api/v1/evidence/{item['id']}").json["trust_flags"]
    }
    # taken in Rotterdam in 2025 with Photoshop, for a London visit in 2026
    assert flags == {"photo.captured_outside_visit", "photo.far_from_target", "photo.edited"}
    honest = send_file(team.researcher, visit["id"], small_photo(seed=41), "q.jpg", "photo").json
    honest_flags = team.researcher.get(f"/api/v1/evidence/{honest['id']}").json["trust_flags"]
    assert "photo.edited" not in {f["code"] for f in honest_flags}


def test_audio_is_probed_and_broken_audio_fails_with_a_reason(
    team: StudyTeam, call_m4a: bytes
) -> None:
    visit = start_visit(team, channel="phone")
    good = send_file(team.researcher, visit["id"], call_m4a, "call.m4a", "audio").json
    ready = team.researcher.get(f"/api/v1/evidence/{good['id']}").json
    assert ready["status"] == "ready" and ready["duration_s"] == pytest.approx(3.0, abs=0.1)
    truncated = call_m4a[: len(call_m4a) // 3]
    broken = send_file(team.researcher, visit["id"], truncated, "cut.m4a", "audio").json
    failed = team.researcher.get(f"/api/v1/evidence/{broken['id']}").json
    assert failed["status"] == "failed"
    assert failed["failure_code"].startswith("audio.") and failed["failure_reason"]


def test_rel28_upload_flood_is_429(tmp_path: Path) -> None:
    app = create_app(
        app_config(tmp_path, f"sqlite:///{tmp_path / 'flood.db'}", UPLOAD_RATE_LIMIT="3 per minute")
    )
    with app.app_context():
        migrate.upgrade()
        user = accounts.create_user("flood@example.test", "flood-password")
        study = Study(name="Flood")
        db.session.add(study)
        db.session.flush()
        db.session.add(Membership(study_id=study.id, user_id=user.id, role=Role.researcher))
        _, token = accounts.issue_token(user, "phone")
        db.session.commit()
        study_id = study.id
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    visit = client.post(
        f"/api/v1/studies/{study_id}/visits", json={"channel": "in_person"}, headers=headers
    ).json
    statuses = []
    for seed in range(5):
        data = {"kind": "photo", "file": (io.BytesIO(small_photo(seed=300 + seed)), "p.jpg")}
        statuses.append(
            client.post(
                f"/api/v1/visits/{visit['id']}/evidence",
                data=data,
                content_type="multipart/form-data",
                headers=headers,
            ).status_code
        )
    assert statuses[:3] == [201, 201, 201] and statuses[3:] == [429, 429]
    # starting resumable uploads counts on its own
    tus = [
        client.post(
            "/api/v1/uploads",
            headers={**headers, "Tus-Resumable": "1.0.0", "Upload-Length": "10"},
        )
        for _ in range(4)
    ]
    assert [r.status_code for r in tus][:3] != [429, 429, 429]
    assert tus[3].status_code == 429 and tus[3].json["code"] == "rate_limited"
