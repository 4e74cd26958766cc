#!/usr/bin/env bash
# The project's linter: ruff (pyflakes, pycodestyle, import order, bugbear, pyupgrade; pyproject.toml [tool.ruff])
# over the package, tests, benchmarks and scripts. Installs the pinned ruff into .venv (scripts/setup.sh first).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || ./scripts/setup.sh
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
exec .venv/bin/ruff check src tests bench scripts ./*.py "$@"
