"""Reports of LOSO runs: merge the folds (and shards) of run directories, score, and write JSON, CSV, a LaTeX
table row and a confusion-matrix figure (PDF + PNG).

A run directory is written by `learnet.train`::

    RUN_DIR/run.json                              recipe, classes, folds, seeds, data fingerprint
    RUN_DIR/predictions/seed<S>/<fold>.csv        one file per finished fold: sample_id, dataset, subject,
                                                  label, prediction, epoch, p:<class>...

Shards of one run (``train --folds i/N``) may write into one directory or into several; `merge_runs` takes any
number of directories, checks they hold the same run (same recipe, classes and data) and pools their folds.
Runs whose epoch was picked on the test subject (``--oracle-epoch``) say "not a valid estimate" in every
output.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import metrics as M

RUN_FILE = "run.json"
REPORT_FILES = ("report.json", "report.csv", "subjects.csv", "report_row.tex", "confusion.pdf", "confusion.png")
PREDICTIONS_DIR = "predictions"
ORACLE_WARNING = "oracle epoch (best epoch chosen on each test subject): not a valid estimate"
INCOMPLETE_WARNING = "incomplete: {missing} of {total} folds missing"


def validity(run: dict) -> str:
    """How the run's figures may be read: leak-free (and how), or an oracle that is not a valid estimate."""
    recipe = run["recipe"]
    if recipe.get("oracle_epoch"):
        return ORACLE_WARNING
    if recipe.get("val_subjects"):
        return f"leak-free: epoch chosen on {recipe['val_subjects']} held-out training subject(s) per fold"
    return f"leak-free: fixed budget of {recipe['epochs']} epochs"


@dataclass
class MergedRun:
    """The predictions of one run, pooled over its directories; `missing` lists unfinished folds per seed."""

    run: dict
    rows: list[dict]
    missing: dict[int, list[str]] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return list(self.run["classes"])

    @property
    def complete(self) -> bool:
        return not any(self.missing.values())

    def notes(self) -> list[str]:
        """Warnings every output must carry (oracle, incomplete)."""
        out = []
        if self.run["recipe"].get("oracle_epoch"):
            out.append(ORACLE_WARNING)
        if not self.complete:
            total = len(self.run["folds"]) * len(self.run["seeds"])
            out.append(INCOMPLETE_WARNING.format(missing=sum(map(len, self.missing.values())), total=total))
        return out


def read_run(run_dir: str | os.PathLike) -> dict:
    """The `run.json` of a run directory."""
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a learnet run directory (no {RUN_FILE}); pass the --out of a train run")
    return json.loads(path.read_text(encoding="utf-8"))


