#!/usr/bin/env bash
# Create .venv and install the pinned CPU stack and prodmatch (editable). Safe to rerun.
# PYTHON picks the interpreter (>= 3.10; 3.11 is what the pins are tested with).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# torch/torchvision are pinned as a pair in requirements.txt: CPU torch, no multi-GB CUDA downloads.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
