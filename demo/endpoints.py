"""The page's API parameters, specified once: `/predict` takes a `ClipRequest`, `/explain` and `/figure` an
`ExplainRequest` (the same leading parameters, then the explanation options).

Gradio reads an endpoint's parameters from its signature and the API page and the MCP tools read their
descriptions from its docstring, so `endpoint` gives each method the signature and the "Args:" lines of its
request class: the names, order, defaults and descriptions users see (and `gradio_client` calls by) are the
fields below, in this order.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gradio as gr


def _param(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class ClipRequest:
    """The clip and how to read it: the parameters every endpoint starts with."""

    video: str | None = _param(
        None, "the clip as a video file (mp4, webm, avi, mov, mkv); leave empty when frames_zip is given.")
    frames_zip: str | None = _param(None, "a zip of frame images of one clip (sorted by name), instead of a video.")
    auto_window: bool = _param(
        True, "True (default): find onset, apex and offset from the motion; False: use the three below.")
    onset: float = _param(0, "first frame of the expression (0-based); used only when auto_window is False.")
    apex: float = _param(0, "frame where the expression is strongest; used only when auto_window is False.")
    offset: float = _param(0, "last frame of the expression; used only when auto_window is False.")
    variant: str | None = _param(
        None, 'dynamic-image coefficients: "bilen" (correct; default) or "authors" (the released code\'s).')
    window: str | None = _param(
        None, 'frames pooled into the dynamic image: "onset-offset" (default), "onset-apex" or "apex-offset".')
    align: bool | None = _param(
        None, "True: find and align the face (webcam, phone); False: the clip is already an aligned face crop.")


@dataclass(frozen=True)
class ExplainRequest(ClipRequest):
    """A clip request plus the explanation options (`/explain`, `/figure`)."""

    methods: list[str] | None = _param(
        None, 'extra input attributions, slower: any of "SmoothGrad", "Occlusion" (default none).')
    background: str = _param("dynamic image", 'draw the maps over "dynamic image" (default) or "apex frame".')


ARGS_INDENT = " " * 12  # the docstrings' "Args:" entries, as Gradio's docstring parser expects them


def args_doc(request: type[ClipRequest]) -> str:
    """The "Args:" entries of a request class, one line per parameter."""
    return f"\n{ARGS_INDENT}".join(f"{f.name}: {f.metadata['doc']}" for f in dataclasses.fields(request))


def endpoint(request: type[ClipRequest]) -> Callable:
    """Turn `impl(self, request, progress)` into an endpoint method whose parameters are `request`'s fields
    (then Gradio's `progress`), with `{args}` in its docstring replaced by their descriptions."""

    def wrap(impl: Callable) -> Callable:
        params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        params += [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=f.default,
                                     annotation=f.type) for f in dataclasses.fields(request)]
        params.append(inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=gr.Progress(),
                                        annotation="gr.Progress"))
        signature = inspect.Signature(params, return_annotation=inspect.signature(impl).return_annotation)

        @functools.wraps(impl)
        def method(self, *args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            values = dict(bound.arguments)
            del values["self"]
            progress = values.pop("progress")
            return impl(self, request(**values), progress)

        method.__signature__ = signature
        method.__doc__ = impl.__doc__.replace("{args}", args_doc(request))
        return method

    return wrap
