#!/usr/bin/env bash
# One-time set-up on a fresh Debian/Ubuntu machine: system tools (apt-get, only when missing),
# a .venv, and the package with its test extras. Safe to run again.
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
# torch==2.11.0 comes from PyPI (a CUDA build that also runs on CPU); torchaudio needs exactly it.
.venv/bin/pip install -q -e ".[test]"
echo "set-up done: .venv ready"
