"""LEARNet micro-expression demo: `python app.py`, or the entry point of a Hugging Face Space.

Weights: `$LEARNET_MODEL` (a folder or `org/name@revision` on the Hub), else the shipped
`models/learnet-synthetic-megc3`.  Scripting it with gradio_client: demo/README.md.
"""
import logging

from demo.memory import limit_arenas
from demo.settings import configure_threads

limit_arenas()  # before any thread allocates: freed clips then leave holes in 2 heaps, not dozens
logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("learnet").setLevel(logging.INFO)  # which weights were loaded, or why none could be
configure_threads()  # once, before any model work

from demo import build_demo, launch_options  # noqa: E402

demo = build_demo()

if __name__ == "__main__":
    demo.launch(**launch_options())
