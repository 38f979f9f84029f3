# %% [markdown]
# # LEARNet on one clip, in a notebook
#
# Cells are marked `# %%`: open this file in Jupyter (with jupytext), VS Code or Spyder and run them one by one,
# or run it whole with `python docs/example_notebook.py`.  It classifies an example clip, finds the expression
# window with the motion heuristic, explains the prediction (Grad-CAM of the four accretion layers and
# integrated gradients), scores the maps per facial region and saves the figures.  About 2 s on a laptop CPU.
#
# `LEARNET_NOTEBOOK_CLIP` picks another clip (a video, a folder of frames or a zip of frames; set
# `LEARNET_NOTEBOOK_FACE_MODE=auto` for a camera video that needs face alignment), `LEARNET_NOTEBOOK_OUT` the
# output folder, `LEARNET_DEVICE` the device (auto: a GPU when there is one).

# %%
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent if "__file__" in globals() else Path.cwd()
if (ROOT / "learnet").is_dir() and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # a checkout, not an installed package

import explain  # noqa: E402
from learnet.device import device_from_env  # noqa: E402
from learnet.hub import load_model  # noqa: E402
from learnet.motion import estimate_phases  # noqa: E402
from learnet.pipeline import Pipeline  # noqa: E402
from learnet.video import read_clip  # noqa: E402

CLIP = Path(os.environ.get("LEARNET_NOTEBOOK_CLIP", ROOT / "demo" / "examples" / "surprise_1.mp4"))
FACE_MODE = os.environ.get("LEARNET_NOTEBOOK_FACE_MODE", "none")  # the examples are rendered already aligned
OUT = Path(os.environ.get("LEARNET_NOTEBOOK_OUT", "notebook-output"))
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## The model and the clip
# `load_model()` takes `$LEARNET_MODEL`, else the shipped demo weights (trained on synthetic faces).

# %%
device = device_from_env()
model = load_model().to(device)
pipeline = Pipeline(model, face_mode=FACE_MODE)
clip = read_clip(CLIP)
print(f"{CLIP.name}: {clip.num_frames} frames at {clip.fps:g} fps, {clip.size[1]}x{clip.size[0]} px; "
      f"model classes {pipeline.class_names} on {device}")

# %% [markdown]
# ## Where is the expression?  The motion-energy heuristic
# On aligned frames (here the clip itself), the frame-to-frame change of the face gives onset, apex and offset.

# %%
phases = estimate_phases(clip.frames)
print(phases.note)
print(f"onset {phases.onset}, apex {phases.apex}, offset {phases.offset} (reliable: {phases.reliable})")

# %% [markdown]
# ## Prediction on that window

# %%
prediction = pipeline.predict(clip, onset=phases.onset, apex=phases.apex, offset=phases.offset)
print("answer:", prediction.result)
for name, p in sorted(prediction.probabilities.items(), key=lambda kv: -kv[1]):
    print(f"  {name:>9} {p:.3f}")

# %% [markdown]
# ## Which facial regions did the accretion layers use?
# Grad-CAM of AL1-AL4 in one shared pass, and integrated gradients from the "no motion" input.

# %%
x = pipeline.input_tensor(prediction.preprocessed)
cams = explain.gradcam_layers(model, x, ("al1", "al2", "al3", "al4"))
ig = explain.integrated_gradients(model, x, steps=16, level=pipeline.no_motion_level(prediction.preprocessed))
maps = [*cams.values(), ig]
table = explain.region_table({m.title: m for m in maps})
print(table.to_csv(digits=3))
for m in maps:  # "other" (hair, background, the face's edge) is two thirds of the image: name a facial region
    region, share = max(((r, v) for r, v in explain.region_shares(m).items() if r != "other"), key=lambda kv: kv[1])
    print(f"  {m.title}: most of its attribution on a facial region: {region} ({share:.0%})")

# %% [markdown]
# ## Figures
# The paper figure (apex frame, dynamic image, every map on one colour scale) and the region bar chart, as PDF
# and PNG; the region table as CSV and LaTeX.

# %%
row = explain.FigureRow(f"{CLIP.name}\n{prediction.label} {prediction.probabilities[prediction.label]:.2f}",
                        prediction.preprocessed.di_uint8, maps, apex=prediction.keyframes["apex"])
figure = explain.attribution_figure([row])
saved = [explain.save_figure(figure, OUT / f"explanation.{suffix}", dpi=150) for suffix in ("pdf", "png")]
bars = explain.region_bar_chart(table, title="share of positive attribution per facial region")
saved += [explain.save_figure(bars, OUT / f"regions.{suffix}", dpi=150) for suffix in ("pdf", "png")]
table.to_csv(OUT / "regions.csv")
table.to_latex(OUT / "regions.tex")
np.save(OUT / "dynamic_image.npy", prediction.preprocessed.di)
print("wrote", ", ".join(str(p) for p in saved), "and the region table (csv, tex)")
