"""Writing a synthetic dataset in the project's manifest format, and the `synth` command line.

Layout (frames format)::

    OUT/manifest.csv                      one row per clip (docs/CONTRACT.md), plus mask/seed/... columns
    OUT/generator.json                    the generator's settings, to re-create the set
    OUT/s01/s01_negative_01/000.jpg ...   frames (the clip's own JPEG bytes; PNG when compression is off)
    OUT/s01/s01_negative_01_mask.png      ground-truth motion mask, template coordinates, 0/255

With `--format mp4` each clip is `OUT/s01/s01_negative_01.mp4` instead.  Every clip has its own seed derived
from the dataset seed, so the set is byte-identical for a given seed whatever the number of workers.
"""
from __future__ import annotations

import csv
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .. import __version__
from .action_units import DEFAULT_LABEL_SET, LABEL_SETS, class_names
from .clips import PEAK_PX, SynthClip, grace_hopper, make_clip, make_photo_clip
from .render import Nuisances
from .variation import Variation

DATASET_NAME = "synth"
MANIFEST = "manifest.csv"
BASE_COLUMNS = ("dataset", "subject", "clip", "path", "fps", "onset", "apex", "offset", "label", "aus")
EXTRA_COLUMNS = ("mask", "n_frames", "seed", "face_seed", "face", "peak_px", "blink")
FORMATS = ("frames", "mp4")
GRACE_HOPPER = "grace_hopper"  # --photo value naming matplotlib's sample photo


def _derived_seed(*entropy: int) -> int:
    """A 32-bit seed from the dataset seed and a position, independent of generation order."""
    return int(np.random.SeedSequence([int(e) for e in entropy]).generate_state(1)[0])


@dataclass(frozen=True)
class ClipJob:
    """Everything needed to make and write one clip (picklable, for worker processes)."""

    subject: str
    clip: str
    label: str
    seed: int
    face_seed: int | None  # None: the photo
    size: int
    fps: float
    frame_size: int | None
    label_set: str
    nuisances: Nuisances
    n_frames: tuple[int, int]
    peak_px: tuple[float, float] = PEAK_PX
    vary: bool = False  # domain randomisation (learnet.synth.variation)


def plan_dataset(
    subjects: int,
    clips_per_class: int,
    seed: int,
    *,
    size: int = 128,
    fps: float = 200.0,
    frame_size: int | None = None,
    label_set: str = DEFAULT_LABEL_SET,
    nuisances: Nuisances | None = None,
    n_frames: tuple[int, int] = (32, 48),
    peak_px: tuple[float, float] = PEAK_PX,
    photo: bool = False,
    vary: bool = False,
) -> list[ClipJob]:
    """The clips of a dataset, in manifest order: subjects s01.., each with `clips_per_class` per class.

    With `photo`, a subject "photo" (the user's face photo) gets the same number of clips per class.
    `vary` applies domain randomisation (`learnet.synth.variation`) to the procedural subjects; its own
    nuisances then apply unless `nuisances` is given.
    """
    if subjects < 0 or clips_per_class < 1:
        raise ValueError(f"need subjects >= 0 and clips per class >= 1, got {subjects} and {clips_per_class}")
    if subjects == 0 and not photo:
        raise ValueError("nothing to generate: give at least one subject or a photo")
    names = class_names(label_set)
    nz = (Variation().nuisances if vary else Nuisances()) if nuisances is None else nuisances
    common = dict(size=size, fps=float(fps), frame_size=frame_size, label_set=label_set, nuisances=nz,
                  n_frames=tuple(n_frames), peak_px=tuple(peak_px))
    digits = max(2, len(str(subjects)))
    jobs = []
    for i in range(1, subjects + 1):
        subject = f"s{i:0{digits}d}"
        face_seed = _derived_seed(seed, 0, i)
        for c, label in enumerate(names):
            for k in range(1, clips_per_class + 1):
                jobs.append(ClipJob(subject, f"{subject}_{label}_{k:02d}", label, _derived_seed(seed, 1, i, c, k),
                                    face_seed, **common, vary=vary))
    if photo:
        for c, label in enumerate(names):
            for k in range(1, clips_per_class + 1):
                jobs.append(ClipJob("photo", f"photo_{label}_{k:02d}", label, _derived_seed(seed, 2, c, k), None,
                                    **{**common, "frame_size": None}))
    return jobs


def render_job(job: ClipJob, photo_rgb: np.ndarray | None = None) -> SynthClip:
    """Make the clip a job describes (in memory)."""
    if job.face_seed is None:
        if photo_rgb is None:
            raise ValueError(f"clip {job.clip} needs the face photo")
        return make_photo_clip(photo_rgb, job.label, job.seed, subject=job.subject, size=job.size, fps=job.fps,
                               label_set=job.label_set, nuisances=job.nuisances, n_frames=job.n_frames,
                               peak_px=job.peak_px)
    return make_clip(job.label, job.seed, identity=job.face_seed, subject=job.subject, size=job.size,
                     frame_size=job.frame_size, fps=job.fps, label_set=job.label_set, nuisances=job.nuisances,
                     n_frames=job.n_frames, peak_px=job.peak_px, variation=Variation() if job.vary else None)


