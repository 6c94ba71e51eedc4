"""The ways in: the command line (`python -m rag`), the HTTP server (API, widget, access policy) and the
Gradio chat page. Thin: they translate requests into library calls and answers into text, HTML or JSON.
"""
from __future__ import annotations
