"""The demo builds the whole product on a clean database."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from server import create_app, migrate
from server.cli.demo import demo_command
from server.cli.journals import journals_group
from server.extensions import db
from server.models import Evidence, EvidenceStatus, Journal, Transcript, Visit, VisitStatus
from tests.conftest import app_config
from tests.services import SHARED


def test_demo_builds_on_a_clean_database(tmp_path: Path) -> None:
    app: Flask = create_app(app_config(tmp_path, f"sqlite:///{tmp_path / 'demo.db'}"))
    with app.app_context():
        migrate.upgrade()
    runner = app.test_cli_runner()
    call = SHARED / "audio" / "jfk.flac"
    result = runner.invoke(demo_command, ["--call", str(call)])
    assert result.exit_code == 0, result.output
    assert "Published journal, shared read-only:" in result.output
    with app.app_context():
        visits = db.session.scalars(sa.select(Visit)).all()
        assert sorted(v.channel.value for v in visits) == ["in_person", "phone", "web"]
        assert {v.status for v in visits} == {VisitStatus.approved}
        statuses = set(db.session.scalars(sa.select(Evidence.status)))
        assert statuses == {EvidenceStatus.ready}
        transcript = db.session.scalar(sa.select(Transcript))
        assert transcript is not None and "country" in transcript.text.lower()
        journal = db.session.scalar(sa.select(Journal))
        assert journal is not None and journal.published_at is not None
        sealed = tmp_path / "journal.json"
        sealed.write_text(journal.signature or "")
    verified = runner.invoke(journals_group, ["verify", str(sealed)])
    assert verified.exit_code == 0, verified.output
    again = runner.invoke(demo_command, ["--if-empty"])
    assert again.exit_code == 0 and "exists" in again.output
