"""Benchmark of the explanation toolkit on one clip (CPU): median time of each method, and the goals.

    python bench/bench_explain.py [--repeats 7] [--threads 2] [--model SRC]

Goals, checked against baselines measured in the same run:
  - all four accretion-layer Grad-CAMs together <= 2x one forward+backward pass;
  - predict + 4 AL Grad-CAMs + IG-32 + region table <= 1.5x decoding a 200-frame 640x480 clip.
The rows after the goal time the explanations over time: frame contributions on the clip's 200 aligned
frames, and key-frame stability (each distinct frame window re-aligned, pooled, classified and Grad-CAM'd;
k=1 "all" has 9 distinct windows with the onset-offset window, "axes" 5, plus the unjittered reference).
Without --model (or $LEARNET_MODEL / shipped weights), a randomly initialised LEARNet is used: the cost of
every method does not depend on the weights.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import explain as E  # noqa: E402
from timing import interleaved_times  # noqa: E402
from explain.regions import region_table  # noqa: E402
from explain.sanity import sanity_check  # noqa: E402
from learnet.model import ACCRETION_LAYERS, LEARNet  # noqa: E402


def make_video(path: Path, frames: int = 200, size: tuple[int, int] = (640, 480)) -> Path:
    """A 640x480 clip: matplotlib's sample face drifting sub-pixel, so face detection has something to find."""
    import cv2
    from matplotlib import cbook
    from PIL import Image

    from learnet.video import write_video

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        face = np.array(Image.open(f).convert("RGB").resize((300, 350)))
    w, h = size
    canvas = np.full((h, w, 3), 90, np.uint8)
    canvas[60:410, 170:470] = face
    out = []
    for t in range(frames):
        m = np.float32([[1, 0, 0], [0, 1, 0.01 * t]])
        out.append(cv2.warpAffine(canvas, m, (w, h), borderMode=cv2.BORDER_REPLICATE))
    return write_video(path, np.stack(out), 200.0)


def load(source: str | None) -> LEARNet:
    from learnet.hub import ModelLoadError, load_model

    try:
        return load_model(source)
    except ModelLoadError as exc:
        if source:
            raise
        print(f"(no shipped weights: {exc}; using a random LEARNet)", file=sys.stderr)
        torch.manual_seed(0)
        return LEARNet(class_names=["negative", "positive", "surprise"]).eval()


KEYS = (10, 100, 189)  # onset, apex, offset for the stability rows: room to jitter both ways


def timed_items(model: LEARNet, pipeline, clip, video: Path) -> dict:
    """Name -> callable of everything the benchmark times, on the clip's predicted class."""
    from learnet.video import read_clip

    pred = pipeline.predict(clip)
    x = pipeline.input_tensor(pred.preprocessed)
    target = model.class_names.index(pred.label)
    pre = pred.preprocessed

    def fwd_bwd():
        xi = x.clone().requires_grad_(True)
        model(xi)[0, target].backward()
        model.zero_grad(set_to_none=True)

    def predict_model():
        with torch.inference_mode():
            torch.softmax(model(x), dim=1)

    def captum_four():
        for layer in ACCRETION_LAYERS:
            E.gradcam(model, x, layer=layer)

    def goal():  # the goal: predict + 4 AL Grad-CAMs + IG-32 + region table
        predict_model()
        maps = list(E.gradcam_layers(model, x).values())
        maps.append(E.integrated_gradients(model, x, steps=32))
        region_table(maps)

    maps4 = list(E.gradcam_layers(model, x).values())
    return {
        "decode 200-frame 640x480 clip": lambda: read_clip(video),
        "pipeline.predict (align + DI + model)": lambda: pipeline.predict(clip),
        "predict: model only (inference_mode)": predict_model,
        "forward + backward": fwd_bwd,
        "Grad-CAM AL1-4, Captum per layer (x4)": captum_four,
        "Grad-CAM AL1-4, shared pass": lambda: E.gradcam_layers(model, x),
        "Grad-CAM last conv (Captum)": lambda: E.gradcam(model, x, layer="head"),
        "Guided Grad-CAM last conv": lambda: E.guided_gradcam(model, x, layer="head"),
        "IG-32 (one batch of 32)": lambda: E.integrated_gradients(model, x, steps=32),
        "SmoothGrad-25 (stdev 0.15)": lambda: E.smoothgrad(model, x),
        "occlusion 14 px / stride 7 (225 evals)": lambda: E.occlusion(model, x),
        "region table (4 maps)": lambda: region_table(maps4),
        "deletion curve (57 evals)": lambda: E.deletion_curve(model, x, maps4[1]),
        # 1 trained + 7 cascade + 4 independent copies, each with its 4 Grad-CAMs (one pass) and guided backprop
        "sanity check: Grad-CAM AL1-4 + guided backprop": lambda: sanity_check(
            model, x, ["gradcam:al1,al2,al3,al4", "guided-backprop"]),
        "GOAL: predict + 4 AL + IG-32 + regions": goal,
        "frame contributions, IG-32": lambda: E.explain_frames(model, pre, steps=32),
        "frame contributions, gradient x input": lambda: E.explain_frames(model, pre, method="gradient-x-input"),
        "motion energy of the window (frame curve)": lambda: E.frame_motion_energy(pre),
        "key-frame stability k=1, all (26 jitters)": lambda: E.keyframe_stability(pipeline, clip, *KEYS, k=1),
        "key-frame stability k=1, axes (8 jitters)": lambda: E.keyframe_stability(pipeline, clip, *KEYS, k=1,
                                                                                sample="axes"),
    }


def print_table(times: dict, repeats: int) -> None:
    """Medians, ratios to forward+backward and to decoding (medians of per-round ratios), and the goals."""
    med = {name: statistics.median(t) for name, t in times.items()}

    def ratio(name: str, base: str) -> float:
        return statistics.median(a / b for a, b in zip(times[name], times[base]))

    fb, dec = "forward + backward", "decode 200-frame 640x480 clip"
    print(f"\nexplain benchmark: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{repeats} interleaved rounds (medians; ratios are medians of per-round ratios)\n")
    print(f"{'what':<42} {'median ms':>10} {'x fwd+bwd':>10} {'x decode':>9}")
    print("-" * 74)
    for name in times:
        print(f"{name:<42} {med[name] * 1000:>10.1f} {ratio(name, fb):>10.2f} {ratio(name, dec):>9.3f}")
    shared = ratio("Grad-CAM AL1-4, shared pass", fb)
    total = ratio("GOAL: predict + 4 AL + IG-32 + regions", dec)
    print("-" * 74)
    print(f"4 AL Grad-CAMs, shared pass: {shared:.2f}x forward+backward (goal <= 2x): "
          f"{'met' if shared <= 2 else 'NOT met'}")
    print(f"predict + 4 AL + IG-32 + region table: {total:.3f}x decode (goal <= 1.5x): "
          f"{'met' if total <= 1.5 else 'NOT met'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timing rounds (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2, like a CPU Space)")
    parser.add_argument("--model", default=None, help="model folder or Hub id (default: shipped or random)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import cv2

    cv2.setNumThreads(args.threads)

    from learnet.pipeline import Pipeline
    from learnet.video import read_clip

    model = load(args.model)
    pipeline = Pipeline(model)
    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(Path(tmp) / "clip.mp4")
        items = timed_items(model, pipeline, read_clip(video), video)
        times = interleaved_times(items, args.repeats, warm_up=3)
    print_table(times, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
