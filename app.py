"""`python app.py [--host H] [--port P]`: the chat page, cited to the line (layout and formatting in rag/web)."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Return host, port and concurrency from the flags, else RAG_HOST / RAG_PORT, else 127.0.0.1:7860."""
    parser = argparse.ArgumentParser(description="Chat page over the articles, every sentence cited to its lines.")
    parser.add_argument("--host", default=os.environ.get("RAG_HOST") or "127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=os.environ.get("RAG_PORT") or "7860", help="port to listen on")
    parser.add_argument("--concurrency", type=int, default=None, help="questions answered at once (default 8)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Start getting the index ready, then serve the page (it says it is getting ready until then)."""
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from rag.errors import RagError
    from rag.settings import load_settings
    from rag.web import CONCURRENCY, Service, build_page, launch_options

    try:
        settings = load_settings()
    except RagError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    # Builds the index first when it is missing or stale, with progress on the console.
    service = Service(settings).start()
    page = build_page(service)
    page.queue(default_concurrency_limit=args.concurrency or CONCURRENCY)
    page.launch(server_name=args.host, server_port=args.port, **launch_options())
    return 0


if __name__ == "__main__":
    sys.exit(main())
