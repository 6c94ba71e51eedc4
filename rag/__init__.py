"""Chinese-first retrieval-augmented question answering with line-exact citations."""
from __future__ import annotations

__version__ = "0.1.0"
