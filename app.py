"""`python app.py [--host H] [--port P] ...`: the chat page at /, the HTTP API at /api, the widget at /embed, one port.

Every flag has a `RAG_*` variable (RAG_HOST, RAG_PORT, RAG_CORS_ORIGINS, ...); the API token comes from
RAG_API_TOKEN only. Layout and formatting live in rag/web, routes in rag/server, answers in rag.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Return the flags; those left out fall back to RAG_* variables, then to the settings' defaults."""
    parser = argparse.ArgumentParser(description="Chat page, HTTP API and wiki widget over the articles, cited to the line.")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1; RAG_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (default 7860; RAG_PORT)")
    parser.add_argument("--concurrency", type=int, default=None, help="chat-page questions answered at once (default 20)")
    parser.add_argument("--cors-origins", help="origins whose scripts may call /api, space-separated (RAG_CORS_ORIGINS)")
    parser.add_argument(
        "--frame-ancestors", help="origins allowed to frame the widget, space-separated; default same origin only (RAG_FRAME_ANCESTORS)"
    )
    parser.add_argument("--kb", help="knowledge base the page opens on and requests naming none answer from (default: default); "
                        "`python -m rag kbs` lists them")
    parser.add_argument("--corpus", type=Path, metavar="DIR",
                        help="a folder of your documents: answered from as its own knowledge base (named after the folder, "
                        "or --kb NAME), built first when new; the seeds' index is left as it is")
    parser.add_argument("--watch", nargs="?", type=float, const=2.0, metavar="SECONDS",
                        help="update a knowledge base's index each time its folder's documents change, looking every SECONDS (2)")
    parser.add_argument("--rate-limit", type=int, help="questions per minute per client address, 0 = off (RAG_RATE_LIMIT_PER_MINUTE)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Start getting the index ready, then serve (the page and /api/health say it is getting ready until then)."""
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    import uvicorn

    from rag.apps.library import Library
    from rag.apps.server import create_app, make_limiter
    from rag.apps.web import CONCURRENCY, ChatHandlers, build_page
    from rag.errors import RagError
    from rag.kbs import DEFAULT_KB, Catalog, check_name
    from rag.settings import load_settings, parse_list

    try:
        settings = load_settings(
            host=args.host,
            port=args.port,
            cors_origins=None if args.cors_origins is None else parse_list(args.cors_origins),
            frame_ancestors=None if args.frame_ancestors is None else parse_list(args.frame_ancestors),
            rate_limit_per_minute=args.rate_limit,
        )
    except RagError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    catalog = Catalog(settings)
    try:
        moved = catalog.migrate()
        name = check_name(args.kb) if args.kb else None
        # A folder on the command line is a knowledge base of its own: building it never touches the seeds' index.
        opening = catalog.for_folder(args.corpus, name) if args.corpus is not None else catalog.get(name or DEFAULT_KB)
    except RagError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if moved:
        print(moved, file=sys.stderr)
    # Every knowledge base gets ready at once, each in its own thread, building its index when it is missing or stale
    # (progress on the console), all with one model: a folder named here never waits for the seeds' first build.
    library = Library(settings)
    # The page opens on the chosen knowledge base, and a request that names none (the API, the widget) is answered from it.
    service = library.open(opening)
    if opening.name != DEFAULT_KB:
        print(f"answering from the knowledge base {opening.name!r} ({opening.corpus_dir}); the others by name "
              f"(\"kb\" in /api/ask, the page's selector)", flush=True)
    if args.watch:
        library.watch(args.watch)
    limiter = make_limiter(settings)
    page = build_page(service, ChatHandlers(service, limiter=limiter, library=library), opening=opening.name)
    page.queue(default_concurrency_limit=args.concurrency or CONCURRENCY)
    app = create_app(service, page, limiter, library)
    shown = "localhost" if settings.server.host in ("0.0.0.0", "::") else settings.server.host
    base = f"http://{shown}:{settings.server.port}"
    print(f"Running on {base}/  (API {base}/docs, widget {base}/widget.js)", flush=True)
    # X-Forwarded-For is believed only from the proxies named in RAG_TRUSTED_PROXIES: otherwise any client
    # could choose the address its rate limit is counted against.
    trusted = list(settings.server.trusted_proxies)
    uvicorn.run(
        app, host=settings.server.host, port=settings.server.port, log_level="warning",
        proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
