"""Finish the demo weights: calibrate them on held-out subjects, ask for face alignment, write the model card.

    python models/finalize_demo_card.py calibrate TRAINED_MODEL_DIR LOSO_RUN_DIR OUT_DIR
    python models/finalize_demo_card.py card OUT_DIR BENCHMARK_JSON

`calibrate` fits the softmax temperature on the pooled out-of-fold predictions of the leave-one-subject-out
run (subjects each fold never trained on), stores it in the config with the calibration figures, sets face
mode `auto` for uploads and saves OUT_DIR.  `card` then writes the plain-spoken model card with the figures
of the real-face benchmark (`bench/bench_realface.py --model OUT_DIR --json BENCHMARK_JSON`).
Called by models/make_demo_weights.sh; see the README section "Demo weights".
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from learnet.calibration import calibration_report, fit_temperature, labels_to_indices, log_probabilities  # noqa: E402
from learnet.hub import load_model, save_model  # noqa: E402
from learnet.report import PREDICTIONS_DIR, read_predictions  # noqa: E402

HEADER = """## What these weights are

**Trained on synthetic clips, for demonstrating the toolkit.** The training data are procedurally drawn faces
animated with action-unit displacement fields at micro-expression amplitude, under wide domain randomisation
(`python -m learnet synth --vary`: the position, extent, shape, direction and symmetry of every action unit's
field, several AU combinations per class, five time courses, the crop's alignment error, glasses, beards,
skin texture, lighting, head drift, noise, blur, compression, greyscale sensors). They are not evidence about
real micro-expressions and must not be used to judge people. For real use, train on a licensed dataset
(README, "Train on your own data"), e.g.

    python -m learnet train --casme2 /data/CASME2/Cropped --face-mode none --label-map casme2_5c --out runs/casme2 --all-subjects

and point the demo at the result: `LEARNET_MODEL=org/name@rev python app.py`.

Re-create these weights from scratch (2-core CPU, about {minutes} minutes): `bash models/make_demo_weights.sh`.

Face mode.  The synthetic clips are rendered already aligned to the face template (with a random alignment
error), so training used face mode `none`; the config asks for `auto`, so an uploaded video is aligned to that
same template.  Run synthetic clips (e.g. `demo/examples`) with `--face-mode none`.

Stabilisation.  Every aligned frame is registered to the onset frame and the head motion removed before rank
pooling (`learnet.stabilise`), so the dynamic image keeps the facial motion, not the head's.

Input scaling.  `signed`: the network sees DI / max|DI| in [-1, 1], so "no motion" is 0, the value the
convolutions' zero padding adds.

Calibration.  Softmax temperature {temperature:.3f}, fitted by negative log-likelihood on the pooled
leave-one-subject-out predictions ({cal_n} clips of subjects each fold never trained on); expected calibration
error (10 bins) {ece_before:.3f} before, {ece_after:.3f} after.

Abstention.  A clip with no face found (face mode auto) or no motion above its dynamic image's noise floor is
answered "no face found" / "no micro-expression found", not with a class.

## Real-face benchmark (identities and motion model never used in training)