def read_predictions(path: str | os.PathLike) -> list[dict]:
    """One fold's predictions CSV as dicts (probabilities under `p:<class>` as floats)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key in list(row):
            if key.startswith("p:"):
                row[key] = float(row[key])
        row["seed"] = int(row["seed"])
        row["epoch"] = int(row["epoch"])
    return rows


def _same_run(a: dict, b: dict) -> str | None:
    for key, what in (("recipe_hash", "training recipe"), ("classes", "classes"), ("data_hash", "data")):
        if a.get(key) != b.get(key):
            return what
    return None


def merge_runs(run_dirs: Sequence[str | os.PathLike]) -> MergedRun:
    """Pool the finished folds of one run spread over one or more directories (shards).

    Raises:
        ValueError: the directories hold different runs (recipe, classes or data differ).
    """
    if not run_dirs:
        raise ValueError("give at least one run directory")
    run = read_run(run_dirs[0])
    seeds = set(run["seeds"])
    seen: dict[tuple[int, str], dict] = {}
    for d in run_dirs:
        other = read_run(d)
        differs = _same_run(run, other)
        if differs:
            raise ValueError(f"{d} holds a different run than {run_dirs[0]} (its {differs} differs); report them separately")
        seeds |= set(other["seeds"])
        for path in sorted((Path(d) / PREDICTIONS_DIR).glob("seed*/*.csv")):
            for row in read_predictions(path):
                seen.setdefault((row["seed"], row["sample_id"]), row)  # shards that re-ran a fold agree
    run = {**run, "seeds": sorted(seeds)}
    rows = sorted(seen.values(), key=lambda r: (r["seed"], r["subject"], r["sample_id"]))
    done = defaultdict(set)
    for r in rows:
        done[r["seed"]].add(r["subject"])
    missing = {s: [f for f in run["folds"] if f not in done[s]] for s in run["seeds"]}
    return MergedRun(run, rows, missing, [str(d) for d in run_dirs])


def build_report(merged: MergedRun) -> dict:
    """All figures of a run as one JSON-able dict: overall (mean +- std over seeds), per seed, per dataset,
    per subject, pooled confusion matrix."""
    classes = merged.classes
    by_seed: dict[int, list[dict]] = defaultdict(list)
    for r in merged.rows:
        by_seed[r["seed"]].append(r)
    if not by_seed:
        raise ValueError(f"no finished folds in {', '.join(merged.sources)}; nothing to report")
    per_seed = {s: M.scores([r["label"] for r in rs], [r["prediction"] for r in rs], classes)
                for s, rs in sorted(by_seed.items())}
    datasets = sorted({r["dataset"] for r in merged.rows})
    per_dataset = {}
    if len(datasets) > 1:
        for d in datasets:
            scores = {s: M.scores([r["label"] for r in rs if r["dataset"] == d],
                                  [r["prediction"] for r in rs if r["dataset"] == d], classes)
                      for s, rs in by_seed.items()}
            per_dataset[d] = {**M.summarize_seeds(scores), "n": next(iter(scores.values())).n}
    per_subject = {}
    for s, rs in sorted(by_seed.items()):
        table = M.per_group([r["label"] for r in rs], [r["prediction"] for r in rs], [r["subject"] for r in rs], classes)
        per_subject[str(s)] = {g: {"n": sc.n, "accuracy": sc.accuracy, "uf1": sc.uf1, "uar": sc.uar}
                               for g, sc in table.items()}
    run = merged.run
    return {
        "title": f"LEARNet LOSO on {run['label_map']['name']}",
        "validity": validity(run),
        "notes": merged.notes(),
        "complete": merged.complete,
        "missing_folds": {str(s): f for s, f in merged.missing.items() if f},
        "classes": classes,
        "label_map": run["label_map"]["name"],
        "recipe": run["recipe"],
        "seeds": sorted(by_seed),
        "n_samples": per_seed[min(per_seed)].n,
        "n_folds": len(run["folds"]),
        "overall": M.summarize_seeds(per_seed),
        "per_seed": {str(s): sc.to_dict() for s, sc in per_seed.items()},
        "per_dataset": per_dataset,
        "per_subject": per_subject,
        "confusion": sum(sc.confusion for sc in per_seed.values()).tolist(),
        "sources": merged.sources,
    }


def summary_line(report: dict) -> str:
    """`UF1 0.735 +- 0.012 | UAR ... | accuracy ... (3 seeds, 26 folds, 246 samples)` plus warnings."""
    o = report["overall"]
    parts = [f"{name} {M.format_mean_std(o[k]['mean'], o[k]['std'], o[k]['n'])}"
             for k, name in (("uf1", "UF1"), ("uar", "UAR"), ("accuracy", "accuracy"))]
    n = len(report["seeds"])
    text = " | ".join(parts) + f" ({n} seed{'s' if n > 1 else ''}, {report['n_folds']} folds, {report['n_samples']} samples)"
    for note in report["notes"]:
        text += f" [{note.upper() if 'not a valid' in note else note}]"
    return text


def latex_row(report: dict, method: str = "LEARNet") -> str:
    r"""`method & UF1 & UAR & accuracy \\` with mean $\pm$ std; oracle or incomplete runs get a dagger and a
    comment saying why."""
    o = report["overall"]

    def cell(k):
        m = o[k]
        return f"{m['mean']:.3f}" if m["n"] <= 1 else f"{m['mean']:.3f} $\\pm$ {m['std']:.3f}"

    name = method.replace("_", r"\_") + (r"$^\dagger$" if report["notes"] else "")
    row = f"{name} & {cell('uf1')} & {cell('uar')} & {cell('accuracy')} \\\\"
    lines = [f"% {report['title']}; columns: method & UF1 & UAR & accuracy; {report['validity']}", row]
    lines += [f"% $^\\dagger$ {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def confusion_figure(report: dict, paths: Sequence[str | os.PathLike]) -> list[Path]:
    """Draw the pooled confusion matrix (colour: row-normalised recall, text: counts) to each path (PDF, PNG)."""
    from matplotlib.figure import Figure

    cm = np.asarray(report["confusion"], dtype=float)
    classes = report["classes"]
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    side = 1.2 + 0.7 * len(classes)
    fig = Figure(figsize=(side + 1.2, side + 0.6))
    ax = fig.add_subplot()
    im = ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center",
                    color="white" if share[i, j] > 0.6 else "black", fontsize=9)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    o = report["overall"]
    title = f"{report['title']}\nUF1 {o['uf1']['mean']:.3f}, UAR {o['uar']['mean']:.3f}"
    if len(report["seeds"]) > 1:
        title += f" (mean of {len(report['seeds'])} seeds; counts summed)"
    for note in report["notes"]:
        title += f"\n{note}"
    ax.set_title(title, fontsize=8, color="darkred" if report["notes"] else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    fig.tight_layout()
    out = []
    for p in paths:
        p = Path(p)
        fig.savefig(p, dpi=150)
        out.append(p)
    return out


def _same_sources(a: Sequence[str], b: Sequence[str]) -> bool:
    return sorted(str(Path(s).resolve()) for s in a) == sorted(str(Path(s).resolve()) for s in b)


def check_report_outputs(out_dir: str | os.PathLike, sources: Sequence[str], overwrite: bool = False) -> None:
    """Refuse to write a report over files it would not own.

    A report of the same run directories may be refreshed (a run folder holds its own report, rewritten as
    folds finish); any other existing report file needs `overwrite`, and files that are not a learnet report
    (a `report.json` of something else, or report-named files without one) are never replaced.

    Raises:
        FileExistsError: with a one-line sentence naming the file and what to do.
    """
    out_dir = Path(out_dir)
    existing = [out_dir / name for name in REPORT_FILES if (out_dir / name).exists()]
    if not existing:
        return
    try:
        old = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
        ours = isinstance(old, dict) and {"validity", "overall", "sources"} <= old.keys()
    except (OSError, ValueError):
        ours, old = False, {}
    if not ours:
        raise FileExistsError(f"{existing[0]} exists and is not a learnet report; choose another --out")
    if not overwrite and not _same_sources(old["sources"], sources):
        raise FileExistsError(f"{out_dir} already holds a report (of {', '.join(old['sources'])}); pass "
                              "--overwrite to replace it, or choose another --out")


def write_report(report: dict, out_dir: str | os.PathLike, method: str = "LEARNet", *,
                 overwrite: bool = False) -> list[Path]:
    """Write report.json, report.csv (overall + per dataset), subjects.csv, report_row.tex, confusion.pdf/png.

    A report of other runs already in `out_dir` is replaced only with `overwrite` (`check_report_outputs`).
    """
    out_dir = Path(out_dir)
    check_report_outputs(out_dir, report["sources"], overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    path = out_dir / "report.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    written.append(path)

    note = "; ".join([report["validity"]] + [n for n in report["notes"] if n != report["validity"]])
    path = out_dir / "report.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["scope", "n", "seeds", "uf1_mean", "uf1_std", "uar_mean", "uar_std", "accuracy_mean",
                    "accuracy_std", "validity"])
        scopes = [("all", report["n_samples"], report["overall"])]
        scopes += [(d, v["n"], v) for d, v in report["per_dataset"].items()]
        for scope, n, v in scopes:
            w.writerow([scope, n, v["uf1"]["n"]] + [f"{v[k][s]:.6f}" for k in M.METRICS for s in ("mean", "std")]
                       + [note])
    written.append(path)

    path = out_dir / "subjects.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["seed", "subject", "n", "accuracy", "uf1", "uar", "validity"])
        for seed, table in report["per_subject"].items():
            for subject, v in table.items():
                w.writerow([seed, subject, v["n"], f"{v['accuracy']:.6f}", f"{v['uf1']:.6f}", f"{v['uar']:.6f}", note])
    written.append(path)

    path = out_dir / "report_row.tex"
    path.write_text(latex_row(report, method), encoding="utf-8")
    written.append(path)
    written += confusion_figure(report, [out_dir / "confusion.pdf", out_dir / "confusion.png"])
    return written


def report_runs(run_dirs: Sequence[str | os.PathLike], out_dir: str | os.PathLike | None = None, *,
                allow_incomplete: bool = False, method: str = "LEARNet", overwrite: bool = False) -> dict:
    """Merge, score and write a report for run directories (into `out_dir`, default the first one); a report
    of other runs already there is replaced only with `overwrite`.

    Raises:
        ValueError: folds are missing and `allow_incomplete` is False (the message counts them).
    """
    merged = merge_runs(run_dirs)
    check_report_outputs(out_dir or run_dirs[0], merged.sources, overwrite)  # before any scoring
    if not merged.complete and not allow_incomplete:
        missing = {s: f for s, f in merged.missing.items() if f}
        first = next(iter(missing.items()))
        raise ValueError(
            f"{sum(map(len, missing.values()))} of {len(merged.run['folds']) * len(merged.run['seeds'])} folds "
            f"have no predictions yet (e.g. seed {first[0]}: {', '.join(first[1][:3])}); finish the shards or "
            "pass --allow-incomplete"
        )
    report = build_report(merged)
    write_report(report, out_dir or run_dirs[0], method, overwrite=overwrite)
    return report


def _cmd_report(args: argparse.Namespace) -> int:
    report = report_runs(args.run_dirs, args.out, allow_incomplete=args.allow_incomplete, method=args.method,
                         overwrite=args.overwrite)
    print(f"{summary_line(report)} -> {args.out or args.run_dirs[0]}")
    return 0


def register_cli(subparsers) -> None:
    """Add the `report` subcommand to `python -m learnet`."""
    p = subparsers.add_parser(
        "report", help="merge LOSO runs/shards and write JSON, CSV, LaTeX and a confusion figure",
        description="Pool the predictions of every finished fold of one training run (one or more run "
                    "directories, e.g. the shards of `train --folds i/N`) and score them: pooled UF1, UAR and "
                    "accuracy (mean +- std over seeds), per dataset and per subject.",
        epilog="Writes report.json, report.csv, subjects.csv, report_row.tex, confusion.pdf and confusion.png.",
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="--out folder(s) of `python -m learnet train`")
    p.add_argument("--out", default=None, help="folder for the report files (default: the first RUN_DIR)")
    p.add_argument("--method", default="LEARNet", help="method name in the LaTeX row (default LEARNet)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a report of other runs already in --out (a run's own report is always refreshed)")
    p.add_argument("--allow-incomplete", action="store_true",
                   help="report even if some folds have no predictions yet (outputs say so)")
    p.set_defaults(func=_cmd_report)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m learnet.report RUN_DIR...` (same as `python -m learnet report`)."""
    parser = argparse.ArgumentParser(prog="python -m learnet.report")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
