"""Finish the demo weights: score them on held-out real-photo clips and write the plain-spoken model card.

    python models/finalize_demo_card.py TRAINED_MODEL_DIR PHOTO_MANIFEST OUT_DIR

Called by models/make_demo_weights.sh; see the README section "Demo weights".
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from learnet import metrics  # noqa: E402
from learnet.datasets import read_manifest  # noqa: E402
from learnet.hub import load_model, save_model  # noqa: E402
from learnet.pipeline import Pipeline  # noqa: E402
from learnet.video import read_frames  # noqa: E402

HEADER = """## What these weights are

**Trained on synthetic clips, for demonstrating the toolkit.** The training data are procedurally drawn faces
animated with action-unit displacement fields at micro-expression amplitude (0.5-3 px), with blinks, head
motion, flicker, noise and compression in every class (`python -m learnet synth`). They are not evidence
about real micro-expressions and must not be used to judge people. For real use, train on a licensed
dataset (README, "Train on your own data"), e.g.

    python -m learnet train --casme2 /data/CASME2/Cropped --face-mode none --label-map casme2_5c --out runs/casme2 --all-subjects

and point the demo at the result: `LEARNET_MODEL=org/name@rev python app.py`.

Re-create these weights from scratch (2-core CPU, about 21 minutes): `bash models/make_demo_weights.sh`
(synthetic generator of learnet commit {generator}).

Face mode.  The synthetic clips are rendered already aligned to the face template, so training and the
scores below used face mode `none`; the config asks for `auto`, so an uploaded video is aligned to that same
template before it reaches the network.  Run synthetic clips (e.g. `demo/examples`) with `--face-mode none`
(the demo's examples do this).

Input scaling.  `signed`: the network sees DI / max|DI| in [-1, 1], so "no motion" is 0, the value the
convolutions' zero padding adds.  With the paper's min-max scaling the Grad-CAM of AL1/AL3 put about 40% of
its mass on a band along the image border (README, "Signed input scaling").

- Held-out real face: {photo_n} clips animated from matplotlib's `grace_hopper.jpg` (never used in training):
  accuracy {photo_acc:.3f}, UF1 {photo_uf1:.3f}.

"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="the --all-subjects model folder")
    parser.add_argument("photo_manifest", help="manifest of the grace_hopper clips")
    parser.add_argument("out", help="where to write the finished weights")
    parser.add_argument("--generator", default="f62eaa8", help="learnet commit whose learnet/synth made the data")
    args = parser.parse_args()
    model = load_model(args.model)
    pipeline = Pipeline(model)
    truth, predicted = [], []
    for sample in read_manifest(args.photo_manifest):
        clip = read_frames(list(sample.frames), fps=sample.fps or 200.0)
        prediction = pipeline.predict(clip, onset=sample.onset, apex=sample.apex, offset=sample.offset)
        truth.append(sample.label)
        predicted.append(prediction.label)
    photo = metrics.scores(truth, predicted, model.class_names)
    print(f"grace_hopper clips: accuracy {photo.accuracy:.3f}, UF1 {photo.uf1:.3f} ({photo.n} clips)")
    model.metadata["photo_check"] = photo.to_dict()
    model.metadata["trained_face_mode"] = model.face_mode
    model.face_mode = "auto"  # uploads are raw videos: align them to the template the clips were rendered in
    model.metadata["model_card"] = HEADER.format(
        photo_n=photo.n, photo_acc=photo.accuracy, photo_uf1=photo.uf1, generator=args.generator
    ) + model.metadata.get("model_card", "")
    folder = save_model(model, args.out)
    print(f"wrote {folder}")


if __name__ == "__main__":
    main()
