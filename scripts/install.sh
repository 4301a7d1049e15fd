#!/usr/bin/env bash
# Install xlrobust into ./.venv (Python 3.11), offline-capable after this step.
# torch is pinned to the CPU wheel this machine has on disk; on a GPU cluster
# install the CUDA torch of your driver into the venv first, then run this.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt -c requirements.lock
.venv/bin/python -m pip install -q --no-deps -e .
# The report's browser test drives Debian's chromium through chromedriver.
if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "note: install Debian's chromium and chromium-driver for the report's browser test" >&2
  fi
fi
echo "xlrobust installed in .venv ($(.venv/bin/xlrobust --help >/dev/null && echo ok))"
