#!/usr/bin/env bash
# Set up .venv (scripts/setup.sh) and run the whole test suite offline.
# Tests that need the real competition files read ../shared/data/shopee and skip only when it is absent;
# the browser check of the HTML report needs a chromium binary (Debian: apt-get install -y chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 NO_ALBUMENTATIONS_UPDATE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -q "$@"
