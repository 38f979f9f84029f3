#!/usr/bin/env bash
# Re-creates the shipped demo weights models/learnet-synthetic-megc3 from scratch, on a 2-core CPU.
# Usage: bash models/make_demo_weights.sh [WORK_DIR]   (WORK_DIR default: runs/demo-weights; must not hold a
# finished run: the script refuses to overwrite, pass a new folder)
# Steps: domain-randomised synthetic data (20 subjects) -> leak-free LOSO of the recipe (20 folds, two shards of
# one torch thread each, one per core: the card's synthetic figures and the held-out predictions the softmax
# temperature is fitted on) -> the same recipe on all subjects -> calibration, face mode auto -> the real-face
# benchmark (two public-domain photos animated by a motion model independent of the generator, never used in
# training) -> model card -> models/learnet-synthetic-megc3.
# The clips are rendered as aligned crops (with a random alignment error), hence --face-mode none for training;
# the finished config asks for face mode auto, so uploaded videos are aligned to the same template.
# --stabilise removes head motion before rank pooling; signed input puts "no motion" at the padding value.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-runs/demo-weights}
OUT=models/learnet-synthetic-megc3
DATA="$WORK/data/synth/manifest.csv"
RECIPE=(--face-mode none --input-scaling signed --stabilise --flip --blur 0.8 --epochs 32 --threads 1
        --cache-dir "$WORK/cache" --out "$WORK/runs/synth")
START=$(date +%s)

python -m learnet synth --out "$WORK/data/synth" --subjects 20 --clips-per-class 20 --seed 0 --workers 2 \
  --vary --frames 24 96 --peak 0.5 3.5
python -m learnet train --manifest "$DATA" "${RECIPE[@]}" --folds 1/2 &
python -m learnet train --manifest "$DATA" "${RECIPE[@]}" --folds 2/2
wait
python -m learnet report "$WORK/runs/synth"
python -m learnet train --manifest "$DATA" "${RECIPE[@]}" --all-subjects
python models/finalize_demo_card.py calibrate "$WORK/runs/synth/model" "$WORK/runs/synth" "$WORK/final"
python bench/bench_realface.py --model "$WORK/final" --work "$WORK/realface" --json "$WORK/realface.json"
MINUTES=$(( ($(date +%s) - START) / 60 ))
python models/finalize_demo_card.py card "$WORK/final" "$WORK/realface.json" --minutes "$MINUTES"
rm -rf "$OUT.new" && cp -r "$WORK/final" "$OUT.new" && rm -rf "$OUT" && mv "$OUT.new" "$OUT"
echo "wrote $OUT in $MINUTES min"
