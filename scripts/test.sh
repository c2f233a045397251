#!/usr/bin/env bash
# Set everything up and run the whole test suite (extra arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export FIELDBOOK_WHISPER_MODEL="${FIELDBOOK_WHISPER_MODEL:-$(cd ../shared/models 2>/dev/null && pwd)/faster-whisper-tiny.en}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
.venv/bin/ruff check server field_kit transcription reports tests bench
.venv/bin/ruff format --check server field_kit transcription reports tests bench
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
