"""LEARNet micro-expression demo: `python app.py`, or the entry point of a Hugging Face Space.

Weights: `$LEARNET_MODEL` (a folder or `org/name@revision` on the Hub), else the shipped
`models/learnet-synthetic-megc3`; `$LEARNET_DEVICE` (cpu, auto, cuda, mps; default cpu) says where they run, and
`LEARNET_MCP=1` serves the endpoints as MCP tools for agents.  Scripting it with gradio_client: demo/README.md.
"""
import logging

from demo.memory import limit_arenas
from demo.settings import configure_threads

limit_arenas()  # before any thread allocates: freed clips then leave holes in 2 heaps, not dozens
logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("learnet").setLevel(logging.INFO)  # which weights were loaded, or why none could be
configure_threads()  # once, before any model work

from demo import build_demo, launch_options  # noqa: E402
from demo import settings  # noqa: E402
from demo.ui import load_demo_model  # noqa: E402
from learnet.device import resolve_device  # noqa: E402

# LEARNET_DEVICE (default cpu): a device that is not there stops the start with one line, not a traceback.
try:
    _device = resolve_device(settings.DEVICE)
except ValueError as exc:
    raise SystemExit(f"error: LEARNET_DEVICE: {exc}") from None
_model, _ = load_demo_model()  # on failure build_demo tries again and the page says why
demo = build_demo(model=_model.to(_device) if _model is not None else None)

if __name__ == "__main__":
    demo.launch(**launch_options(**settings.mcp_launch_options()))
