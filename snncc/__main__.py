"""``python -m snncc``: the ``snncc`` command line (see :mod:`snncc.cli`)."""

from __future__ import annotations

import sys

from snncc.cli import main

if __name__ == "__main__":
    sys.exit(main())
