"""Runtime settings of the demo page: limits, queue, threads and the cost of each explanation.

The defaults fit a CPU Basic Hugging Face Space (2 vCPU, 16 GB): one analysis at a time using both cores, a
short queue, and clips bounded so one upload cannot exhaust memory.  Environment variables override a few of
them for bigger machines.
"""
from __future__ import annotations

import os

from learnet.video import ClipLimits

# A clip of 600 frames is 3 s at 200 fps (CASME II, SAMM) or 20 s of webcam video at 30 fps; frames above
# 640 px are downscaled on reading (faces are aligned to 112 px anyway).  600 decoded 640x480 frames take
# about 550 MB.
LIMITS = ClipLimits(
    max_frames=int(os.environ.get("LEARNET_DEMO_MAX_FRAMES", 600)),
    max_long_side=640,
    max_file_bytes=int(float(os.environ.get("LEARNET_DEMO_MAX_UPLOAD_MB", 50)) * 2**20),
)
MAX_UPLOAD = LIMITS.max_file_bytes  # Gradio refuses bigger uploads before they reach the handlers
VIDEO_TYPES = (".mp4", ".avi", ".mov", ".webm", ".mkv", ".m4v")
ZIP_TYPES = (".zip",)

QUEUE_SIZE = 16  # waiting requests beyond this get "queue full" instead of an ever-growing wait
# Two analyses at a time, one torch thread each, fill 2 vCPUs.  One analysis on two intra-op threads is the
# alternative, but its threads wait on each other at every operator: on a shared (noisy) host we measured a
# 112 px forward pass at 8.7 ms with 1 thread and 816 ms with 2 (bench/bench_app.py prints the comparison).
THREADS = max(1, int(os.environ.get("LEARNET_THREADS", 1)))
CONCURRENCY = max(1, int(os.environ.get("LEARNET_CONCURRENCY", min(2, os.cpu_count() or 1))))
CONCURRENCY_ID = "analysis"  # predict, explain and examples share the slots

KEYFRAME_SIZE = 224  # aligned onset/apex/offset frames and overlays, px
DISPLAY_SIZE = 224  # the 112 px dynamic image is shown at this size (nearest neighbour: pixels stay pixels)
IG_STEPS = 16  # Gauss-Legendre points; the report gives the convergence delta so its quality is visible
FAITHFULNESS_STEPS = 8  # deletion/insertion curves: 8 slices of the pixel ranking (9 forward passes each)
OPTIONAL_METHODS = ("SmoothGrad", "Occlusion")  # slower maps, off by default
FIGURE_DPI = 150
KEEP_RESULTS = 32  # result folders (figures, reports) kept on disk; older ones are deleted

# Memory: the recent scans, analyses and explanations (results only, never decoded clips) share this budget;
# a result is about 1 MB, so the default keeps the last few dozen.
CACHE_BYTES = int(float(os.environ.get("LEARNET_DEMO_CACHE_MB", 64)) * 2**20)
# Disk: every file the page holds (uploads, Gradio's copies of outputs, reports, figures) is deleted after
# FILE_TTL_S seconds, and the oldest first whenever they total more than DISK_QUOTA_BYTES (0: no quota).
DISK_QUOTA_BYTES = int(float(os.environ.get("LEARNET_DEMO_DISK_MB", 2048)) * 2**20)
FILE_TTL_S = max(60, int(os.environ.get("LEARNET_DEMO_FILE_TTL_S", 1800)))
SWEEP_INTERVAL_S = 10  # the quota is also checked after every request
DELETE_CACHE = (min(300, FILE_TTL_S), FILE_TTL_S)  # Gradio's own sweep: (every, older than) in seconds

# Where the network runs (learnet.device): cpu by default, the machine the limits above were measured on.  A
# 112 px image is a small batch for a GPU, so LEARNET_DEVICE=auto|cuda|mps pays off only on busy pages.
DEVICE = os.environ.get("LEARNET_DEVICE", "cpu")

# The endpoints as MCP tools for agents (Gradio's MCP server, at /gradio_api/mcp/): LEARNET_MCP=1.  Off by
# default: it needs the `gradio[mcp]` extra, which is not a runtime requirement (it pins pydantic <= 2.12.5), and
# a page open to agents should be an operator's choice.  GRADIO_MCP_SERVER=True, Gradio's own switch, works too.
MCP = os.environ.get("LEARNET_MCP", "").strip().lower() in ("1", "true", "yes", "on")


def mcp_launch_options(enabled: bool | None = None) -> dict:
    """`launch()` keywords for the MCP server: {"mcp_server": True} when asked for (`LEARNET_MCP`) and the
    `mcp` package is installed; {} otherwise, which leaves Gradio's own GRADIO_MCP_SERVER switch in force.
    Asked for but not installed: one logged line, and the page starts without it."""
    import importlib.util
    import logging

    if not (MCP if enabled is None else enabled):
        return {}
    if importlib.util.find_spec("mcp") is None:
        logging.getLogger("learnet.demo").error(
            'LEARNET_MCP=1 but the MCP extra is missing: pip install "gradio[mcp]==6.31.0"; starting without MCP')
        return {}
    return {"mcp_server": True}


_threads_set = False


def configure_threads(threads: int = THREADS) -> int:
    """Set torch's (and OpenCV's) thread counts once per process; later calls change nothing.

    torch refuses to change the inter-op pool after parallel work has started, so `app.py` calls this first,
    before any model call.  Returns the intra-op thread count in force.
    """
    global _threads_set
    if _threads_set:
        import torch

        return torch.get_num_threads()
    import cv2
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)  # one analysis at a time: no use for parallel operators
    except RuntimeError:
        pass  # parallel work already ran in this process (e.g. under pytest); the intra-op count is set
    cv2.setNumThreads(threads)
    _threads_set = True
    return threads
