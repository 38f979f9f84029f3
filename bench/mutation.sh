#!/usr/bin/env bash
# Mutation testing of the science core with mutmut (not part of CI; see docs/mutation.md).
#
#   bash bench/mutation.sh [MODULE...]      e.g.  bash bench/mutation.sh dynamic metrics hub
#
# MODULE is a short name below (default: all of them, one after the other).  Each module runs in its own
# scratch copy of the tree ($MUTATION_DIR/<module>, default /tmp/learnet-mutation), with only the test files
# that exercise it, at the lowest CPU priority and $MUTATION_JOBS workers (default 1: the machine is shared).
# Prints, per module, killed / survived / other counts and the score, then lists every surviving mutant
# (`cd $MUTATION_DIR/<module> && mutmut show NAME` prints its diff).
# MUTATION_RERUN=1 re-tests only the survivors of the previous run of each module against the current tests
# (after adding tests; much faster than a full run; the source must be unchanged since that run).
# Needs: pip install -r requirements-mutation.txt
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${MUTATION_DIR:-/tmp/learnet-mutation}"
JOBS="${MUTATION_JOBS:-1}"

# module -> "file to mutate|test files it needs (space separated)|extra pytest arguments"
declare -A PLAN=(
  [dynamic]="learnet/dynamic.py|tests/test_dynamic.py"
  [metrics]="learnet/metrics.py|tests/test_metrics.py"
  # the network-guard test compares exception classes, and mutmut's import path loads conftest twice
  [hub]="learnet/hub.py|tests/test_hub.py|--deselect=tests/test_hub.py::test_network_guard_is_active"
  [video]="learnet/video.py|tests/test_video.py"
  [datasets_schema]="learnet/datasets/schema.py|tests/test_datasets.py"
  [datasets_rows]="learnet/datasets/rows.py|tests/test_datasets.py"
  [datasets_spreadsheet]="learnet/datasets/spreadsheet.py|tests/test_datasets.py"
  [datasets_labels]="learnet/datasets/labels.py|tests/test_datasets.py"
  [datasets_manifest]="learnet/datasets/manifest.py|tests/test_datasets.py"
  [datasets_casme2]="learnet/datasets/casme2.py|tests/test_datasets.py"
  [datasets_samm]="learnet/datasets/samm.py|tests/test_datasets.py"
  [datasets_smic]="learnet/datasets/smic.py|tests/test_datasets.py"
  [datasets_casme_sq]="learnet/datasets/casme_sq.py|tests/test_datasets.py"
  [datasets_megc2019]="learnet/datasets/megc2019.py|tests/test_datasets.py"
  [train_recipe]="learnet/train/recipe.py|tests/test_train.py tests/test_augment_blur.py"
  [train_loop]="learnet/train/loop.py|tests/test_train.py tests/test_augment_blur.py"
  [train_loso]="learnet/train/loso.py|tests/test_train.py tests/test_augment_blur.py"
  [train_rundir]="learnet/train/rundir.py|tests/test_train.py tests/test_augment_blur.py"
  [train_cache]="learnet/train/cache.py|tests/test_train.py tests/test_augment_blur.py"
  [face]="learnet/face.py|tests/test_face.py"
  [motion]="learnet/motion.py|tests/test_motion.py"
  [stabilise]="learnet/stabilise.py|tests/test_stabilise.py"
  [gradcam]="explain/gradcam.py|tests/test_explain_attribution.py"
  [integrated_gradients]="explain/integrated_gradients.py|tests/test_explain_attribution.py"
  [regions]="explain/regions.py|tests/test_explain_regions.py"
  [faithfulness]="explain/faithfulness.py|tests/test_explain_regions.py tests/test_explain_attribution.py"
)
# A package is mutated one file at a time (mutmut's re-run check and the decorator step work per file).
declare -A PACKAGES=(
  [datasets]="datasets_schema datasets_rows datasets_spreadsheet datasets_labels datasets_manifest datasets_casme2 datasets_samm datasets_smic datasets_casme_sq datasets_megc2019"
  [train]="train_recipe train_loop train_loso train_rundir train_cache"
)
ORDER=(dynamic metrics hub gradcam regions faithfulness integrated_gradients video datasets train face motion stabilise)

if ! command -v mutmut >/dev/null; then
  echo "error: mutmut is not installed (pip install -r requirements-mutation.txt)" >&2
  exit 2
