#!/usr/bin/env bash
# Re-creates the shipped demo weights models/learnet-synthetic-megc3 from scratch, on CPU.
# Usage: bash models/make_demo_weights.sh [WORK_DIR]   (WORK_DIR default: runs/demo-weights)
# Steps: synthetic data (20 subjects, 600 clips) -> leak-free LOSO with the recipe (20 folds, the card's
# figures) -> the same recipe on all subjects -> held-out real-photo check and model card -> models/.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-runs/demo-weights}
RECIPE=(--face-mode auto --epochs 30 --threads 2 --cache-dir "$WORK/cache")

python -m learnet synth --out "$WORK/data/synth" --subjects 20 --clips-per-class 10 --seed 0 --workers 2
python -m learnet train --manifest "$WORK/data/synth/manifest.csv" "${RECIPE[@]}" --out "$WORK/runs/synth"
python -m learnet train --manifest "$WORK/data/synth/manifest.csv" "${RECIPE[@]}" --out "$WORK/runs/synth" --all-subjects
# Clips animated from matplotlib's grace_hopper.jpg, a real photo never used in training.
python -m learnet synth --out "$WORK/data/photo" --subjects 0 --photo grace_hopper --clips-per-class 10 --seed 99 --workers 2
python models/finalize_demo_card.py "$WORK/runs/synth/model" "$WORK/data/photo/manifest.csv" models/learnet-synthetic-megc3
