"""``python -m benchmarks.serve``: the sidecar benchmark (see :mod:`benchmarks.serve`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
