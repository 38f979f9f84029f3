"""Real-face benchmark: micro-expressions animated on two real photos, scored end-to-end and pre-aligned.

    python bench/bench_realface.py [--model SRC] [--clips-per-class 4] [--json OUT] [--subset K]

The clips come from `learnet.synth.realface`, a motion model independent of the training generator
(landmark-anchored Wendland interpolation on hand-annotated photos, its own amplitudes and time courses):
the two public-domain photos of `learnet.synth.photos` (Grace Hopper, the astronaut Eileen Collins), each
also mirrored (same identity), x 3 MEGC classes x N clips, 640x480 frames at 200 fps (the face at IOD
40-110 px anywhere in the frame, head drift, sensor noise), written as H.264 mp4.  Then a model is scored
two ways:

1. end-to-end: `Pipeline(model).predict(path)` with default settings, exactly `python -m learnet predict CLIP`;
2. pre-aligned: the same decoded frames warped onto the template with the *annotated* eye centres (128 px
   crops), predicted with face mode "none": what the model does when face alignment is perfect.

The table gives accuracy, UAR, UF1, the confusion matrix, the mean top probability of wrong predictions,
the expected calibration error (10 bins), the eye-detection rate, and what each abstention probe (black,
noise, no face, static face) returns.  Nothing here is trained on: keep these photos out of training data.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from learnet import metrics as M  # noqa: E402
from learnet.synth import realface as R  # noqa: E402
from learnet.synth.photos import PHOTO_NAMES  # noqa: E402

CRF = 10  # near-lossless H.264: the sub-pixel motion survives (CRF 18 loses part of it, see make_examples.py)
ALIGNED_SIZE = 128
MANIFEST = "realface_manifest.json"
AMPLITUDE_BANDS = ((0.5, 1.33), (1.33, 2.17), (2.17, 3.01))  # px at a 128 px template face


@dataclass(frozen=True)
class Spec:
    """One benchmark clip: photo, mirror image or not, class and seed."""

    photo: str
    mirror: bool
    label: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.photo}{'_mirror' if self.mirror else ''}_{self.label}_{self.seed}"


def clip_specs(clips_per_class: int, seed: int, mirror: bool = True) -> list[Spec]:
    """All clips, interleaved so that any prefix (`--subset`) is nearly balanced over classes and photos."""
    specs = []
    for i in range(clips_per_class):
        for m in ((False, True) if mirror else (False,)):
            for photo in PHOTO_NAMES:
                for label in R.CLASSES:
                    specs.append(Spec(photo, m, label, seed + i))
    return specs


def write_h264(path: Path, frames: np.ndarray, fps: float, crf: int = CRF) -> Path:
    """H.264 (yuv420p) through imageio-ffmpeg's bundled ffmpeg, bit-exact across runs (preset veryfast: 640x480
    clips encode about 3x faster than with the default preset, at the same CRF quality target)."""
    import imageio_ffmpeg

    h, w = frames.shape[1:3]
    writer = imageio_ffmpeg.write_frames(
        str(path), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p", macro_block_size=16,
        output_params=["-crf", str(crf), "-preset", "veryfast", "-fflags", "+bitexact", "-map_metadata", "-1"],
    )
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame).tobytes())
    writer.close()
    return path


def render(specs: list[Spec], work: Path, fps: float, crf: int, probe_seed: int) -> tuple[list[dict], list[dict]]:
    """Render the clips and the abstention probes into `work`; returns their metadata rows."""
    rows, probes = [], []
    for spec in specs:
        clip = R.make_clip(spec.label, spec.photo, spec.seed, fps=fps, mirror=spec.mirror)
        path = write_h264(work / f"{spec.name}.mp4", clip.frames, fps, crf)
        rows.append({
            "clip": path.name, "photo": spec.photo, "mirror": spec.mirror, "label": spec.label, "seed": spec.seed,
            "n_frames": len(clip.frames), "onset": clip.onset, "apex": clip.apex, "offset": clip.offset,
            "cut": clip.cut, "eyes": [list(e) for e in clip.landmarks.eyes], "iod_px": clip.landmarks.interocular,
            "amplitude_px": clip.amplitude_px, "amplitude_px_at_128": clip.amplitude_at_128,
            "peak_px": clip.peak_px, "envelope": clip.params["envelope"]["kind"],
            "noise_sigma": clip.params["noise_sigma"], "blur_sigma": clip.params["blur_sigma"],
            "drift_px": clip.params["drift_px"], "background": clip.variant.background,
        })
    for kind in R.PROBES:
        clip = R.probe_clip(kind, probe_seed, fps=fps)
        path = write_h264(work / f"probe_{kind}.mp4", clip.frames, fps, crf)
        probes.append({"clip": path.name, "probe": kind})
    return rows, probes


def _face_summary(pred) -> dict:
    face = pred.preprocessed.face
    return {"found": bool(face.found), "eyes_detected": bool(face.eyes_detected),
            "eyes": [list(map(float, e)) for e in face.eyes] if face.eyes else None}


def _prediction(pred) -> dict:
    """The figures of one prediction; `abstention` exists only in newer pipelines, hence getattr."""
    top = max(pred.probabilities, key=pred.probabilities.get)
    return {"label": pred.label, "probabilities": pred.probabilities, "top_probability": pred.probabilities[top],
            "abstention": getattr(pred, "abstention", None), "face": _face_summary(pred)}


def evaluate(model, rows: list[dict], probes: list[dict], work: Path) -> None:
    """Predict every clip end-to-end and pre-aligned (in place: adds "end_to_end", "pre_aligned")."""
    from learnet.face import FaceInfo, similarity_from_eyes, warp_frames
    from learnet.pipeline import Pipeline
    from learnet.video import Clip, read_clip

    end_to_end = Pipeline(model)  # the model config's settings, as `python -m learnet predict` uses them
    pre_aligned = Pipeline(model, face_mode="none")
    for row in rows:
        path = work / row["clip"]
        row["end_to_end"] = _prediction(end_to_end.predict(path))
        clip = read_clip(path)
        eyes = tuple(tuple(e) for e in row["eyes"])
        info = FaceInfo(found=True, mode="auto", transform=similarity_from_eyes(eyes), eyes=eyes)
        aligned = Clip(warp_frames(clip.frames, info, ALIGNED_SIZE), clip.fps, f"{path} (annotated eyes)")
        row["pre_aligned"] = _prediction(pre_aligned.predict(aligned))
    for probe in probes:
        probe["end_to_end"] = _prediction(end_to_end.predict(work / probe["clip"]))


def summarise(rows: list[dict], route: str, labels: tuple[str, ...] = R.CLASSES) -> dict:
    """Scores of one route over the rows."""
    y_true = [r["label"] for r in rows]
    y_pred = [r[route]["label"] for r in rows]
    s = M.scores(y_true, y_pred, labels)
    top = np.array([r[route]["top_probability"] for r in rows])
    right = np.array([t == p for t, p in zip(y_true, y_pred)])
    out = {
        "n": len(rows), "accuracy": s.accuracy, "uar": s.uar, "uf1": s.uf1, "f1": s.f1, "recall": s.recall,
        "confusion": {"labels": list(labels), "rows_true_columns_predicted":
                      M.confusion_matrix(y_true, y_pred, labels).tolist()},
        "mean_top_probability_wrong": float(top[~right].mean()) if (~right).any() else None,
        "mean_top_probability_right": float(top[right].mean()) if right.any() else None,
        "ece_10_bins": M.expected_calibration_error(top, right, 10),
        "abstained": sum(r[route]["abstention"] is not None for r in rows),
        "by_photo": {}, "by_amplitude_px_at_128": {},
    }
    for photo in sorted({r["photo"] for r in rows}):
        sub = [r for r in rows if r["photo"] == photo]
        out["by_photo"][photo] = {"n": len(sub), "accuracy": float(np.mean([r[route]["label"] == r["label"] for r in sub]))}
    for lo, hi in AMPLITUDE_BANDS:
        sub = [r for r in rows if lo <= r["amplitude_px_at_128"] < hi]
        if sub:
            out["by_amplitude_px_at_128"][f"{lo:.2f}-{hi:.2f}"] = {
                "n": len(sub), "accuracy": float(np.mean([r[route]["label"] == r["label"] for r in sub]))}
    if route == "end_to_end":
        found = [r for r in rows if r[route]["face"]["found"]]
        detected = [r for r in rows if r[route]["face"]["eyes_detected"]]
        errors = []
        for r in detected:
            got, want = np.array(r[route]["face"]["eyes"]), np.array(r["eyes"])
            errors.append(float(np.linalg.norm(got - want, axis=1).max() / r["iod_px"]))
        out["face_found_rate"] = len(found) / len(rows)
        out["eye_detection_rate"] = len(detected) / len(rows)
        out["eye_error_iod_median"] = float(np.median(errors)) if errors else None
        out["eye_error_iod_max"] = float(np.max(errors)) if errors else None
    return out


def _fmt(x, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def print_report(summary: dict, probes: list[dict]) -> None:
    routes = ("end_to_end", "pre_aligned")
    print(f"\n{'':<34}" + "".join(f"{r:>14}" for r in routes))
    for key, name in (("n", "clips"), ("accuracy", "accuracy"), ("uar", "UAR"), ("uf1", "UF1"),
                      ("mean_top_probability_wrong", "mean top prob., wrong predictions"),
                      ("mean_top_probability_right", "mean top prob., right predictions"),
                      ("ece_10_bins", "ECE (10 bins)"), ("abstained", "abstained")):
        vals = [summary[r][key] for r in routes]
        print(f"{name:<34}" + "".join(f"{v:>14}" if isinstance(v, int) else f"{_fmt(v):>14}" for v in vals))
    for photo in summary["end_to_end"]["by_photo"]:
        print(f"{'accuracy, ' + photo:<34}" + "".join(f"{_fmt(summary[r]['by_photo'][photo]['accuracy']):>14}" for r in routes))
    for band, v in summary["end_to_end"]["by_amplitude_px_at_128"].items():
        print(f"{'accuracy, ' + band + ' px @128 (n=' + str(v['n']) + ')':<34}"
              + "".join(f"{_fmt(summary[r]['by_amplitude_px_at_128'][band]['accuracy']):>14}" for r in routes))
    e = summary["end_to_end"]
    print(f"{'face found (end-to-end)':<34}{_fmt(e['face_found_rate']):>14}")
    print(f"{'eyes detected (end-to-end)':<34}{_fmt(e['eye_detection_rate']):>14}")
    print(f"{'eye error / IOD, median, max':<34}{_fmt(e['eye_error_iod_median']):>14}{_fmt(e['eye_error_iod_max']):>14}")
    for route in routes:
        cm = summary[route]["confusion"]
        labels = cm["labels"]
        print(f"\nconfusion, {route} (rows true, columns predicted)")
        print(f"{'':<10}" + "".join(f"{name:>10}" for name in labels))
        for name, row in zip(labels, cm["rows_true_columns_predicted"]):
            print(f"{name:<10}" + "".join(f"{v:>10}" for v in row))
    print("\nabstention probes (end-to-end)")
    print(f"{'probe':<13}{'label':>10}{'top prob.':>11}{'face found':>12}  abstention")
    for p in probes:
        r = p["end_to_end"]
        print(f"{p['probe']:<13}{r['label']:>10}{r['top_probability']:>11.3f}{str(r['face']['found']):>12}  {r['abstention']}")


def _work_folder(arg: str | None) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    if arg is None:
        tmp = tempfile.TemporaryDirectory(prefix="realface-")
        return Path(tmp.name), tmp
    work = Path(arg)
    if work.exists() and any(work.iterdir()) and not (work / MANIFEST).exists():
        raise SystemExit(f"error: {work} is not empty and holds no {MANIFEST}; give an empty or new folder")
    work.mkdir(parents=True, exist_ok=True)
    return work, None


def _rendered(work: Path, settings: dict) -> tuple[list[dict] | None, list[dict] | None]:
    """The clips already rendered into `work` with the same settings (deterministic: no need to redo them)."""
    try:
        manifest = json.loads((work / MANIFEST).read_text())
    except (OSError, ValueError):
        return None, None
    files = [r["clip"] for r in manifest.get("clips", []) + manifest.get("probes", [])]
    if manifest.get("settings") != settings or not all((work / f).is_file() for f in files):
        return None, None
    strip = ("end_to_end", "pre_aligned")
    return ([{k: v for k, v in r.items() if k not in strip} for r in manifest["clips"]],
            [{k: v for k, v in r.items() if k not in strip} for r in manifest["probes"]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].rstrip(".") + ". Renders the set into a work folder, then scores a model.",
        epilog="Photos: matplotlib's grace_hopper.jpg and scikit-image's astronaut.png, both public domain "
               "(needs scikit-image). Mirrored clips are the same identity, not new subjects.",
    )
    parser.add_argument("--model", default=None, help="model folder or Hub id (default: $LEARNET_MODEL, else the shipped weights)")
    parser.add_argument("--clips-per-class", type=int, default=4,
                        help="clips per photo, mirror state and class (default 4: 2 x 2 x 3 x 4 = 48 clips)")
    parser.add_argument("--subset", type=int, default=None, metavar="K", help="only the first K clips (a quick run)")
    parser.add_argument("--seed", type=int, default=1000, help="seed of the first clip of each kind (default 1000)")
    parser.add_argument("--fps", type=float, default=200.0, help="capture rate, 200 (default) or e.g. 30")
    parser.add_argument("--no-mirror", action="store_true", help="leave out the mirrored photos")
    parser.add_argument("--crf", type=int, default=CRF, help=f"H.264 quality (default {CRF}; lower is better)")
    parser.add_argument("--work", default=None,
                        help="folder for the mp4s and the manifest (default: a temporary folder, deleted afterwards); "
                             "clips already rendered there with the same settings are reused")
    parser.add_argument("--json", default=None, metavar="OUT", help="write every figure and per-clip result here")
    args = parser.parse_args(argv)
    if args.clips_per_class < 1 or (args.subset is not None and args.subset < 1):
        parser.error("--clips-per-class and --subset must be at least 1")
    if args.json and Path(args.json).exists():
        print(f"error: {args.json} exists; give a new file name", file=sys.stderr)
        return 2

    try:
        import skimage  # noqa: F401  (the astronaut photo and the coffee probe ship in its wheel)
    except ImportError:
        print("error: the benchmark needs scikit-image (pip install -r requirements-dev.txt)", file=sys.stderr)
        return 2
    from learnet.hub import ModelLoadError, load_model

    try:
        model = load_model(args.model)
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        work, tmp = _work_folder(args.work)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2

    specs = clip_specs(args.clips_per_class, args.seed, mirror=not args.no_mirror)[: args.subset]
    settings = {"clips": [s.name for s in specs], "fps": args.fps, "crf": args.crf, "probe_seed": args.seed}
    t0 = time.perf_counter()
    rows, probes = _rendered(work, settings)
    if rows is None:
        rows, probes = render(specs, work, args.fps, args.crf, probe_seed=args.seed)
        (work / MANIFEST).write_text(json.dumps({"settings": settings, "clips": rows, "probes": probes}, indent=1))
    t_render = time.perf_counter() - t0
    t0 = time.perf_counter()
    evaluate(model, rows, probes, work)
    t_eval = time.perf_counter() - t0

    summary = {route: summarise(rows, route) for route in ("end_to_end", "pre_aligned")}
    print(f"model {getattr(model, 'source', None)}  revision {getattr(model, 'revision', None)}")
    print(f"{len(rows)} clips ({', '.join(PHOTO_NAMES)}{'' if args.no_mirror else ' + mirrored'}, "
          f"{args.fps:g} fps, seed {args.seed}); rendered (or reused) in {t_render:.0f} s, scored in {t_eval:.0f} s; "
          f"work {work}{' (temporary, deleted at the end)' if tmp is not None else ''}")
    print_report(summary, probes)
    if args.json:
        out = {"model": getattr(model, "source", None), "revision": getattr(model, "revision", None),
               "settings": {k: v for k, v in vars(args).items() if k not in ("json", "work", "model")},
               "summary": summary, "probes": probes, "clips": rows,
               "timing_s": {"render": t_render, "evaluate": t_eval}}
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f"\nwrote {args.json}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