def write_clip(clip: SynthClip, out: Path, name: str, fmt: str = "frames") -> tuple[str, str]:
    """Write one clip under `out` (frames folder or mp4) and its mask PNG; returns both relative paths."""
    from ..video import write_video

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    folder = out / clip.subject
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "mp4":
        target = folder / f"{name}.mp4"
        write_video(target, clip.frames, clip.fps)
    else:
        target = folder / name
        target.mkdir(exist_ok=True)
        for t, frame in enumerate(clip.frames):
            if clip.jpeg is not None:  # the exact bytes the compression nuisance produced
                (target / f"{t:03d}.jpg").write_bytes(clip.jpeg[t])
            else:
                _imwrite(target / f"{t:03d}.png", frame)
    mask_path = folder / f"{name}_mask.png"  # beside, not inside, the frames folder: it is not a frame
    _imwrite(mask_path, clip.mask.astype(np.uint8) * 255)
    return target.relative_to(out).as_posix(), mask_path.relative_to(out).as_posix()


def _imwrite(path: Path, image: np.ndarray) -> None:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(path.suffix, image)
    if not ok:
        raise OSError(f"could not encode {path}")
    path.write_bytes(buf.tobytes())


def manifest_row(job: ClipJob, clip: SynthClip, path: str, mask: str) -> dict:
    """The manifest row of a written clip."""
    blink = clip.nuisances.get("blink")
    onset, offset = clip.onset, clip.offset
    if job.vary and np.random.default_rng([job.seed, 4]).uniform() < Variation().unannotated:
        onset, offset = 0, clip.n_frames - 1  # analysed like an unannotated upload: the whole clip
    return {
        "dataset": DATASET_NAME, "subject": clip.subject, "clip": job.clip, "path": path, "fps": f"{clip.fps:g}",
        "onset": onset, "apex": clip.apex, "offset": offset, "label": clip.label,
        "aus": "+".join(map(str, clip.aus)), "mask": mask, "n_frames": clip.n_frames, "seed": job.seed,
        "face_seed": "" if job.face_seed is None else job.face_seed, "face": clip.face,
        "peak_px": f"{clip.peak_px:.4f}", "blink": f"{blink[0]}-{blink[1]}" if blink else "",
    }


_WORKER_PHOTO: np.ndarray | None = None


def _init_worker(photo: np.ndarray | None) -> None:
    global _WORKER_PHOTO
    _WORKER_PHOTO = photo
    cv2.setNumThreads(1)  # one process per core already


def _run_job(args: tuple[ClipJob, str, str]) -> dict:
    job, out, fmt = args
    clip = render_job(job, _WORKER_PHOTO)
    path, mask = write_clip(clip, Path(out), job.clip, fmt)
    return manifest_row(job, clip, path, mask)


