#!/usr/bin/env bash
# Set up everything Fieldbook needs on a fresh Debian/Ubuntu machine: system packages,
# a virtual environment with the project and its development tools. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

# valgrind is for the journal benchmark's instruction counts (bench/journal_bench.py)
APT_PACKAGES=(chromium ffmpeg libvips-tools poppler-utils sox espeak-ng fonts-dejavu-core
              libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b valgrind)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "==> installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PYTHON="$candidate"; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "Fieldbook needs Python 3.11 or newer" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
echo "==> installing Fieldbook and its tools into .venv"
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned to the CPU build this machine's wheel cache holds, so that the
# reference engine (openai-whisper) does not pull a newer CUDA build
.venv/bin/python -m pip install -q "torch==${FIELDBOOK_TORCH_VERSION:-2.13.0}"
.venv/bin/python -m pip install -q -e ".[dev,reference]"
