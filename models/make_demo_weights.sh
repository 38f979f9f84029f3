#!/usr/bin/env bash
# Re-creates the shipped demo weights models/learnet-synthetic-megc3 from scratch, on a 2-core CPU.
# Usage: bash models/make_demo_weights.sh [WORK_DIR]   (WORK_DIR default: runs/demo-weights)
# Steps: synthetic data (20 subjects, 600 clips) -> leak-free LOSO of the recipe (20 folds, two shards of
# one torch thread each, one per core: the card's figures) -> the same recipe on all subjects -> a check on
# clips animated from a real photo never used in training -> model card -> models/learnet-synthetic-megc3.
# The clips are rendered already aligned to the face template, hence --face-mode none for training; the
# card's model asks for face mode auto, so that uploaded videos are aligned to the same template.
# Signed input scaling (no motion = 0 = the convolutions' zero padding): with min-max input the Grad-CAM of
# AL1/AL3 put about 40% of its mass on an 8 px band along the image border (see README, "Explaining").
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-runs/demo-weights}
DATA="$WORK/data/synth/manifest.csv"
RECIPE=(--face-mode none --input-scaling signed --epochs 30 --threads 1 --cache-dir "$WORK/cache" --out "$WORK/runs/synth")

python -m learnet synth --out "$WORK/data/synth" --subjects 20 --clips-per-class 10 --seed 0 --workers 2
python -m learnet train --manifest "$DATA" "${RECIPE[@]}" --folds 1/2 &
python -m learnet train --manifest "$DATA" "${RECIPE[@]}" --folds 2/2
wait
python -m learnet report "$WORK/runs/synth"
python -m learnet train --manifest "$DATA" "${RECIPE[@]}" --all-subjects
# Clips animated from matplotlib's grace_hopper.jpg, a real photo never used in training.
python -m learnet synth --out "$WORK/data/photo" --subjects 0 --photo grace_hopper --clips-per-class 10 --seed 99 --workers 2
python models/finalize_demo_card.py "$WORK/runs/synth/model" "$WORK/data/photo/manifest.csv" models/learnet-synthetic-megc3
