"""The outbox and ``fieldkit sync`` against a real Fieldbook server.

Visits, notes and files are queued offline, sent in order, confirmed by the server
before they are marked sent, and never sent twice.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from field_kit.client import FieldbookClient
from field_kit.errors import AuthError, ConflictError, FieldbookError
from field_kit.outbox import Action, State
from field_kit.uploads import file_sha256
from tests.field_kit.conftest import Kit, Team, png_bytes, wav_bytes
from tests.services import free_port


def _visits_with_uuid(client: FieldbookClient, study_id: str, client_uuid: str) -> list[str]:
    return [v.id for v in client.visits(study_id) if v.client_uuid == client_uuid]


def test_wrong_password_exits_4_and_saves_nothing(kit: Kit, team: Team) -> None:
    wrong = kit(
        "login",
        "--server",
        team.server.base_url,
        "--email",
        team.researcher_email,
        "--password",
        "not the password",
    )
    assert wrong.exit_code == 4, wrong.output
    assert not (kit.home / "config.json").exists()
    # a command that needs the server says how to sign in
    unsigned = kit("studies")
    assert unsigned.exit_code == 4
    assert "fieldkit login" in unsigned.output


def test_visit_created_finished_and_submitted_once(signed_in: Kit, team: Team) -> None:
    started = signed_in.ok(
        "visit", "start", "--study", team.study_id, "--channel", "in_person", "--title", "High St"
    )
    with signed_in.outbox() as outbox:
        visit = outbox.current_visit()
        assert visit is not None
        assert visit.handle in started.output
        assert visit.server_id is None  # queued, not sent
    signed_in.ok("visit", "finish", "--ended-at", "2099-01-01T10:30:00+01:00")

    first = signed_in("sync")
    assert first.exit_code == 0, first.output
    with signed_in.outbox() as outbox:
        local = outbox.visit(visit.handle)
        items = outbox.items(visit_handle=visit.handle)
    assert [i.action for i in items] == [
        Action.create_visit,
        Action.update_visit,
        Action.submit_visit,
    ]
    assert all(i.state == State.sent and i.attempts == 1 for i in items)
    researcher = team.researcher()
    on_server = researcher.visit(str(local.server_id))
    assert on_server.client_uuid == visit.client_uuid
    assert on_server.status == "submitted"
    assert on_server.title == "High St"
    assert on_server.ended_at is not None
    assert on_server.ended_at.isoformat() == "2099-01-01T09:30:00+00:00"

    # nothing is sent again
    again = signed_in("sync")
    assert again.exit_code == 0
    assert "Sent 0" in again.output
    assert _visits_with_uuid(researcher, team.study_id, visit.client_uuid) == [local.server_id]


def test_visit_sent_before_a_crash_is_not_duplicated(signed_in: Kit, team: Team) -> None:
    """The server stored the visit but the sync died before marking it sent: resending is safe."""
    signed_in.ok("visit", "start", "--study", team.study_id, "--channel", "phone")
    researcher = team.researcher()
    with signed_in.outbox() as outbox:
        visit = outbox.current_visit()
        assert visit is not None
        (item,) = outbox.items(visit_handle=visit.handle)
        # what the killed sync got through to the server, with the very same body
        first = researcher.create_visit(team.study_id, item.payload)  # type: ignore[arg-type]
    signed_in.ok("sync")
    with signed_in.outbox() as outbox:
        assert outbox.visit(visit.handle).server_id == first.id
        assert outbox.item(item.seq).state == State.sent
    assert _visits_with_uuid(researcher, team.study_id, visit.client_uuid) == [first.id]

    # the same client UUID with other content is refused and the original kept
    changed = dict(item.payload, title="something else")
    with pytest.raises(ConflictError) as refused:
        researcher.create_visit(team.study_id, changed)  # type: ignore[arg-type]
    assert refused.value.code == "idempotency.conflict"
    assert researcher.visit(first.id).title == ""


def test_offline_sync_keeps_everything_and_exits_5(kit: Kit, team: Team, tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    (kit.home).mkdir(parents=True)
    (kit.home / "config.json").write_text(json.dumps({"server": nowhere, "token": "fb_x"}))
    kit.ok("visit", "start", "--study", team.study_id, "--channel", "in_person")
    kit.ok("add", "note", "The queue was long.")

    result = kit("sync", "--retries", "1")
    assert result.exit_code == 5, result.output
    with kit.outbox() as outbox:
        items = outbox.items()
    assert [i.state for i in items] == [State.pending, State.pending]
    assert items[0].attempts == 1 and items[0].error_code == "network.unreachable"
    assert items[1].attempts == 0  # never tried: its visit had not reached the server
    status = kit.ok("status")
    assert "will retry" in status.output


def test_revoked_token_stops_sync_with_exit_4(signed_in: Kit, team: Team) -> None:
    signed_in.ok("visit", "start", "--study", team.study_id, "--channel", "web")
    config = json.loads((signed_in.home / "config.json").read_text())
    client = FieldbookClient(team.server.base_url, config["token"])
    token_id = next(
        t["id"] for t in client.request("GET", "/tokens").json() if t["device_name"] == "test phone"
    )
    client.request("DELETE", f"/tokens/{token_id}")
    with pytest.raises(AuthError):
        client.me()

    result = signed_in("sync")
    assert result.exit_code == 4, result.output
    assert "fieldkit login" in result.output
    with signed_in.outbox() as outbox:
        (item,) = outbox.items()
    assert item.state == State.pending  # kept for after signing in again


def test_file_changed_after_queueing_is_reported_not_sent(
    signed_in: Kit, team: Team, tmp_path: Path
) -> None:
    photo = tmp_path / "shelf.png"
    photo.write_bytes(png_bytes(seed=1))
    signed_in.ok("visit", "start", "--study", team.study_id, "--channel", "in_person")
    signed_in.ok("add", "photo", str(photo))
    photo.write_bytes(png_bytes(seed=2))  # edited after it was queued

    result = signed_in("sync")
    assert result.exit_code == 3, result.output
    with signed_in.outbox() as outbox:
        item = next(i for i in outbox.items() if i.action == Action.file)
    assert item.state == State.failed
    assert item.error_code == "file.changed"
    assert "changed on disk" in str(item.error)
    status = signed_in.ok("status")
    assert "refused" in status.output and "shelf.png" in status.output

    # trying again does not send the changed bytes either
    retried = signed_in("sync", "--retry-failed")
    assert retried.exit_code == 3
    with signed_in.outbox() as outbox:
        assert outbox.item(item.seq).state == State.failed


def test_same_file_is_queued_once_per_visit(signed_in: Kit, team: Team, tmp_path: Path) -> None:
    photo = tmp_path / "door.png"
    photo.write_bytes(png_bytes(seed=3))
    signed_in.ok("visit", "start", "--study", team.study_id, "--channel", "in_person")
    signed_in.ok("add", "photo", str(photo))
    twice = signed_in.ok("add", "photo", str(photo))
    assert "already queued" in twice.output
    with signed_in.outbox() as outbox:
        assert sum(1 for i in outbox.items() if i.action == Action.file) == 1


@pytest.mark.usefixtures("evidence_api")
def test_visit_with_note_synced_from_outbox(signed_in: Kit, team: Team) -> None:
    signed_in.ok("visit", "start", "--study", team.study_id, "--channel", "in_person")
    signed_in.ok("add", "note", "Nobody greeted me for **four** minutes.")
    signed_in.ok("visit", "finish")
    result = signed_in("sync")
    assert result.exit_code == 0, result.output

    with signed_in.outbox() as outbox:
        visit = outbox.visits()[0]
        note = next(i for i in outbox.items() if i.action == Action.note)
    researcher = team.researcher()
    (item,) = researcher.visit_evidence(str(visit.server_id))
    assert item.id == note.server_id
    assert item.kind == "note"
    assert item.client_uuid == note.client_uuid
    assert item.raw["text"] == "Nobody greeted me for **four** minutes."
    assert researcher.visit(str(visit.server_id)).status == "submitted"


@pytest.mark.usefixtures("evidence_api")
def test_visit_with_files_synced_each_stored_once(
    signed_in: Kit, team: Team, tmp_path: Path
) -> None:
    photo = tmp_path / "counter.png"
    photo.write_bytes(png_bytes(seed=4))
    call = tmp_path / "call.wav"
    call.write_bytes(wav_bytes(90, seed=4))  # ~1.4 MB: resumable above 1 MiB
    signed_in.ok("visit", "start", "--study", team.study_id, "--channel", "phone")
    signed_in.ok("add", "photo", str(photo), "--lat", "51.5", "--lon", "-0.12")
    signed_in.ok("add", "audio", str(call))
    signed_in.ok("add", "note", "Put on hold twice.")

    result = signed_in("sync", "--resumable-above", "1MiB", "--chunk-size", "256KiB")
    assert result.exit_code == 0, result.output

    with signed_in.outbox() as outbox:
        visit = outbox.visits()[0]
        files = {Path(str(i.path)).name: i for i in outbox.items() if i.action == Action.file}
    assert files["counter.png"].method == "multipart"
    assert files["call.wav"].method == "tus"
    assert files["call.wav"].resumed_from == 0
    researcher = team.researcher()
    stored = researcher.visit_evidence(str(visit.server_id))
    assert sorted(e.kind for e in stored) == ["audio", "note", "photo"]
    by_uuid = {e.client_uuid: e for e in stored}
    for name, path in (("counter.png", photo), ("call.wav", call)):
        item = files[name]
        evidence = by_uuid[item.client_uuid]
        assert evidence.id == item.server_id
        assert evidence.sha256 == file_sha256(path) == item.sha256
        assert evidence.size == path.stat().st_size
    assert by_uuid[files["counter.png"].client_uuid].raw["latitude"] == 51.5

    # sending a file again with the same client UUID answers the stored item
    again = researcher.upload_evidence(
        str(visit.server_id), photo, "photo", str(files["counter.png"].client_uuid)
    )
    assert again.evidence.id == files["counter.png"].server_id
    assert len(researcher.visit_evidence(str(visit.server_id))) == 3

    signed_in.ok("visit", "finish")
    signed_in.ok("sync")
    assert researcher.visit(str(visit.server_id)).status == "submitted"


@pytest.mark.usefixtures("evidence_api")
def test_upload_to_submitted_visit_is_refused_and_kept(
    signed_in: Kit, team: Team, tmp_path: Path
) -> None:
    signed_in.ok("visit", "start", "--study", team.study_id, "--channel", "in_person")
    signed_in.ok("visit", "finish")
    signed_in.ok("sync")
    photo = tmp_path / "late.png"
    photo.write_bytes(png_bytes(seed=5))
    with signed_in.outbox() as outbox:
        handle = outbox.visits()[0].handle
    added = signed_in.ok("add", "photo", str(photo), "--visit", handle)
    assert "already submitted" in added.output
    result = signed_in("sync")
    assert result.exit_code == 3
    with signed_in.outbox() as outbox:
        item = next(i for i in outbox.items() if i.action == Action.file)
    assert item.state == State.failed
    assert item.error_code == "visit.not_editable"


@pytest.mark.usefixtures("evidence_api")
def test_client_maps_validation_errors(team: Team, tmp_path: Path) -> None:
    researcher = team.researcher()
    visit = researcher.create_visit(
        team.study_id, {"client_uuid": str(uuid.uuid4()), "channel": "web"}
    )
    with pytest.raises(FieldbookError) as refused:
        researcher.add_note(visit.id, "   ", str(uuid.uuid4()))
    assert refused.value.status == 422
    assert "text" in refused.value.errors


def test_assignment_listed_and_used_to_start_a_visit(signed_in: Kit, team: Team) -> None:
    assignment = team.admin.request(
        "POST",
        f"/studies/{team.study_id}/assignments",
        json_body={
            "researcher_id": team.researcher_id,
            "channel": "phone",
            "scenario": "Ask how to return a kettle bought online.\nBe polite.",
            "window_start": "2026-11-01T09:00:00+00:00",
            "window_end": "2026-11-30T17:00:00+00:00",
        },
    ).json()
    listed = signed_in.ok("assignments", "--study", team.study_id)
    assert assignment["id"] in listed.output
    assert "Ask how to return a kettle" in listed.output

    # remembered: starting the visit needs no network, and takes study and channel from it
    signed_in.ok("visit", "start", "--assignment", assignment["id"], "--title", "Help line")
    with signed_in.outbox() as outbox:
        visit = outbox.current_visit()
    assert visit is not None
    assert (visit.study_id, visit.channel) == (team.study_id, "phone")
    signed_in.ok("sync")
    with signed_in.outbox() as outbox:
        server_id = outbox.visit(visit.handle).server_id
    on_server = team.researcher().visit(str(server_id))
    assert on_server.raw["assignment_id"] == assignment["id"]
