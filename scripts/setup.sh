#!/usr/bin/env bash
# One-time set-up on a fresh Debian/Ubuntu machine: system tools (apt-get, only when missing),
# a .venv with the locked dependencies (requirements.lock), and the package. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pair in ffmpeg:ffmpeg espeak-ng:espeak-ng sox:sox chromium:chromium shellcheck:shellcheck; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
# PostgreSQL server binaries (initdb, pg_ctl) for the instance test; Debian keeps them off PATH.
command -v pg_ctl >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" libsndfile1 >/dev/null
fi

PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 required"'
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# The exact, hashed versions the team tests (requirements.lock, `make lock`; torch==2.11.0 is PyPI's CUDA build,
# which also runs on CPU), then the project itself, editable, without re-resolving its dependencies.
.venv/bin/pip install -q --require-hashes -r requirements.lock
.venv/bin/pip install -q --no-deps -e .
echo "set-up done: .venv ready"
