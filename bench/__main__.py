"""`python -m bench`: see bench.cli."""
from __future__ import annotations

import sys

# Guarded: the benchmark's fresh processes are spawned, and spawning re-imports the main module.
if __name__ == "__main__":
    from bench.cli import main

    sys.exit(main())
