"""`python -m rag`: see rag.apps.cli."""
from __future__ import annotations

import sys

from rag.apps.cli import main

sys.exit(main())
