"""Fingerprints of everything the shipped model computes on the example clips, to prove a refactor changes nothing.

For every clip in `demo/examples`: the dynamic image (face mode none and auto), the probabilities, the
abstention and the evidence, the four accretion-layer Grad-CAM maps and integrated gradients, each as a
SHA-256 of the exact bytes; plus the synthetic generator's renders (plain and domain-randomised), since the
training data is part of what the shipped weights stand on.

    python bench/example_outputs.py --json before.json          # on the old code
    python bench/example_outputs.py --compare before.json        # on the new code: lists every difference

Exit status 1 when `--compare` finds a difference.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import explain  # noqa: E402
from learnet.hub import load_model  # noqa: E402
from learnet.pipeline import Pipeline  # noqa: E402
from learnet.synth.clips import make_clip  # noqa: E402
from learnet.synth.faces import draw_face, random_identity  # noqa: E402
from learnet.synth.variation import Variation  # noqa: E402
from learnet.video import read_clip  # noqa: E402

EXAMPLES = ROOT / "demo" / "examples"


def digest(a) -> str:
    """SHA-256 of an array's dtype, shape and bytes (a tensor is moved to numpy first)."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    a = np.ascontiguousarray(a)
    h = hashlib.sha256(f"{a.dtype}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()[:20]


def clip_outputs(model, row: dict) -> dict:
    """Everything computed on one example clip, as digests and exact floats (hex)."""
    clip = read_clip(EXAMPLES / row["path"])
    phases = {k: int(row[k]) for k in ("onset", "apex", "offset")}
    out: dict = {}
    for mode in ("none", "auto"):
        pipe = Pipeline(model, face_mode=mode)
        pred = pipe.predict(clip, **phases)
        x = pipe.input_tensor(pred.preprocessed)
        out[mode] = {
            "dynamic_image": digest(pred.preprocessed.di),
            "input": digest(x),
            "probabilities": {k: float(v).hex() for k, v in pred.probabilities.items()},
            "result": pred.result,
            "abstention": str(pred.abstention),
        }
        if mode == "none":
            cams = explain.gradcam_layers(model, x, ("al1", "al2", "al3", "al4"))
            out[mode]["gradcam"] = {k: digest(m.values) for k, m in cams.items()}
            ig = explain.integrated_gradients(model, x, steps=8, level=pipe.no_motion_level(pred.preprocessed))
            out[mode]["integrated_gradients"] = digest(ig.values)
    return out


def generator_outputs() -> dict:
    """Renders of the synthetic generator: faces, and a plain and a randomised clip."""
    out = {f"face_{s}": digest(draw_face(random_identity(s), size=96).face) for s in (0, 1, 7)}
    plain = make_clip("positive", seed=3, size=64, n_frames=(16, 16))
    varied = make_clip("negative", seed=4, size=64, n_frames=(16, 16), variation=Variation())
    out["clip_plain"] = digest(plain.frames)
    out["clip_varied"] = digest(varied.frames)
    return out


def fingerprints() -> dict:
    torch.manual_seed(0)
    model = load_model()
    with open(EXAMPLES / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {"clips": {r["clip"]: clip_outputs(model, r) for r in rows}, "generator": generator_outputs()}


def differences(old, new, path: str = "") -> list[str]:
    """Every leaf where two fingerprint trees differ, as 'path: old -> new'."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            out += differences(old.get(k), new.get(k), f"{path}/{k}")
        return out
    return [] if old == new else [f"{path}: {old} -> {new}"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, help="write the fingerprints here (refuses to overwrite)")
    ap.add_argument("--compare", type=Path, help="compare with fingerprints written earlier")
    args = ap.parse_args(argv)
    if args.json and args.json.exists():
        ap.error(f"{args.json} exists; pass a new file name")
    fp = fingerprints()
    if args.json:
        args.json.write_text(json.dumps(fp, indent=1, sort_keys=True))
        print(f"wrote {args.json}")
    if args.compare:
        diff = differences(json.loads(args.compare.read_text()), fp)
        for d in diff:
            print(d)
        print(f"{len(diff)} difference(s) from {args.compare}")
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