`python bench/bench_realface.py`: {n} clips animated from two public-domain photos (matplotlib's
`grace_hopper.jpg`, scikit-image's `astronaut.png`, each also mirrored) by a motion model independent of the
training generator (landmark-anchored Wendland handles, its own amplitudes and time courses), 640x480 H.264 at
{fps:g} fps with head drift and sensor noise.

| route | accuracy | UAR | UF1 | mean confidence when wrong | ECE (10 bins) | abstained |
|---|---:|---:|---:|---:|---:|---:|
| end-to-end (raw video, default settings) | {e_acc:.3f} | {e_uar:.3f} | {e_uf1:.3f} | {e_wrong} | {e_ece:.3f} | {e_abst} |
| pre-aligned (annotated eyes, face mode none) | {p_acc:.3f} | {p_uar:.3f} | {p_uf1:.3f} | {p_wrong} | {p_ece:.3f} | {p_abst} |

Abstention probes (end-to-end): {probes}.

"""


def _loso_predictions(run_dir: Path, classes: list[str]):
    rows = []
    for path in sorted((run_dir / PREDICTIONS_DIR).glob("seed*/*.csv")):
        rows.extend(read_predictions(path))
    if not rows:
        raise SystemExit(f"error: no fold predictions under {run_dir / PREDICTIONS_DIR}; run the LOSO first")
    probs = [[float(r[f"p:{c}"]) for c in classes] for r in rows]
    return log_probabilities(probs), labels_to_indices([r["label"] for r in rows], classes)


def calibrate(args) -> None:
    model = load_model(args.model)
    logits, labels = _loso_predictions(Path(args.run), model.class_names)
    temperature = fit_temperature(logits, labels)
    report = calibration_report(logits, labels, temperature)
    print(f"temperature {temperature:.3f}: ECE {report['before']['ece']:.3f} -> {report['after']['ece']:.3f} "
          f"on {report['n']} held-out LOSO predictions")
    model.metadata["calibration"] = {**report, "fitted_on": "pooled leave-one-subject-out predictions"}
    model.metadata["trained_face_mode"] = model.face_mode
    # Uploads are raw videos: face mode auto aligns them to the template the clips were rendered in.
    model.preprocessing = dataclasses.replace(model.preprocessing, temperature=temperature, face_mode="auto")
    folder = save_model(model, args.out)
    print(f"wrote {folder}")


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def card(args) -> None:
    model = load_model(args.out)
    bench = json.loads(Path(args.benchmark).read_text())
    e, p = bench["summary"]["end_to_end"], bench["summary"]["pre_aligned"]
    probes = ", ".join(f"{r['probe']}: {r['end_to_end']['abstention'] or r['end_to_end']['label']}"
                       for r in bench["probes"])
    cal = model.metadata["calibration"]
    keep = ("n", "accuracy", "uar", "uf1", "mean_top_probability_wrong", "mean_top_probability_right",
            "ece_10_bins", "abstained", "confusion", "face_found_rate", "eye_detection_rate")
    model.metadata["real_face_benchmark"] = {
        "command": "python bench/bench_realface.py",
        "settings": {k: v for k, v in bench["settings"].items() if k != "clips"},
        **{route: {k: s[k] for k in keep if k in s} for route, s in (("end_to_end", e), ("pre_aligned", p))},
        "probes": {r["probe"]: r["end_to_end"]["abstention"] or r["end_to_end"]["label"] for r in bench["probes"]},
        # Per clip, so that a test can re-render a few clips and check these exact answers.
        "clips": {r["clip"]: {route: {"label": r[route]["label"], "abstention": r[route]["abstention"],
                                      "top_probability": round(r[route]["top_probability"], 4)}
                              for route in ("end_to_end", "pre_aligned")} for r in bench["clips"]},
    }
    header = HEADER.format(
        minutes=args.minutes, temperature=model.temperature, cal_n=cal["n"], ece_before=cal["before"]["ece"],
        ece_after=cal["after"]["ece"], n=e["n"], fps=bench["settings"]["fps"],
        e_acc=e["accuracy"], e_uar=e["uar"], e_uf1=e["uf1"], e_wrong=_fmt(e["mean_top_probability_wrong"]),
        e_ece=e["ece_10_bins"], e_abst=e["abstained"],
        p_acc=p["accuracy"], p_uar=p["uar"], p_uf1=p["uf1"], p_wrong=_fmt(p["mean_top_probability_wrong"]),
        p_ece=p["ece_10_bins"], p_abst=p["abstained"], probes=probes,
    )
    training_notes = model.metadata.get("model_card", "")
    marker = "## What these weights are"
    if training_notes.startswith(marker):  # a re-run of `card`: replace the header, keep the training notes
        training_notes = training_notes[training_notes.index("## Training"):]
    model.metadata["model_card"] = header + training_notes
    save_model(model, args.out)
    print(f"card written to {Path(args.out) / 'README.md'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    c = sub.add_parser("calibrate", help="fit the temperature on LOSO predictions, set face mode auto, save")
    c.add_argument("model", help="the --all-subjects model folder")
    c.add_argument("run", help="the LOSO run folder (its predictions/ hold the out-of-fold probabilities)")
    c.add_argument("out", help="where to write the finished weights")
    c.set_defaults(func=calibrate)
    k = sub.add_parser("card", help="write the model card with the real-face benchmark's figures")
    k.add_argument("out", help="the finished weights (from `calibrate`)")
    k.add_argument("benchmark", help="bench/bench_realface.py --json output for these weights")
    k.add_argument("--minutes", type=int, default=40, help="wall time of make_demo_weights.sh, for the card")
    k.set_defaults(func=card)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
