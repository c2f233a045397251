#!/usr/bin/env bash
# Start Fieldbook's scale profile on this machine (PostgreSQL, moto S3, Redis, gunicorn
# with 2 web workers, 2 job workers); Ctrl-C stops it and removes what it made.
#   scripts/scale-stack.sh [--profile scale|embedded] [--port N] [--redis-db N]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then
    # shellcheck disable=SC1091
    . .venv/bin/activate
fi
exec python -m bench.scale_stack "$@"
