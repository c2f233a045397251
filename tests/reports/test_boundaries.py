"""The reports package stands alone: no Flask, no database, no server, no transcription."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_importing_reports_loads_no_server_transcription_flask_or_database_code() -> None:
    probe = (
        "import sys, reports, reports.pdf\n"
        "banned = ('server', 'transcription', 'flask', 'sqlalchemy', 'field_kit')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in banned))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )

    assert done.stdout.strip() == "[]"


def test_importing_reports_does_not_load_weasyprint_until_pdf_is_asked_for() -> None:
    probe = "import sys, reports\nprint('weasyprint' in sys.modules)\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )

    assert done.stdout.strip() == "False"
