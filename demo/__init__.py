"""The LEARNet demo page (Gradio): `build_demo()` returns the `gr.Blocks`; `app.py` launches it."""
from .ui import build_demo, launch_options  # noqa: F401
