"""Integrated gradients (Sundararajan et al., ICML 2017) from a dynamic-image baseline.

IG integrates the gradient along the straight path from a baseline to the input; its attributions sum to
score(input) - score(baseline) ("completeness") up to the quadrature error, which Captum reports as the
convergence delta and which we keep on the map.  The default baseline is the "no motion" constant image
(`explain.baselines`), so the map says which motion moved the logit.
"""
from __future__ import annotations

import torch
from captum.attr import IntegratedGradients

from learnet.model import LEARNet

from .base import AttributionMap, ExplainError, attribution_mode, attribution_target, check_input, register, to_map
from .baselines import make_baseline, no_motion_level


@register("ig", title="IG", needs_layer=False, aliases=("integrated-gradients",))
def integrated_gradients(
    model: LEARNet,
    x: torch.Tensor,
    *,
    target: int | str | None = None,
    contrast: int | str | None = None,
    steps: int = 32,
    internal_batch_size: int | None = 32,
    baseline: str | float = "no-motion",
    level: float | None = None,
    sigma: float = 8.0,
) -> AttributionMap:
    """Integrated gradients with `steps` Gauss-Legendre points, evaluated `internal_batch_size` at a time.

    The (3, H, W) attributions are summed over channels, so ``map.values.sum()`` is the total attribution and
    ``map.delta`` its difference from score(x) - score(baseline).
    """
    x = check_input(model, x)
    steps = int(steps)
    if steps < 1:
        raise ExplainError(f"integrated gradients need at least one step, got steps={steps}")
    level = no_motion_level(model) if level is None else float(level)
    if isinstance(baseline, str):  # names are case-insensitive; record the one spelling
        baseline = baseline.strip().lower().replace("_", "-")
    base = make_baseline(x, baseline, level=level, sigma=sigma)
    with attribution_mode(model):
        ex = attribution_target(model, x, target, contrast)
        attr, delta = IntegratedGradients(ex.net).attribute(
            x, baselines=base, target=ex.index, n_steps=steps,
            internal_batch_size=internal_batch_size, return_convergence_delta=True,
        )
        with torch.no_grad():
            base_score = float(ex.net(base)[0, ex.index])
    params = {
        "steps": steps, "internal_batch_size": internal_batch_size, "baseline": baseline,
        "baseline_score": base_score, "channels": "sum",
    }
    if baseline in ("no-motion", "constant", "static"):
        params["level"] = level
    elif baseline == "blurred":
        params["sigma"] = sigma
    return AttributionMap(to_map(attr), "ig", None, params=params, delta=float(delta[0]), **ex.names(model))
