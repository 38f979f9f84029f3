"""Which frames mattered: attribution carried back from the dynamic image to the frames, exactly.

A dynamic image is linear in the frames, DI = sum_t alpha_t I_t, and the model sees its input scaling, an
affine map x = scale * DI + shift read from the clip's own extrema (`learnet.dynamic_torch`).  Holding that
map at the clip's values, the step from the *no-motion* clip (every frame replaced by the window's first
frame, the neutral onset) to the clip splits into one term per frame:

    x - x0 = sum_t scale * alpha_t * (I_t - I_first)

so any attribution of the form (x - x0) * g splits exactly too: frame t contributes
``c_t = scale * alpha_t * <I_t - I_first, g>`` (g in the frames' pixel layout).  With g = the average
gradient along the straight path (integrated gradients), sum_t c_t = score(x) - score(x0) up to the
quadrature error (`delta`); with g = the gradient at x (gradient x input), sum_t c_t is the first-order
estimate of that difference and `delta` is the gap.  The first frame of the window is the reference and
contributes 0 by definition; frames outside the window the model pooled contribute 0 too.

Why the scale is held: minmax and signed scaling both make the score invariant to the *amplitude* of the
motion, so through the extrema every frame contribution of a single-pattern motion vanishes and their sum is
0 for any clip (Euler's theorem; `tests/test_explain_frames.py` checks it).  Holding the map attributes the
score to what the frames changed, at the clip's own contrast.

Scores are logits, at the unrounded model input (`learnet.dynamic_torch`), which differs from
`Pipeline.input_tensor` by at most half a uint8 step.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from captum.attr import IntegratedGradients

from learnet import dynamic_torch
from learnet.device import module_device
from learnet.dynamic import DEFAULT_INPUT_SCALING

from .base import ExplainError, attribution_mode, attribution_target

FRAME_METHODS: tuple[str, ...] = ("ig", "gradient-x-input")


@dataclass(frozen=True)
class FrameAttribution:
    """Per-frame contributions to one class score, for the frames onset..offset of a clip.

    Attributes:
        contributions: float64 (n,), one per frame from `first_frame` on (clip frame numbers), in logits.
        first_frame: clip index of ``contributions[0]``.
        method: "ig" or "gradient-x-input".
        target, target_name, contrast, contrast_name: the explained score (logit, or a logit difference).
        score, baseline_score: that score at the clip's input and at the no-motion input.
        delta: ``contributions.sum() - (score - baseline_score)`` (IG: quadrature error; gradient x input:
            the first-order gap).
        onset, apex, offset: key frames (clip indices); window: the frames the DI pooled (inclusive).
        params: the method's parameters, JSON-able.
    """

    contributions: np.ndarray
    first_frame: int
    method: str
    target: int
    target_name: str
    score: float
    baseline_score: float
    delta: float
    onset: int
    apex: int
    offset: int
    window: tuple[int, int]
    contrast: int | None = None
    contrast_name: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def target_label(self) -> str:
        """"surprise", or "surprise - negative" for a contrastive score."""
        return self.target_name if self.contrast is None else f"{self.target_name} - {self.contrast_name}"

    @property
    def frames(self) -> np.ndarray:
        """Clip frame numbers of `contributions`."""
        return np.arange(self.first_frame, self.first_frame + len(self.contributions))

    def share_inside(self, start: int, stop: int) -> float:
        """Share of the total |contribution| on clip frames start..stop (inclusive); NaN when all are 0."""
        a = np.abs(self.contributions)
        total = float(a.sum())
        if total <= 0.0:
            return float("nan")
        f = self.frames
        return float(a[(f >= start) & (f <= stop)].sum() / total)

    def shares(self) -> np.ndarray:
        """|contribution| of each frame as a share of the total (zeros when all are 0)."""
        a = np.abs(self.contributions)
        total = a.sum()
        return a / total if total > 0 else np.zeros_like(a)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary, the contributions included (rounded to 1e-6 logits)."""
        return {
            "method": self.method, "target": self.target, "target_name": self.target_name,
            "contrast": self.contrast, "contrast_name": self.contrast_name,
            "score": round(self.score, 6), "baseline_score": round(self.baseline_score, 6),
            "delta": round(self.delta, 6), "onset": self.onset, "apex": self.apex, "offset": self.offset,
            "window": list(self.window), "first_frame": self.first_frame,
            "contributions": [round(float(c), 6) for c in self.contributions], "params": dict(self.params),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FrameAttribution":
        """The inverse of `to_dict` (values as rounded there)."""
        return cls(np.asarray(d["contributions"], dtype=np.float64), int(d["first_frame"]), d["method"],
                   int(d["target"]), d["target_name"], float(d["score"]), float(d["baseline_score"]),
                   float(d["delta"]), int(d["onset"]), int(d["apex"]), int(d["offset"]), tuple(d["window"]),
                   d.get("contrast"), d.get("contrast_name"), dict(d.get("params", {})))


def _average_gradient(net: torch.nn.Module, index: int, x: torch.Tensor, x0: torch.Tensor, method: str,
                      steps: int, internal_batch_size: int | None) -> torch.Tensor:
    """The gradient g of the explained score that the frame terms multiply: at x, or averaged along x0 -> x."""
    if method == "gradient-x-input":
        xi = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(net(xi)[0, index], xi)
        return grad
    ig = IntegratedGradients(net, multiply_by_inputs=False)  # the path-averaged gradient, not (x - x0) * it
    return ig.attribute(x, baselines=x0, target=index, n_steps=steps, internal_batch_size=internal_batch_size)


def frame_contributions(
    model: torch.nn.Module,
    frames: np.ndarray | torch.Tensor,
    *,
    method: str = "ig",
    target: int | str | None = None,
    contrast: int | str | None = None,
    window: slice | None = None,
    first_frame: int = 0,
    apex: int | None = None,
    variant: str | None = None,
    scaling: str | None = None,
    steps: int = 32,
    internal_batch_size: int | None = 32,
) -> FrameAttribution:
    """Per-frame contributions of aligned frames (n, S, S, 3) to one class score (see the module docstring).

    Args:
        frames: the aligned frames onset..offset, any numeric dtype (uint8 as the pipeline keeps them).
        method: "ig" (integrated gradients, `steps` Gauss-Legendre points) or "gradient-x-input".
        target, contrast: the explained class (default: the predicted one) and an optional contrast class.
        window: the frames (indices into `frames`) the model's DI pools; default all.
        first_frame, apex: clip frame numbers of ``frames[0]`` and of the apex (default: the middle).
        variant, scaling: DI coefficients and input scaling; default the model's.
    """
    if method not in FRAME_METHODS:
        raise ExplainError(f"unknown frame attribution method {method!r}; choose one of {', '.join(FRAME_METHODS)}")
    if int(steps) < 1:
        raise ExplainError(f"integrated gradients need at least one step, got steps={steps}")
    n = len(frames)
    window = window or slice(0, n)
    lo, hi, _ = window.indices(n)
    if hi - lo < 2:
        raise ExplainError(f"a frame attribution needs a window of at least 2 frames, got {lo}..{hi - 1}")
    variant = variant or getattr(model, "di_variant", "bilen")
    scaling = scaling or getattr(model, "input_scaling", DEFAULT_INPUT_SCALING)
    device = module_device(model)
    f = torch.as_tensor(np.asarray(frames[lo:hi]), device=device).float()
    di = dynamic_torch.dynamic_image(f, variant)
    affine = dynamic_torch.input_scale(di, scaling)
    x = affine.apply(di)
    x0 = affine.apply(dynamic_torch.dynamic_image(f[:1].expand_as(f).contiguous(), variant))
    with attribution_mode(model):
        ex = attribution_target(model, x, target, contrast)
        g = _average_gradient(ex.net, ex.index, x, x0, method, int(steps), internal_batch_size)
        with torch.no_grad():
            base_score = float(ex.net(x0)[0, ex.index])
    alpha = dynamic_torch.rank_pooling_weights(hi - lo, variant, dtype=torch.float64, device=device)
    g_hwc = g.detach()[0].permute(1, 2, 0).double()
    # c_t = scale * alpha_t * <I_t - I_first, g>: one dot product per frame, no (T, S, S, 3) gradient tensor.
    dots = torch.einsum("thwc,hwc->t", (f - f[:1]).double(), g_hwc)
    inside = (affine.scale * alpha * dots).cpu().numpy()
    contributions = np.zeros(n, dtype=np.float64)
    contributions[lo:hi] = inside
    names = ex.names(model)
    params = {"variant": variant, "scaling": scaling, "reference": "first frame of the window"}
    if method == "ig":
        params.update(steps=int(steps), internal_batch_size=internal_batch_size)
    return FrameAttribution(
        contributions, int(first_frame), method, names["target"], names["target_name"], names["score"],
        base_score, float(contributions.sum() - (names["score"] - base_score)),
        int(first_frame), int(first_frame + (n - 1) // 2 if apex is None else apex), int(first_frame + n - 1),
        (int(first_frame + lo), int(first_frame + hi - 1)), names["contrast"], names["contrast_name"], params,
    )


def explain_frames(model: torch.nn.Module, pre: Any, *, method: str = "ig", target: int | str | None = None,
                   contrast: int | str | None = None, variant: str | None = None, steps: int = 32,
                   internal_batch_size: int | None = 32) -> FrameAttribution:
    """`frame_contributions` of a preprocessed clip (`learnet.pipeline.Preprocessed`): its aligned frames,
    its window and key frames.  `variant` is the pipeline's DI variant when it overrides the model's.

    Checks that the torch DI of those frames is the DI the pipeline pooled (a variant mismatch would
    otherwise explain another image).
    """
    window = slice(pre.window.start - pre.onset, pre.window.stop - pre.onset)
    variant = variant or getattr(model, "di_variant", "bilen")
    di = dynamic_torch.dynamic_image(torch.as_tensor(pre.aligned[window]).float(), variant).numpy()
    if not np.allclose(di, pre.di, rtol=1e-4, atol=1e-3 * max(1.0, float(np.abs(pre.di).max()))):
        raise ExplainError(f"the clip's dynamic image was not pooled with the {variant!r} coefficients; "
                           "pass the pipeline's di_variant")
    return frame_contributions(model, pre.aligned, method=method, target=target, contrast=contrast, window=window,
                               first_frame=pre.onset, apex=pre.apex, variant=variant, steps=steps,
                               internal_batch_size=internal_batch_size)


def apex_aligned_shares(attributions: list[FrameAttribution], radius: int) -> tuple[np.ndarray, np.ndarray,
                                                                                     np.ndarray]:
    """Mean |contribution| share by frame distance from the apex, over clips of different lengths.

    Returns (offsets -radius..radius, mean share at each offset over the clips that have that frame, the
    number of such clips).  Each clip's shares sum to 1 over its own frames; frames beyond `radius` from the
    apex are left out.
    """
    return aligned_shares([(a.frames - a.apex, a.shares()) for a in attributions], radius)


def aligned_shares(clips: list[tuple[np.ndarray, np.ndarray]], radius: int) -> tuple[np.ndarray, np.ndarray,
                                                                                    np.ndarray]:
    """`apex_aligned_shares` from (frame distance to the apex, share) array pairs, e.g. as cached per clip."""
    offsets = np.arange(-int(radius), int(radius) + 1)
    total = np.zeros(offsets.size)
    count = np.zeros(offsets.size, dtype=int)
    for rel, shares in clips:
        rel = np.asarray(rel, dtype=int)
        keep = np.abs(rel) <= radius
        np.add.at(total, rel[keep] + radius, np.asarray(shares, dtype=np.float64)[keep])
        np.add.at(count, rel[keep] + radius, 1)
    mean = np.divide(total, count, out=np.full(offsets.size, np.nan), where=count > 0)
    return offsets, mean, count


def frame_motion_energy(pre: Any) -> np.ndarray:
    """Motion-energy curve (`learnet.motion.motion_energy`, detrended) of a preprocessed clip's aligned frames
    onset..offset: the curve the frame contributions are drawn beside (its first value is the onset)."""
    from learnet.motion import motion_energy

    return motion_energy(pre.aligned, detrend=True)


@dataclass(frozen=True)
class FrameCurve:
    """One row of a frame-curve figure: the attribution, its motion-energy curve (optional) and a title.

    `energy_first_frame` is the clip frame of ``energy[0]`` (default: the attribution's first frame).
    """

    attribution: FrameAttribution
    energy: np.ndarray | None = None
    energy_first_frame: int | None = None
    fps: float | None = None
    title: str | None = None


def frame_curve_figure(attr: FrameAttribution, energy: np.ndarray | None = None, *,
                       energy_first_frame: int | None = None, fps: float | None = None,
                       width: str | float = "single", title: str | None = None):
    """Frame contributions (bars) beside the motion-energy curve, onset / apex / offset marked on both.

    `energy` is a motion-energy curve whose first value is clip frame `energy_first_frame` (default: the
    attribution's first frame), e.g. `frame_motion_energy(pre)`; without it only the contributions are drawn.
    `fps` adds the time per frame to the x label.  Returns a matplotlib Figure at its printed `width` (see
    `explain.figure.column_width`), text 7 pt.
    """
    return frame_curves_figure([FrameCurve(attr, energy, energy_first_frame, fps, title)], width=width)


def frame_curves_figure(rows: list[FrameCurve], *, width: str | float = "single"):
    """One line per clip: its frame contributions beside its motion energy (see `frame_curve_figure`)."""
    from matplotlib.figure import Figure

    from .figure import TEXT_PT, column_width

    if not rows:
        raise ExplainError("a frame-curve figure needs at least one clip")
    panels = 2 if any(r.energy is not None for r in rows) else 1
    fig = Figure(figsize=(column_width(width) or 3.5, 0.3 + 1.45 * len(rows)), dpi=100)
    grid = fig.subplots(len(rows), panels, squeeze=False)
    for row, axes in zip(rows, grid):
        _draw_frame_curve(row, axes, TEXT_PT)
    fig.set_layout_engine("constrained")
    return fig


def _draw_frame_curve(row: FrameCurve, axes, text_pt: float) -> None:
    attr = row.attribution
    c = attr.contributions
    colours = np.where(c >= 0, "#D55E00", "#0072B2")  # Okabe-Ito vermillion (for the class) / blue (against)
    axes[0].bar(attr.frames, c, width=0.9, color=colours, linewidth=0)
    axes[0].axhline(0, color="0.4", linewidth=0.5)
    label = "IG" if attr.method == "ig" else "gradient x input"
    heading = f"{row.title}: " if row.title else ""
    axes[0].set_title(f"{heading}frame contributions ({label})", fontsize=text_pt)
    axes[0].set_ylabel(f"{attr.target_label} logit", fontsize=text_pt)
    if row.energy is not None and len(axes) > 1:
        start = attr.first_frame if row.energy_first_frame is None else int(row.energy_first_frame)
        axes[1].plot(np.arange(start, start + len(row.energy)), row.energy, color="#000000", linewidth=0.9)
        axes[1].set_title("motion energy", fontsize=text_pt)
        axes[1].set_ylabel("grey levels", fontsize=text_pt)
    elif len(axes) > 1:
        axes[1].set_axis_off()
    xlabel = "frame" if not row.fps else f"frame ({1000.0 / row.fps:.1f} ms each)"
    for ax in axes[: 2 if row.energy is not None else 1]:
        ax.axvspan(attr.window[0] - 0.5, attr.window[1] + 0.5, color="0.93", zorder=0, linewidth=0)
        for name, at, style in (("on", attr.onset, ":"), ("apex", attr.apex, "--"), ("off", attr.offset, ":")):
            ax.axvline(at, color="0.25", linestyle=style, linewidth=0.7)
            ax.annotate(name, (at, 1.0), xycoords=("data", "axes fraction"), ha="center", va="bottom",
                        fontsize=text_pt - 1, color="0.25")
        ax.set_xlabel(xlabel, fontsize=text_pt)
        ax.tick_params(labelsize=text_pt - 1, length=2)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.title.set_position((0.5, 1.12))
