#!/usr/bin/env bash
# Leave-one-subject-out on a SLURM cluster: one array task per shard of the folds, then one merge.
#
#   MANIFEST=data/mine/manifest.csv OUT=runs/mine sbatch --array=1-8 docs/slurm_loso.sh
#   sbatch --dependency=afterany:<array job id> --wrap "python -m learnet report runs/mine"
#
# Pre-emption and time limits are harmless: every finished fold is written atomically
# (predictions/seed<S>/<fold>.csv), a rerun of the same task skips the finished folds and starts the
# interrupted one again from scratch (each fold's seed depends on the fold alone, so the result is the one an
# uninterrupted run gives).  `--requeue` asks SLURM to run a pre-empted task again by itself; otherwise
# resubmit the same array.  `learnet report` refuses to score until every fold of every shard is there
# (`--allow-incomplete` to look early).
#
# Put OUT and LEARNET_CACHE on storage every node sees: the dynamic images are computed once into the cache
# (atomic writes, so tasks that start together at worst compute the same image twice) and read by all tasks.
#
# Environment: MANIFEST (required), OUT (default runs/loso), SHARDS (default: the array's task count),
# LEARNET_TRAIN_ARGS (more `learnet train` options, e.g. "--face-mode none --label-map megc2019_3c --seeds 0,1,2"),
# PYTHON (default python).  Add `#SBATCH --gres=gpu:1` (and drop --threads) to train on one GPU per task;
# `--device auto` then finds it and trains with mixed precision (`--no-amp` for float32).
#
#SBATCH --job-name=learnet-loso
#SBATCH --array=1-8
#SBATCH --cpus-per-task=2
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=learnet-loso-%A_%a.log
set -euo pipefail

: "${MANIFEST:?set MANIFEST to the manifest CSV (see README: Train on your own data)}"
OUT="${OUT:-runs/loso}"
TASK="${SLURM_ARRAY_TASK_ID:-1}"
SHARDS="${SHARDS:-${SLURM_ARRAY_TASK_COUNT:-1}}"
THREADS="${SLURM_CPUS_PER_TASK:-1}"

# shellcheck disable=SC2086  # LEARNET_TRAIN_ARGS is a list of options, split on purpose
exec "${PYTHON:-python}" -m learnet train --manifest "$MANIFEST" --out "$OUT" \
    --folds "${TASK}/${SHARDS}" --threads "$THREADS" --device "${LEARNET_DEVICE:-auto}" \
    ${LEARNET_TRAIN_ARGS:-}
