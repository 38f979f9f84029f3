"""The explanation bundle of one clip: the maps asked for, their region shares, their faithfulness, and the
report of all three.

The page (`demo`), `python -m explain figure` and `python -m explain dataset` all build it with
`explanation_bundle`, so a map in the page's JSON report, in a figure's sidecar and in a dataset's class means
comes from the same calls.  Maps are asked for as `MethodSpec`s (`gradcam:al1,al2`, `ig:steps=64`, ...).
"""
from __future__ import annotations

import copy
import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch

from learnet.device import module_device
from learnet.model import LEARNet

from .base import LAYERS, METHODS, AttributionMap, ExplainError, get_method
from .faithfulness import faithfulness_aucs, random_map
from .regions import RegionTable, region_areas, region_table

CHANCE_MAP = "random 7x7 map"  # the chance reference among the faithfulness scores


@dataclass(frozen=True)
class MethodSpec:
    """One map request: `gradcam:al1,al2`, `ig`, `ig:steps=64`, `occlusion:window=14,stride=7`."""

    method: str
    layers: tuple[str, ...]
    params: dict[str, Any]

    def label(self) -> str:
        args = list(self.layers) + [f"{k}={v}" for k, v in self.params.items()]
        return self.method + (":" + ",".join(args) if args else "")


def parse_method_spec(text: str) -> MethodSpec:
    """Parse `METHOD[:ARG,...]`; ARG is a layer name (layer methods) or `key=value` (method parameters)."""
    name, _, rest = text.partition(":")
    method = get_method(name)
    layers: list[str] = []
    params: dict[str, Any] = {}
    for arg in filter(None, (a.strip() for a in rest.split(","))):
        if "=" in arg:
            key, _, value = arg.partition("=")
            params[key.strip().replace("-", "_")] = _parse_value(value.strip())
        elif method.needs_layer:
            layers.append(arg.lower())
        else:
            raise ExplainError(
                f"{method.name} works on the input and takes no layer ({arg!r} in {text!r}); "
                f"parameters go as key=value, e.g. ig:steps=64"
            )
    if method.needs_layer:
        layers = layers or ["head"]
        bad = [layer for layer in layers if layer not in LAYERS]
        if bad:
            raise ExplainError(f"unknown layer {bad[0]!r} in {text!r}; valid layers: {', '.join(LAYERS)}")
    return MethodSpec(method.name, tuple(layers), params)