fi
requested=("$@")
[ ${#requested[@]} -eq 0 ] && requested=("${ORDER[@]}")
modules=()
for m in "${requested[@]}"; do
  if [ -n "${PACKAGES[$m]:-}" ]; then read -r -a members <<< "${PACKAGES[$m]}"; modules+=("${members[@]}"); else modules+=("$m"); fi
done
for m in "${modules[@]}"; do
  if [ -z "${PLAN[$m]:-}" ]; then
    echo "error: unknown module '$m'; choose from: ${ORDER[*]} ${!PLAN[*]}" >&2
    exit 2
  fi
done

summary=()
for m in "${modules[@]}"; do
  target="${PLAN[$m]%%|*}"
  rest="${PLAN[$m]#*|}"
  read -r -a tests <<< "${rest%%|*}"
  extra=()
  [[ "$rest" == *"|"* ]] && read -r -a extra <<< "${rest#*|}"
  dir="$WORK/$m"
  if [ "${MUTATION_RERUN:-0}" = 1 ] && [ -f "$dir/results.txt" ]; then
    if ! cmp -s "$ROOT/$target" "$dir/$target"; then
      echo "error: $target changed since the last run of $m; run it in full" >&2
      exit 2
    fi
    mapfile -t names < <(grep ": survived$" "$dir/results.txt" | sed 's/: survived$//; s/^ *//')
    echo "== $m: re-testing ${#names[@]} survivors with the current tests" >&2
    for d in "$dir" "$dir/mutants"; do rm -rf "$d/tests" && cp -r "$ROOT/tests" "$d/tests"; done
    start=$(date +%s)
    if [ ${#names[@]} -gt 0 ]; then
      (cd "$dir" && OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 19 mutmut run --max-children "$JOBS" "${names[@]}" \
        >"$dir/rerun.log" 2>&1) || { echo "mutmut failed for $m; see $dir/rerun.log" >&2; tail -20 "$dir/rerun.log" >&2; continue; }
    fi
  else
  rm -rf "$dir"
  mkdir -p "$dir"
  # A copy, so that mutmut's mutants/ folder and config never touch the working tree others edit.
  (cd "$ROOT" && cp -r learnet explain demo models tests pytest.ini app.py "$dir"/)
  find "$dir" -name __pycache__ -prune -exec rm -rf {} +
  # mutmut 3 leaves decorated functions unmutated; in the copy, a top-level `@register(...)` becomes the same
  # call after the function (`f = register(...)(f)`: the same registry entry), so those functions are mutated.
  python - "$dir/$target" <<'PY'
import ast, sys
path = sys.argv[1]
lines = open(path, encoding="utf-8").read().splitlines(keepends=True)
tree = ast.parse("".join(lines))
for node in reversed(tree.body):
    if not isinstance(node, ast.FunctionDef):
        continue
    for dec in reversed(node.decorator_list):
        if isinstance(dec, ast.Call) and getattr(dec.func, "id", None) == "register":
            call = "".join(lines[dec.lineno - 1 : dec.end_lineno]).strip()[1:]
            lines.insert(node.end_lineno, f"{node.name} = {call}({node.name})\n")
            del lines[dec.lineno - 1 : dec.end_lineno]
open(path, "w", encoding="utf-8").write("".join(lines))
PY
  {
    echo "[mutmut]"
    echo "source_paths ="
    echo "    learnet"
    echo "    explain"
    echo "    demo"
    echo "only_mutate = $target"
    echo "pytest_add_cli_args_test_selection ="
    for t in "${tests[@]}"; do echo "    $t"; done
    echo "pytest_add_cli_args ="
    echo "    -p"
    echo "    no:cacheprovider"
    echo "    -x"
    for e in "${extra[@]}"; do echo "    $e"; done
    echo "also_copy ="
    echo "    pytest.ini"
    echo "    models"
    echo "    app.py"
  } > "$dir/setup.cfg"
  echo "== $m: mutating $target, tests: ${tests[*]}" >&2
  start=$(date +%s)
  (cd "$dir" && OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 19 mutmut run --max-children "$JOBS" >"$dir/run.log" 2>&1) || {
    echo "mutmut failed for $m; see $dir/run.log" >&2
    tail -20 "$dir/run.log" >&2
    continue
  }
  fi
  seconds=$(( $(date +%s) - start ))
  (cd "$dir" && mutmut results --all true > "$dir/results.txt" 2>/dev/null || true)
  killed=$(grep -c ": killed$" "$dir/results.txt" || true)
  survived=$(grep -c ": survived$" "$dir/results.txt" || true)
  total=$(grep -c ": " "$dir/results.txt" || true)
  other=$(( total - killed - survived ))
  score=$(python -c "print(f'{100 * $killed / max(1, $killed + $survived):.1f}')")
  summary+=("$(printf '%-22s %6d %8d %8d %6s%% %6ds' "$m" "$killed" "$survived" "$other" "$score" "$seconds")")
  echo "-- surviving mutants of $m ($dir):"
  grep ": survived$" "$dir/results.txt" | sed 's/: survived$//' || echo "    none"
done

echo
printf '%-22s %6s %8s %8s %7s %7s\n' module killed survived other score time
printf '%s\n' "${summary[@]}"
echo "(other: no tests, timeout, suspicious or skipped; score = killed / (killed + survived), before excluding"
echo " equivalent mutants, which docs/mutation.md lists)"