def write_dataset(
    out: str | os.PathLike,
    subjects: int = 20,
    clips_per_class: int = 10,
    seed: int = 0,
    *,
    size: int = 128,
    fps: float = 200.0,
    fmt: str = "frames",
    frame_size: int | None = None,
    label_set: str = DEFAULT_LABEL_SET,
    nuisances: Nuisances | None = None,
    n_frames: tuple[int, int] = (32, 48),
    peak_px: tuple[float, float] = PEAK_PX,
    photo: np.ndarray | None = None,
    workers: int = 1,
    progress: bool = False,
    vary: bool = False,
) -> Path:
    """Generate a synthetic dataset into the folder `out`; returns the path of its manifest.csv.

    The folder must be empty or new.  `photo` (RGB uint8) adds a subject "photo" made from that face.
    `workers` > 1 renders clips in parallel processes; the output does not depend on it.
    """
    out = Path(out)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} already exists and is not an empty folder; choose a new output folder")
    jobs = plan_dataset(subjects, clips_per_class, seed, size=size, fps=fps, frame_size=frame_size,
                        label_set=label_set, nuisances=nuisances, n_frames=n_frames, peak_px=peak_px,
                        photo=photo is not None, vary=vary)
    out.mkdir(parents=True, exist_ok=True)
    tasks = [(job, str(out), fmt) for job in jobs]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="clip", desc="synth", file=sys.stderr)
    rows: list[dict] = []
    if workers > 1:
        # "spawn": forking a process that may hold torch/OpenCV threads can deadlock.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(photo,)) as pool:
            results = pool.map(_run_job, tasks, chunksize=4)  # map keeps manifest order
            for row in results:
                rows.append(row)
                if bar is not None:
                    bar.update()
    else:
        global _WORKER_PHOTO
        _WORKER_PHOTO = photo
        try:
            for task in tasks:
                rows.append(_run_job(task))
                if bar is not None:
                    bar.update()
        finally:
            _WORKER_PHOTO = None
    if bar is not None:
        bar.close()

    manifest = out / MANIFEST
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=BASE_COLUMNS + EXTRA_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    settings = {
        "generator": f"learnet.synth {__version__}", "seed": seed, "subjects": subjects,
        "clips_per_class": clips_per_class, "label_set": label_set, "classes": list(class_names(label_set)),
        "size": size, "frame_size": frame_size, "fps": fps, "format": fmt, "n_frames": list(n_frames),
        "peak_px": list(peak_px), "domain_randomisation": vary,
        "photo": photo is not None, "nuisances": {k: v for k, v in vars(jobs[0].nuisances).items()},
        "mask": "apex AU displacement above 10% of the clip's peak, template coordinates",
        "note": "Synthetic micro-expressions (procedurally drawn faces, AU displacement fields); "
                "not a substitute for a real dataset.",
    }
    (out / "generator.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return manifest


# ------------------------------------------------------------------------------------------------- CLI


def register_cli(subparsers) -> None:
    """Add the `synth` subcommand to `python -m learnet`."""
    p = subparsers.add_parser(
        "synth", help="generate a synthetic micro-expression dataset with ground-truth motion masks",
        description="Draw synthetic subjects (procedural faces, optionally a real face photo) making "
                    "micro-expressions from facial action units, with blinks, head motion, flicker, noise and "
                    "compression, and write frames or mp4 plus manifest.csv and per-clip motion masks.",
        epilog="Example: python -m learnet synth --out data/synth --subjects 20 --clips-per-class 10 --seed 0",
    )
    p.add_argument("--out", required=True, help="output folder (must be new or empty)")
    p.add_argument("--subjects", type=int, default=20, help="procedural subjects (default 20)")
    p.add_argument("--clips-per-class", type=int, default=10, help="clips per subject and class (default 10)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed; same seed, same bytes (default 0)")
    p.add_argument("--size", type=int, default=128, help="face crop side in px (default 128)")
    p.add_argument("--frame-size", type=int, default=None,
                   help="embed the face crop in a larger square frame with background (tests face alignment)")
    p.add_argument("--fps", type=float, default=200.0, help="nominal frame rate (default 200, like CASME II)")
    p.add_argument("--frames", type=int, nargs=2, default=(32, 48), metavar=("MIN", "MAX"),
                   help="clip length range in frames (default 32 48)")
    p.add_argument("--peak", type=float, nargs=2, default=PEAK_PX, metavar=("MIN", "MAX"),
                   help=f"apex displacement range in px at a 128 px face (default {PEAK_PX[0]:g} {PEAK_PX[1]:g})")
    p.add_argument("--format", choices=FORMATS, default="frames",
                   help="frames: a folder of JPEG frames per clip (default); mp4: one video per clip")
    p.add_argument("--label-set", choices=tuple(LABEL_SETS), default=DEFAULT_LABEL_SET,
                   help="classes: megc2019_3c (negative/positive/surprise, default) or casme2_5c")
    p.add_argument("--photo", default=None,
                   help=f"also animate this face photo as subject 'photo' ('{GRACE_HOPPER}': matplotlib's sample)")
    p.add_argument("--no-nuisances", action="store_true",
                   help="pure AU motion: no blinks, head motion, flicker, noise or compression")
    p.add_argument("--vary", action="store_true",
                   help="domain randomisation: random AU geometry, time courses, alignment error, faces and "
                        "capture (learnet.synth.variation), for models meant to work on real video; a third of "
                        "the clips then carry the whole clip as their window, like an unannotated upload")
    p.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    p.set_defaults(func=_cmd_synth)


def _load_photo(spec: str) -> np.ndarray:
    if spec == GRACE_HOPPER:
        return grace_hopper()
    from ..video import read_image

    if not Path(spec).is_file():
        raise FileNotFoundError(f"the photo {spec} does not exist")
    return read_image(spec)


def _cmd_synth(args) -> int:
    if args.size < 16 or (args.frame_size is not None and args.frame_size < args.size):
        raise ValueError(f"need --size >= 16 and --frame-size >= --size, got {args.size} and {args.frame_size}")
    if args.fps <= 0 or args.workers < 1:
        raise ValueError("--fps must be positive and --workers at least 1")
    if not 0 < args.peak[0] <= args.peak[1]:
        raise ValueError(f"--peak needs 0 < MIN <= MAX, got {args.peak[0]:g} {args.peak[1]:g}")
    photo = _load_photo(args.photo) if args.photo else None
    start = time.perf_counter()
    manifest = write_dataset(
        args.out, args.subjects, args.clips_per_class, args.seed, size=args.size, fps=args.fps, fmt=args.format,
        frame_size=args.frame_size, label_set=args.label_set,
        nuisances=Nuisances.none() if args.no_nuisances else None, n_frames=tuple(args.frames),
        peak_px=tuple(args.peak), photo=photo, workers=args.workers, progress=True, vary=args.vary,
    )
    with open(manifest, encoding="utf-8") as fh:
        n = sum(1 for _ in fh) - 1
    print(f"wrote {n} clips to {manifest} in {time.perf_counter() - start:.1f} s")
    return 0

