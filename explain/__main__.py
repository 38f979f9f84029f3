"""`python -m explain`: see `explain.cli`."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