def _parse_value(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(value.lower(), value)


def run_methods(model: LEARNet, x, specs: Sequence[MethodSpec], *, target=None, contrast=None,
                level: float = 0.5) -> list[AttributionMap]:
    """All maps the specs ask for, in order; several Grad-CAM layers share one pass.

    `level` is the clip's no-motion level for baselines (`learnet.pipeline.Pipeline.no_motion_level`).
    """
    from .gradcam import gradcam_layers

    maps: list[AttributionMap] = []
    for spec in specs:
        if spec.method == "gradcam" and not spec.params:
            maps.extend(gradcam_layers(model, x, spec.layers, target=target, contrast=contrast).values())
            continue
        params = dict(spec.params)
        fn = METHODS[spec.method].fn
        if "level" in inspect.signature(fn).parameters and "level" not in params:
            params["level"] = level
        try:
            if spec.layers:
                maps.extend(fn(model, x, layer=layer, target=target, contrast=contrast, **params)
                            for layer in spec.layers)
            else:
                maps.append(fn(model, x, target=target, contrast=contrast, **params))
        except TypeError as exc:  # an unknown key=value parameter
            raise ExplainError(f"bad parameter for {spec.method}: {exc}") from None
    return maps


@dataclass(frozen=True)
class FaithfulnessCheck:
    """How the maps' deletion and insertion AUCs are measured (toward the clip's no-motion level).

    Attributes:
        steps: slices of each map's pixel ranking per curve.
        chance_map: also score a random 7x7 map (`CHANCE_MAP`), the level a faithful map must beat.
        shared_batches: run every map's curves through the model in shared batches (faster); False scores each
            map on its own, as `deletion_insertion_aucs` does.
        on_cpu: score on a CPU copy of the model (a few hundred small forward passes, the maps are numpy
            arrays there already) rather than on the model's device.
        digits: round the AUCs (for a report people read); None keeps them exact.
    """

    steps: int = 28
    chance_map: bool = False
    shared_batches: bool = True
    on_cpu: bool = False
    digits: int | None = None


def map_name(m: AttributionMap) -> str:
    """A map's row name in the region table and the faithfulness scores: its title without "Grad-CAM " (AL1,
    IG, SmoothGrad, ...)."""
    return m.title.replace("Grad-CAM ", "")


@dataclass
class ExplanationBundle:
    """The maps of one input, in the order asked for, with their region table and faithfulness scores."""

    maps: list[AttributionMap]
    level: float  # the no-motion level the baselines used
    faithfulness: dict[str, dict] = field(default_factory=dict)  # by `map_name`, then `CHANCE_MAP`
    check: FaithfulnessCheck | None = None  # how `faithfulness` was measured; None: not measured
    seconds: dict[str, float] = field(default_factory=dict)  # per method, then "faithfulness"

    @property
    def layer_maps(self) -> list[AttributionMap]:
        """Maps of a layer (Grad-CAM of the accretion layers, ...), in order."""
        return [m for m in self.maps if m.layer is not None]

    @property
    def input_maps(self) -> list[AttributionMap]:
        """Maps of the input (integrated gradients, SmoothGrad, occlusion), in order."""
        return [m for m in self.maps if m.layer is None]

    @property
    def named(self) -> dict[str, AttributionMap]:
        return {map_name(m): m for m in self.maps}

    @cached_property
    def table(self) -> RegionTable:
        """Region shares of every map, one row per `map_name` (no area row: see `area_shares`)."""
        return region_table(self.named, include_area=False)

    @property
    def area_shares(self) -> dict[str, float]:
        """Each region's share of the face square: what a map without preference would give it."""
        return region_areas(self.maps[0].values.shape[0])

    def report(self) -> dict[str, Any]:
        """The maps' metadata with their region shares, the regions' areas and the faithfulness, JSON-able."""
        shares = self.table.as_dict()
        part: dict[str, Any] = {
            "explanations": [{**m.metadata(), "regions": shares.get(map_name(m), {})} for m in self.maps],
            "region_area_shares": self.area_shares,
        }
        if self.check is not None:
            part["faithfulness"] = {"steps": self.check.steps, "baseline": "no-motion level",
                                    "maps": self.faithfulness}
        return part


def explanation_bundle(model: LEARNet, x: torch.Tensor, methods: Sequence[MethodSpec], *, level: float,
                       target: int | str | None = None, contrast: int | str | None = None,
                       faithfulness: FaithfulnessCheck | None = None,
                       progress: Callable[[str], None] | None = None) -> ExplanationBundle:
    """Every map `methods` ask for on input `x` (see `run_methods`) and, with `faithfulness`, their deletion and
    insertion AUCs; `level` is the clip's no-motion level (`Pipeline.no_motion_level`), the baselines' value.

    `progress(stage)` is called as each stage starts: a method's name, then "faithfulness" (for a page's
    progress bar); `bundle.seconds` holds what each stage took.
    """
    maps: list[AttributionMap] = []
    seconds: dict[str, float] = {}
    for spec in methods:
        if progress:
            progress(spec.method)
        t0 = time.perf_counter()
        maps += run_methods(model, x, [spec], target=target, contrast=contrast, level=level)
        seconds[spec.method] = seconds.get(spec.method, 0.0) + time.perf_counter() - t0
    bundle = ExplanationBundle(maps, level, check=faithfulness, seconds=seconds)
    if faithfulness is not None and maps:
        if progress:
            progress("faithfulness")
        t0 = time.perf_counter()
        bundle.faithfulness = _faithfulness(model, x, bundle.named, level, faithfulness)
        seconds["faithfulness"] = time.perf_counter() - t0
    return bundle


def _faithfulness(model: LEARNet, x: torch.Tensor, named: dict[str, AttributionMap], level: float,
                  check: FaithfulnessCheck) -> dict[str, dict]:
    """Deletion and insertion AUC of every map (and of the chance map when asked) against its target class."""
    if check.on_cpu and module_device(model).type != "cpu":
        model = copy.deepcopy(model).cpu()
    candidates: dict[str, Any] = dict(named)
    if check.chance_map:
        candidates[CHANCE_MAP] = random_map(tuple(x.shape[-2:]), seed=0, resolution=7)
    if check.shared_batches:
        target = next(iter(named.values())).target
        aucs = faithfulness_aucs(model, x, candidates, target=target, steps=check.steps, baseline=level)
    else:
        aucs = {name: faithfulness_aucs(model, x, {name: m}, target=getattr(m, "target", None), steps=check.steps,
                                        baseline=level)[name] for name, m in candidates.items()}
    if check.digits is None:
        return aucs
    return {name: {k: round(v, check.digits) if isinstance(v, float) else v for k, v in pair.items()}
            for name, pair in aucs.items()}
