#!/usr/bin/env bash
# Set everything up and start Fieldbook on the embedded default: a SQLite database,
# media in a local folder and job threads inside the server, all under
# FIELDBOOK_DATA_DIR (default: ./instance), at http://127.0.0.1:5000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export FIELDBOOK_DATA_DIR="${FIELDBOOK_DATA_DIR:-$PWD/instance}"
# the bundled tiny model keeps a first run offline; set a larger one for real calls
if [ -z "${FIELDBOOK_WHISPER_MODEL:-}" ] && [ -d ../shared/models/faster-whisper-tiny.en ]; then
  export FIELDBOOK_WHISPER_MODEL="$(cd ../shared/models && pwd)/faster-whisper-tiny.en"
fi
# links the set-up prints (the demo's share link) point at the address served below
export FIELDBOOK_PUBLIC_URL="${FIELDBOOK_PUBLIC_URL:-http://${FIELDBOOK_HOST:-127.0.0.1}:${FIELDBOOK_PORT:-5000}}"
.venv/bin/fieldbook init
# a sample study on an empty install, so there is something to look at
.venv/bin/fieldbook demo --if-empty
exec .venv/bin/fieldbook serve --host "${FIELDBOOK_HOST:-127.0.0.1}" --port "${FIELDBOOK_PORT:-5000}"
