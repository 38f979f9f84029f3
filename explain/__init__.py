"""explain: which facial regions do LEARNet's accretion layers respond to?

Attribution methods on one dynamic image (all built on Captum), each returning an `AttributionMap`
(float32 map at input resolution + metadata):

- `gradcam` (one layer: al1..al4, fuse, head) and `gradcam_layers` (several layers, one shared pass)
- `guided_gradcam`, `integrated_gradients`, `smoothgrad`, `occlusion`
- `attribute(model, x, "ig", ...)`: any method by name, from the registry `METHODS`

Then `region_shares`/`region_table` (named regions of the face template), `faithfulness` (deletion and
insertion curves, energy inside a ground-truth mask, pointing game, random-map chance level), `overlay` and
`figure` (deterministic PDF/SVG/PNG), and the CLI ``python -m explain``.  Over time: `explain_frames` /
`frame_contributions` (which frames mattered, carried back exactly through the dynamic image) and
`keyframe_stability` (prediction flips and Grad-CAM similarity when onset/apex/offset move by k frames).
Trust: `sanity_check` (model-parameter randomisation, Adebayo et al. 2018) and `au_mask` (the regions of a
clip's annotated action units, to score maps against).
"""
from .base import LAYERS, METHODS, AttributionMap, ExplainError, attribute, get_method  # noqa: F401
from .baselines import BASELINES, make_baseline, zero_level  # noqa: F401
from .gradcam import gradcam, gradcam_layers  # noqa: F401
from .guided import guided_gradcam  # noqa: F401
from .integrated_gradients import integrated_gradients  # noqa: F401
from .smoothgrad import smoothgrad  # noqa: F401
from .occlusion import occlusion  # noqa: F401  (import order = registry order)
from .regions import RegionTable, region_shares, region_table  # noqa: F401
from .faithfulness import (  # noqa: F401
    deletion_curve, deletion_insertion_aucs, energy_in_mask, equal_weight_mean, faithfulness_aucs, insertion_curve,
    pointing_game, random_map_baseline,
)
from .figure import FigureRow, attribution_figure, region_bar_chart, save_figure  # noqa: F401
from .frames import FrameAttribution, apex_aligned_shares, explain_frames, frame_contributions  # noqa: F401
from .frames import frame_curve_figure, frame_motion_energy  # noqa: F401
from .similarity import spearman, ssim  # noqa: F401
from .stability import StabilityResult, jitter_offsets, keyframe_stability, stability_by_class  # noqa: F401
from .sanity import CASCADE, SanityRun, edge_map, guided_backprop, sanity_check, sanity_figure  # noqa: F401
from .sanity import summarise as sanity_summary, verdicts as sanity_verdicts  # noqa: F401
from .au_regions import AU_REGIONS, au_mask, au_region_names, mask_iou, parse_aus  # noqa: F401
