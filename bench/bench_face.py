"""Eye-finding benchmark on real faces: the permitted photos rendered as webcam frames.

Each rendering scales a photo so that its interocular distance is 35-120 px, rotates it slightly (+-8 deg),
maybe mirrors it, pastes it at a random place of a 640x480 frame over a random background, changes its
brightness and contrast, adds sensor noise and blurs / JPEG-compresses it like a webcam stream.  The hand
annotations (`learnet.synth.photos`) go through the same transform, so every frame has known eye centres.

For the code at commit a4ad08b (before) and the working tree's `learnet.face` (after), on the same
renderings, it prints: face and both-eye detection rates, eye-centre errors (px and as a fraction of the
interocular distance), the error of the aligned crop (where the annotated mouth corners land in template
units, against where the annotated eyes would put them), and the detection time per frame.

    python bench/bench_face.py [--renders 300] [--seed 0]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from learnet import face as face_after  # noqa: E402
from learnet.synth.photos import LANDMARKS, PHOTO_NAMES, load_photo  # noqa: E402

BEFORE_COMMIT = "a4ad08b"
FRAME_W, FRAME_H = 640, 480


def load_before() -> types.ModuleType:
    """`learnet.face` as it was at commit a4ad08b, as a stand-alone module."""
    source = subprocess.run(["git", "show", f"{BEFORE_COMMIT}:learnet/face.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    source = source.replace("from .template import", "from learnet.template import")
    source = source.replace("from .video import", "from learnet.video import")
    module = types.ModuleType("face_before")
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    exec(compile(source, f"{BEFORE_COMMIT}:learnet/face.py", "exec"), module.__dict__)
    return module


def _backgrounds() -> list[np.ndarray]:
    """Frame backgrounds: flat greys, a gradient, and the texture photos scikit-image ships."""
    out = [np.full((FRAME_H, FRAME_W, 3), v, np.uint8) for v in (40, 128, 215)]
    ramp = np.linspace(30, 220, FRAME_W, dtype=np.float32)[None, :, None] * np.ones((FRAME_H, 1, 3), np.float32)
    out.append(ramp.astype(np.uint8))
    try:
        from skimage import data

        for name in ("brick", "grass", "gravel"):
            tex = getattr(data, name)()
            tex = cv2.resize(tex, (FRAME_W, FRAME_H), interpolation=cv2.INTER_AREA)
            out.append(np.repeat(tex[..., None], 3, axis=2) if tex.ndim == 2 else tex[..., :3])
    except ImportError:
        pass
    return out


@dataclass
class Rendering:
    frame: np.ndarray  # (480, 640, 3) RGB uint8
    eyes: np.ndarray  # (2, 2) true eye centres, image-left first
    mouth: np.ndarray  # (2, 2) true mouth corners, image-left first
    interocular: float
    photo: str


def render(photo: np.ndarray, name: str, rng: np.random.Generator, background: np.ndarray,
           interocular: float | None = None, max_roll: float = 8.0) -> Rendering:
    """One webcam-like frame of `photo` with its annotations moved along."""
    eyes = np.asarray(LANDMARKS[name].eyes, np.float64)
    mouth = np.asarray(LANDMARKS[name].mouth_corners, np.float64)
    h, w = photo.shape[:2]
    if rng.random() < 0.5:  # mirror: x -> w - 1 - x, and the image-left point changes sides
        photo = photo[:, ::-1]
        eyes = np.array([[w - 1 - eyes[1, 0], eyes[1, 1]], [w - 1 - eyes[0, 0], eyes[0, 1]]])
        mouth = np.array([[w - 1 - mouth[1, 0], mouth[1, 1]], [w - 1 - mouth[0, 0], mouth[0, 1]]])
    d_photo = float(np.linalg.norm(eyes[1] - eyes[0]))
    d = float(interocular if interocular is not None else rng.uniform(35, 120))
    s, angle = d / d_photo, rng.uniform(-max_roll, max_roll)
    centre = (eyes[0] + eyes[1]) / 2
    # Keep the face (about 1.3 d beside the eye midpoint, 1 d above, 2.2 d below) inside the frame.
    tx = rng.uniform(min(1.3 * d, FRAME_W / 2), max(FRAME_W - 1.3 * d, FRAME_W / 2))
    ty = rng.uniform(min(1.0 * d, FRAME_H / 2), max(FRAME_H - 2.2 * d, FRAME_H / 2))
    M = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, s)
    M[:, 2] += np.array([tx, ty]) - centre
    to_frame = M.copy()
    if s < 0.7:  # pre-shrink with area averaging, as a camera would integrate, then rotate
        photo = cv2.resize(np.ascontiguousarray(photo), None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        pre = np.array([[1 / s, 0, 0], [0, 1 / s, 0], [0, 0, 1]])
        M = M @ pre
    warped = cv2.warpAffine(np.ascontiguousarray(photo), M, (FRAME_W, FRAME_H), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    mask = cv2.warpAffine(np.full(photo.shape[:2], 255, np.uint8), M, (FRAME_W, FRAME_H), flags=cv2.INTER_LINEAR)
    alpha = mask[..., None].astype(np.float32) / 255.0
    frame = warped.astype(np.float32) * alpha + background.astype(np.float32) * (1 - alpha)
    # Exposure: gain, offset and gamma; then sensor noise; then the codec's blur and blocking.
    frame = np.clip(frame * rng.uniform(0.6, 1.3) + rng.uniform(-25, 25), 0, 255)
    frame = 255.0 * (frame / 255.0) ** rng.uniform(0.75, 1.35)
    frame = np.clip(frame + rng.normal(0, rng.uniform(1, 6), frame.shape), 0, 255).astype(np.uint8)
    sigma = rng.uniform(0, 1.2)
    if sigma > 0.3:
        frame = cv2.GaussianBlur(frame, (0, 0), sigma)
    _, jpg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 85))])
    frame = cv2.imdecode(jpg, cv2.IMREAD_UNCHANGED)

    def move(points):
        return points @ to_frame[:, :2].T + to_frame[:, 2]

    return Rendering(frame, move(eyes), move(mouth), d, name)


@dataclass
class Outcome:
    face: bool
    eyes: bool  # both eyes detected (not estimated from the box)
    error_px: np.ndarray  # (2,) per-eye centre error of the returned eyes (detected or estimated)
    mouth_err: float  # mean mouth-corner error in the aligned crop, template units
    seconds: float
    box: tuple[int, int, int, int] | None = None


def evaluate(module: types.ModuleType, r: Rendering) -> Outcome:
    t0 = time.perf_counter()
    info = module.find_face(r.frame[None], mode="auto")
    seconds = time.perf_counter() - t0
    if not info.found:
        return Outcome(False, False, np.array([np.nan, np.nan]), np.nan, seconds)
    box = tuple(info.box)
    found = np.asarray(info.eyes, np.float64)
    error = np.linalg.norm(found - r.eyes, axis=1)
    truth = face_after.similarity_from_eyes(tuple(map(tuple, r.eyes)))
    landed = r.mouth @ info.transform[:, :2].T + info.transform[:, 2]
    should = r.mouth @ truth[:, :2].T + truth[:, 2]
    mouth_err = float(np.linalg.norm(landed - should, axis=1).mean())
    return Outcome(True, bool(info.eyes_detected), error, mouth_err, seconds, box)


def box_prior(rows: list[tuple[Rendering, Outcome]]) -> str:
    """Where the annotated eyes sit in the detected face boxes (the prior used when no eyes are found)."""
    lines = [f"{'annotated eyes in the face box':<30} {'n':>4} {'x left':>7} {'x right':>7} {'y':>6} {'IQR x':>6} {'IQR y':>6}"]
    names = sorted({r.photo for r, _ in rows})
    for name in (*names, "both"):
        rel = []
        for r, o in rows:
            if o.box is None or (name != "both" and r.photo != name):
                continue
            x, y, w, h = o.box
            if all(x <= ex <= x + w and y <= ey <= y + h for ex, ey in r.eyes):  # the box is this face
                rel.append([(r.eyes[0, 0] - x) / w, (r.eyes[1, 0] - x) / w, (r.eyes[:, 1].mean() - y) / h])
        rel = np.array(rel)
        if not len(rel):
            continue
        med = np.median(rel, axis=0)
        iqr = np.percentile(rel, 75, axis=0) - np.percentile(rel, 25, axis=0)
        lines.append(f"{name:<30} {len(rel):>4} {med[0]:7.3f} {med[1]:7.3f} {med[2]:6.3f} "
                     f"{(iqr[0] + iqr[1]) / 2:6.3f} {iqr[2]:6.3f}")
    return "\n".join(lines)


def summarise(label: str, rows: list[tuple[Rendering, Outcome]]) -> str:
    n = len(rows)
    face = np.mean([o.face for _, o in rows])
    eyes = np.mean([o.eyes for _, o in rows])
    found = [(r, o) for r, o in rows if o.face]
    err = np.concatenate([o.error_px for _, o in found]) if found else np.array([np.nan])
    rel = np.concatenate([o.error_px / r.interocular for r, o in found]) if found else np.array([np.nan])
    det = [(r, o) for r, o in found if o.eyes]
    rel_det = np.concatenate([o.error_px / r.interocular for r, o in det]) if det else np.array([np.nan])
    mouth = np.array([o.mouth_err for _, o in found]) if found else np.array([np.nan])
    ms = 1000 * np.median([o.seconds for _, o in rows])
    return (f"{label:<22} {n:>4} {100 * face:6.1f} {100 * eyes:6.1f} {np.median(err):7.2f} {np.percentile(err, 95):7.2f}"
            f" {100 * np.median(rel):6.1f} {100 * np.percentile(rel, 95):6.1f} {100 * np.median(rel_det):6.1f}"
            f" {np.median(mouth):7.3f} {np.percentile(mouth, 95):7.3f} {ms:6.1f}")


HEADER = (f"{'':<22} {'n':>4} {'face%':>6} {'eyes%':>6} {'med px':>7} {'p95 px':>7} {'med%d':>6} {'p95%d':>6}"
          f" {'det%d':>6} {'mouth':>7} {'m p95':>7} {'ms':>6}")
LEGEND = ("face%/eyes%: frames with a face / with both eyes detected; med/p95 px: eye-centre error of the eyes "
          "used (detected or estimated), over frames with a face; %d: the same as a percentage of the "
          "interocular distance d; det%d: median over detected eyes only; mouth: mean mouth-corner error in "
          "the aligned crop, template units (x 112 = px of a 112 px crop); ms: median find_face time.")


def timing_table(modules: dict[str, types.ModuleType], rows: list[tuple[Rendering, Outcome]], per_band: int = 12,
                 repeats: int = 5) -> str:
    """find_face time per frame: the best of `repeats` interleaved calls (robust to a busy machine), median
    over frames, by interocular band."""
    lines = [f"{'find_face ms (best of %d, median)' % repeats:<34}" + "".join(f"{k:>18}" for k in modules)]
    for band, lo, hi in (("d 35-60", 35, 60), ("d 60-90", 60, 90), ("d 90-120", 90, 121)):
        frames = [r.frame for r, _ in rows if lo <= r.interocular < hi][:per_band]
        best = {k: [] for k in modules}
        for frame in frames:
            times = {k: [] for k in modules}
            for _ in range(repeats):
                for k, module in modules.items():
                    t0 = time.perf_counter()
                    module.find_face(frame[None])
                    times[k].append(time.perf_counter() - t0)
            for k in modules:
                best[k].append(min(times[k]))
        lines.append(f"{band:<34}" + "".join(f"{1000 * np.median(best[k]):18.1f}" for k in modules))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=300, help="renderings per photo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--roll", type=float, default=8.0, help="largest head roll, degrees")
    args = parser.parse_args()
    before = load_before()
    modules = {"before (a4ad08b)": before, "after": face_after}
    photos = {name: load_photo(name) for name in PHOTO_NAMES}
    backgrounds = _backgrounds()
    rng = np.random.default_rng(args.seed)
    results: dict[str, list[tuple[Rendering, Outcome]]] = {k: [] for k in modules}
    for name, photo in photos.items():
        for _ in range(args.renders):
            r = render(photo, name, rng, backgrounds[int(rng.integers(len(backgrounds)))], max_roll=args.roll)
            for label, module in modules.items():  # interleaved, so machine load drifts hit both alike
                results[label].append((r, evaluate(module, r)))
    print(HEADER)
    bands = [("all", 0, 1e9), ("d 35-40", 35, 40), ("d 40-60", 40, 60), ("d 60-90", 60, 90), ("d 90-120", 90, 121)]
    for name in (*PHOTO_NAMES, "both"):
        for band, lo, hi in bands:
            for label in modules:
                rows = [(r, o) for r, o in results[label]
                        if (name == "both" or r.photo == name) and lo <= r.interocular < hi]
                if rows:
                    print(summarise(f"{name[:12]} {band} {label[:6]}", rows))
        print()
    print(LEGEND)
    print()
    print(box_prior(results["after"]))
    print("(boxes of the after detector; the prior it uses is learnet.face._BOX_EYES =", face_after._BOX_EYES, ")")
    print()
    print(timing_table(modules, results["after"]))


if __name__ == "__main__":
    main()
