"""The field kit talks to the server over HTTP only: it imports none of the server's code."""

from __future__ import annotations

import subprocess
import sys

MODULES = ["cli", "client", "outbox", "sync", "uploads", "webvisit", "webscript", "calls"]


def test_field_kit_imports_no_server_code() -> None:
    probe = (
        "import sys\n"
        + "".join(f"import field_kit.{name}\n" for name in MODULES)
        + "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'server', 'transcription', 'reports', 'flask', 'sqlalchemy'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
