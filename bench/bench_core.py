"""Core benchmark: decode vs dynamic image vs prediction on a generated 200-frame 640x480 clip.

Targets: the dynamic image (face alignment included) adds <= 20% over decoding; the streaming
dynamic image's peak memory for 2000 frames is within 1.2x of that for 100 frames.

    python bench/bench_core.py [--runs 11]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import interleaved_times, median_time  # noqa: E402
from learnet.model import LEARNet  # noqa: E402
from learnet.dynamic import dynamic_image  # noqa: E402
from learnet.face import find_face, warp_frames  # noqa: E402
from learnet.pipeline import Pipeline, preprocess, stream_dynamic_image  # noqa: E402
from learnet.video import read_clip, write_video  # noqa: E402


def make_clip(path: Path, n_frames: int) -> Path:
    """A real face (matplotlib's sample photo) on a 640x480 canvas, drifting 0.05 px per frame."""
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        face = cv2.resize(np.array(Image.open(f).convert("RGB")), (320, 375))
    canvas = np.full((480, 640, 3), 90, np.uint8)
    canvas[52:427, 160:480] = face
    frames = np.empty((n_frames, 480, 640, 3), np.uint8)
    for i in range(n_frames):
        M = np.float32([[1, 0, 0], [0, 1, 0.05 * i]])
        frames[i] = cv2.warpAffine(canvas, M, (640, 480), borderMode=cv2.BORDER_REPLICATE)
    return write_video(path, frames, fps=200)


def peak_memory(fn) -> int:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11, help="timed runs per row (median reported)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    pipeline = Pipeline(LEARNet(class_names=["negative", "positive", "surprise"]))
    with tempfile.TemporaryDirectory() as tmp:
        clip200 = make_clip(Path(tmp) / "clip200.mp4", 200)
        # Decoding and decoding + DI alternate run by run, so machine drift hits both alike.
        rounds = interleaved_times({
            "decode": lambda: read_clip(clip200),
            "with_di": lambda: preprocess(read_clip(clip200).frames),
            "predict": lambda: pipeline.predict(clip200),
        }, args.runs)
        decode, with_di, predict = (statistics.median(rounds[k]) for k in ("decode", "with_di", "predict"))
        best = {k: min(v) for k, v in rounds.items()}
        # The stages inside "face + dynamic image", one by one, on the decoded frames.
        frames = read_clip(clip200).frames
        face = find_face(frames)
        aligned = warp_frames(frames, face, 112)
        stages = [
            ("  face detection (onset frame)", median_time(lambda: find_face(frames), args.runs)),
            ("  alignment warp (200 frames)", median_time(lambda: warp_frames(frames, face, 112), args.runs)),
            ("  dynamic image (200 x 112 px)", median_time(lambda: dynamic_image(aligned), args.runs)),
        ]
        print(f"200-frame 640x480 clip, {torch.get_num_threads()} threads, median of {args.runs} runs\n")
        print("| stage                           | median s | vs decode |")
        print("|---------------------------------|---------:|----------:|")
        rows = [("decode", decode), ("decode + face + dynamic image", with_di), *stages, ("predict (all stages)", predict)]
        for name, t in rows:
            print(f"| {name:<31} | {t:8.3f} | {t / decode:9.2f} |")
        staged = sum(t for _, t in stages)
        print(f"\ndynamic image overhead over decoding (target <= 20%): {100 * (with_di / decode - 1):.1f}% end to "
              f"end (medians), {100 * (best['with_di'] / best['decode'] - 1):.1f}% (fastest runs), "
              f"{100 * staged / decode:.1f}% as the sum of its stages")

        clip100 = make_clip(Path(tmp) / "clip100.mp4", 100)
        clip2000 = make_clip(Path(tmp) / "clip2000.mp4", 2000)
        m100 = peak_memory(lambda: stream_dynamic_image(clip100))
        m2000 = peak_memory(lambda: stream_dynamic_image(clip2000))
        print("\n| streaming dynamic image | peak traced memory MB |")
        print("|-------------------------|----------------------:|")
        print(f"| 100 frames              | {m100 / 2**20:21.2f} |")
        print(f"| 2000 frames             | {m2000 / 2**20:21.2f} |")
        print(f"\nratio 2000/100 frames: {m2000 / m100:.3f} (target <= 1.2)")


if __name__ == "__main__":
    main()
