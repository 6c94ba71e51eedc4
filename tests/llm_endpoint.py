"""A scripted OpenAI-compatible chat endpoint on loopback: a test writes its reply, and may have it stream or drop."""
from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Scripted:
    """A chat endpoint whose reply a test writes from the request; it keeps every request it got.

    Asked to stream, it sends the reply in pieces of `piece_chars` as `data:` lines, then `[DONE]`; with
    `drop_after` set it closes the connection after that many pieces, as a server that dies mid-answer.
    """

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.reply: Callable[[str], str] = lambda user: ""
        self.status = 200
        self.piece_chars = 4
        self.piece_delay = 0.0
        self.drop_after: int | None = None
        self.delay = 0.0  # seconds before a reply, to outlast a client's timeout


@contextmanager
def scripted_endpoint() -> Iterator[tuple[str, Scripted]]:
    """Yield the endpoint's base address (…/v1) and its script; it stops when the block ends."""
    script = Scripted()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the handler's required name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            script.requests.append(body)
            script.headers.append(dict(self.headers))
            text = script.reply(body["messages"][-1]["content"])
            time.sleep(script.delay)
            if body.get("stream") and script.status == 200:
                self.stream(text)
                return
            data = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
            self.send_response(script.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def stream(self, text: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            size = script.piece_chars
            for count, at in enumerate(range(0, len(text), size)):
                if script.drop_after is not None and count >= script.drop_after:
                    self.wfile.flush()
                    self.close_connection = True
                    return
                chunk = {"choices": [{"index": 0, "delta": {"content": text[at : at + size]}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()
                time.sleep(script.piece_delay)
            done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())

        def log_message(self, *args) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address) -> None:
            pass  # a client that gave up waiting (a timeout test) is no error of the script's

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", script
    finally:
        server.shutdown()
        server.server_close()
