"""Synthetic micro-expressions with ground-truth motion masks.

No real micro-expression dataset may ship with the toolkit, so this package draws its own: procedural faces
(one identity per subject, or a real face photo) that make micro-expressions from facial action units, each
a smooth local displacement field anchored to the canonical template (`learnet.template`), at
micro-expression scale (0.5-3 px at a 128 px face, 200 fps, onset -> apex -> offset).  Blinks, rigid head
motion, glasses, illumination flicker, sensor noise and JPEG compression occur in every class, so a model has
to find the muscles.  Every clip records its subject, AUs, phases and the mask of where the AUs moved the
face.  It is a benchmark for the toolkit and its explanations, honest about being synthetic: results on it
say nothing about real faces.

Modules: `faces` (identities and drawing), `action_units` (AU fields, label sets), `render` (envelope,
nuisances, animation), `variation` (domain randomisation, `--vary`), `clips` (`make_clip`, `make_photo_clip`),
`dataset` (`write_dataset`, the CLI), `photos` (the permitted real photos and their landmarks) and `realface`
(the real-face benchmark's own motion model, independent of the others: never train on it).
"""
from .action_units import ACTION_UNITS, LABEL_SETS, au_combinations, class_names, displacement_field
from .clips import MASK_FRACTION, SynthClip, align_photo, grace_hopper, make_clip, make_photo_clip
from .dataset import register_cli, write_dataset
from .faces import FaceIdentity, draw_face, random_identity
from .render import Nuisances, Timing, envelope

__all__ = [
    "ACTION_UNITS", "LABEL_SETS", "MASK_FRACTION", "FaceIdentity", "Nuisances", "SynthClip", "Timing",
    "align_photo", "au_combinations", "class_names", "displacement_field", "draw_face", "envelope",
    "grace_hopper", "make_clip", "make_photo_clip", "random_identity", "register_cli", "write_dataset",
]
