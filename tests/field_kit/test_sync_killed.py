"""A sync killed with SIGKILL in the middle of a resumable upload resumes mid-file.

``fieldkit sync`` runs as its own process with a capped upload rate; once the server holds
part of the recording (asked with a tus HEAD, at the upload URL the outbox kept), the
process is killed. The next sync must continue from the server's offset, send only the
rest, and end with exactly one stored item whose sha256 is the file's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from field_kit.outbox import Action, State
from field_kit.uploads import file_sha256
from tests.field_kit.conftest import Kit, Team, wav_bytes

pytestmark = pytest.mark.usefixtures("evidence_api")

CHUNK = 64 * 1024


def _server_offset(upload_url: str, token: str) -> int:
    response = requests.head(
        upload_url,
        headers={"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code in (200, 204), response.status_code
    return int(response.headers["Upload-Offset"])


def _upload_url(kit: Kit, seq: int) -> str | None:
    with kit.outbox() as outbox:
        return outbox.item(seq).upload_url


def test_sync_killed_mid_upload_resumes_and_stores_once(
    signed_in: Kit, team: Team, tmp_path: Path
) -> None:
    recording = tmp_path / "2026-11-21_14-03-22.wav"
    recording.write_bytes(wav_bytes(150, rate=8000, seed=7))  # ~2.4 MB
    size = recording.stat().st_size
    signed_in.ok("visit", "start", "--study", team.study_id, "--channel", "phone")
    signed_in.ok("add", "audio", str(recording))
    with signed_in.outbox() as outbox:
        (item,) = [i for i in outbox.items() if i.action == Action.file]
    token = json.loads((signed_in.home / "config.json").read_text())["token"]
    # ~4 s for the whole file: room to stop it part-way
    args = signed_in.subprocess_args(
        "sync", "--resumable-above", "1MiB", "--chunk-size", str(CHUNK), "--max-rate", "600KiB"
    )
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    ) as first:
        deadline = time.monotonic() + 30
        offset = 0
        while time.monotonic() < deadline and first.poll() is None:
            url = _upload_url(signed_in, item.seq)
            if url:
                offset = _server_offset(url, token)
                if offset >= size // 4:
                    break
            time.sleep(0.05)
        assert first.poll() is None, "the sync ended before it could be killed"
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    time.sleep(1.0)  # let the server finish with the request the kill cut short

    upload_url = _upload_url(signed_in, item.seq)
    assert upload_url is not None, "the upload URL was not kept in the outbox"
    held = _server_offset(upload_url, token)
    assert 0 < held < size
    with signed_in.outbox() as outbox:
        killed = outbox.item(item.seq)
    assert killed.state == State.pending
    assert killed.attempts == 1

    second = subprocess.run(
        signed_in.subprocess_args("sync", "--resumable-above", "1MiB", "--chunk-size", str(CHUNK)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert second.returncode == 0, second.stdout + second.stderr

    with signed_in.outbox() as outbox:
        done = outbox.item(item.seq)
        visit = outbox.visit(done.visit_handle)
    assert done.state == State.sent
    assert done.attempts == 2
    assert done.method == "tus"
    assert done.resumed_from == held  # continued from the server's offset...
    assert done.bytes_sent == size - held  # ...and sent only the rest
    assert done.upload_url is None

    researcher = team.researcher()
    stored = researcher.visit_evidence(str(visit.server_id))
    assert [e.id for e in stored] == [done.server_id]
    assert stored[0].sha256 == file_sha256(recording)
    assert stored[0].size == size
    # the finished upload is not offered again
    gone = requests.head(
        upload_url,
        headers={"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert gone.status_code in (404, 410) or int(gone.headers["Upload-Offset"]) == size
