"""Command line: `python -m learnet COMMAND ...` (see `python -m learnet --help`)."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import __version__
from .dynamic import VARIANTS, WINDOWS
from .face import FACE_MODES

EXIT_USAGE = 2


def _add_phase_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--onset", type=int, help="onset frame index (0-based); default: first frame")
    p.add_argument("--apex", type=int, help="apex frame index; default: middle of onset..offset")
    p.add_argument("--offset", type=int, help="offset frame index; default: last frame")
    p.add_argument("--fps", type=float, help="frame rate of a frame folder/zip (default 200) or override")
    p.add_argument("--require-face", action="store_true", help="fail instead of centre-cropping when no face is found")


def _cmd_dynamic_image(args: argparse.Namespace) -> int:
    import cv2

    from .pipeline import preprocess
    from .video import read_clip

    clip = read_clip(args.clip, fps=args.fps)
    pre = preprocess(
        clip.frames, face_mode=args.face_mode, size=args.size, di_variant=args.variant, window=args.window,
        onset=args.onset, apex=args.apex, offset=args.offset, require_face=args.require_face,
    )
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(pre.di_uint8, cv2.COLOR_RGB2BGR)):
        raise ValueError(f"could not write {out}; use a .png or .jpg name")
    for warning in pre.face.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {out} ({pre.di_uint8.shape[1]}x{pre.di_uint8.shape[0]}, frames {pre.window.start}..{pre.window.stop - 1} "
          f"of {clip.num_frames}, variant {args.variant})")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from .hub import load_model
    from .pipeline import Pipeline
    from .video import read_clip

    from .device import resolve_device

    device = resolve_device(args.device)
    model = load_model(args.model).to(device)
    pipeline = Pipeline(model, face_mode=args.face_mode)
    results = []
    for path in args.clips:
        clip = read_clip(path, fps=args.fps)
        pred = pipeline.predict(clip, onset=args.onset, apex=args.apex, offset=args.offset, require_face=args.require_face)
        results.append({"clip": str(path), **pred.to_dict()})
        if not args.json:
            ranked = sorted(pred.probabilities.items(), key=lambda kv: -kv[1])
            probs = "  ".join(f"{name} {p:.3f}" for name, p in ranked)
            if pred.abstention:
                print(f"{path}: {pred.result}  (top class {pred.label}, not meaningful: {probs})")
            else:
                print(f"{path}: {pred.label}  ({probs})")
            for warning in pred.preprocessed.face.warnings:
                print(f"  warning: {warning}", file=sys.stderr)
    if args.json:
        out = {"model": getattr(model, "source", None), "revision": getattr(model, "revision", None), "results": results}
        print(json.dumps(out, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m learnet",
        description="LEARNet micro-expression recognition: dynamic images, prediction, training.",
        epilog="Clips are video files (mp4, avi, mov, mkv, webm), folders of frames, or zips of frames.",
    )
    parser.add_argument("--version", action="version", version=f"learnet {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("dynamic-image", help="write the dynamic image of a clip as a PNG",
                       description="Align the face once, rank-pool the frame window and save the dynamic image.")
    p.add_argument("clip", help="video file, folder of frames or zip of frames")
    p.add_argument("-o", "--output", default="di.png", help="output image (default di.png)")
    p.add_argument("--face-mode", choices=FACE_MODES, default="auto", help="auto: detect+align; none: already cropped")
    p.add_argument("--variant", choices=VARIANTS, default="bilen",
                   help="bilen: approximate rank pooling (default); authors: the released code's coefficients")
    p.add_argument("--window", choices=WINDOWS, default="onset-offset", help="frames to pool")
    p.add_argument("--size", type=int, default=112, help="side of the aligned crop in pixels (default 112)")
    _add_phase_arguments(p)
    p.set_defaults(func=_cmd_dynamic_image)

    p = sub.add_parser("predict", help="classify clips with a LEARNet model",
                       description="Classify each clip; preprocessing follows the model's config.")
    p.add_argument("clips", nargs="+", help="video files, frame folders or zips")
    p.add_argument("--model", default=None,
                   help="model folder or Hub id org/name[@rev] (default: $LEARNET_MODEL, else the shipped demo weights)")
    p.add_argument("--face-mode", choices=FACE_MODES, default=None, help="override the model's face mode")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    p.add_argument("--device", default="auto", help="where the network runs: auto (CUDA, else Apple MPS, else CPU), "
                                                    "cpu, cuda[:N] or mps [auto]")
    _add_phase_arguments(p)
    p.set_defaults(func=_cmd_predict)

    # Training, reports and the generator register their subcommands beside their own code.
    from . import report, synth, train

    for module in (train, report, synth):
        module.register_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    from .hub import ModelLoadError
    from .video import ClipError

    try:
        return int(args.func(args) or 0)
    except (ClipError, ModelLoadError, ValueError, FileNotFoundError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
