"""`python -m learnet.train ...`, the same as `python -m learnet train ...`."""
import sys

from .cli import main

sys.exit(main())
