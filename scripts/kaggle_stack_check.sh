#!/usr/bin/env bash
# The Kaggle-stack rehearsal: the kernel's weight-free path on (a mirror of) what Kaggle's image gives it.
#
#   .venv-kaggle   Python 3.12 + requirements-kaggle.txt: Kaggle's versions of numpy, pandas, scipy,
#                  scikit-learn, lightgbm, ...; no faiss, no sparse_dot_topn, no torch (see README, "Kaggle's stack")
#   build          `prodmatch kernel build --recipe text-phash`, thresholds (pair model included) tuned by CV on the
#                  real train.csv with that stack; the wheel is installed with --no-deps, as the kernel does
#   rehearse       the real 3-row test.csv, then a 20,000-posting test set of perturbed train rows, each offline in
#                  a fresh environment over .venv-kaggle's packages
# Prints each step's seconds and `kaggle stack: ok` last. DATA (default ../shared/data/shopee) is the Kaggle-layout
# folder; PYTHON312 the interpreter (default: pyenv's 3.12.1, else python3.12).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA=${DATA:-../shared/data/shopee}
VENV=.venv-kaggle
SCALE_ROWS=${SCALE_ROWS:-20000}
started=$(date +%s)
step() { echo "[kaggle-stack $(($(date +%s) - started))s] $*"; }
# pip, quiet, without this machine's notes about its pip.conf's absent local indexes; pip's exit status is kept
pipq() { "$PY" -m pip --quiet --disable-pip-version-check "$@" 2>&1 | { grep -v "is ignored: it is neither" || true; }; }

if [ ! -f "$DATA/train.csv" ] || [ ! -f "$DATA/test.csv" ]; then
  echo "error: $DATA has no train.csv and test.csv (the real Shopee files); set DATA=DIR" >&2
  exit 2
fi
DATA=$(cd "$DATA" && pwd)
if [ ! -x "$VENV/bin/python" ]; then
  if [ -n "${PYTHON312:-}" ]; then
    "$PYTHON312" -m venv "$VENV"
  elif command -v pyenv >/dev/null 2>&1 && pyenv prefix 3.12.1 >/dev/null 2>&1; then
    PYENV_VERSION=3.12.1 python -m venv "$VENV"
  else
    python3.12 -m venv "$VENV"
  fi
fi
PY="$ROOT/$VENV/bin/python"
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 12), sys.version' \
  || { echo "error: $VENV is not Python 3.12 (Kaggle's); remove it and rerun" >&2; exit 1; }
# pip 24.1.2 is the image's own: the kernel installs prodmatch's wheel with it
pipq install pip==24.1.2
pipq install -r requirements-kaggle.txt
"$PY" - <<'EOF'
import importlib.util, sys
present = [m for m in ("faiss", "sparse_dot_topn", "torch", "timm", "transformers") if importlib.util.find_spec(m)]
if present:
    sys.exit(f"error: .venv-kaggle has {present}; the mirror must not (rebuild it: rm -r .venv-kaggle)")
EOF
step ".venv-kaggle ready ($("$PY" -V 2>&1); no faiss, sparse_dot_topn or torch)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kaggle-stack-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# the build runs from the source tree on the Kaggle stack: the CV that tunes the thresholds runs on it too
PYTHONPATH="$ROOT/src" "$PY" -m prodmatch kernel build --out "$WORK/build" --recipe text-phash \
  --tune-data-dir "$DATA" --weights "$WORK/no-weights" --kaggle-user kaggle-stack-check > "$WORK/build.log"
grep -E "^(pair model|built|union\+min2)" "$WORK/build.log" || true
step "kernel built, thresholds tuned on $DATA/train.csv"
pipq install --no-index --no-deps --force-reinstall "$WORK"/build/dataset/prodmatch-*.whl

cd "$WORK"  # from here prodmatch is the installed wheel, not the source tree
"$PY" -m prodmatch kernel rehearse --build "$WORK/build" --data-dir "$DATA" --quiet --report "$WORK/test3.json"
step "rehearsal on the real 3-row test.csv passed"
"$PY" -m prodmatch kernel rehearse --build "$WORK/build" --data-dir "$DATA" --scale "$SCALE_ROWS" --quiet \
  --report "$WORK/scale.json"
step "rehearsal on $SCALE_ROWS postings passed"
"$PY" - "$WORK/test3.json" "$WORK/scale.json" <<'EOF'
import sys

from prodmatch.artifacts.rehearsal import read_rehearsal_report

for path in sys.argv[1:]:
    report = read_rehearsal_report(path)
    stages = [row.stage for row in report.stages]
    assert "/python3.12/" in report.prodmatch_file, report.prodmatch_file  # the kernel ran on Python 3.12
    assert "search: pair_model" in stages, stages  # matched by the pair model, not the union
    assert report.network_attempts == 0 and report.within_budgets
print("pair model used in both rehearsals; Python 3.12; no network")
EOF
step "done"
echo "kaggle stack: ok"
