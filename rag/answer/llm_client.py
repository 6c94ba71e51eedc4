"""A minimal client of an OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp's server, hosted APIs).

Standard library only. Every failure (unreachable, timeout, rate limit, HTTP error, a reply that is not a chat
completion) is one `LLMError` whose message names the endpoint and the cause, never the key.
"""
from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rag.errors import RagError

log = logging.getLogger(__name__)


class LLMError(RagError, RuntimeError):
    """The language model's endpoint did not give a usable answer; the caller falls back to quoting."""


@dataclass(frozen=True)
class ChatClient:
    """Posts chat messages to `{base_url}/chat/completions` and returns the reply's text."""

    base_url: str
    model: str
    api_key: str = ""
    timeout: float = 30.0
    max_tokens: int = 512

    def __repr__(self) -> str:  # the key never reaches a log through a repr
        return f"ChatClient(base_url={self.base_url!r}, model={self.model!r})"

    def _request(self, messages: Sequence[dict[str, str]], stream: bool, max_tokens: int | None = None) -> urllib.request.Request:
        url = self.base_url.rstrip("/") + "/chat/completions"
        body: dict[str, Any] = {
            "model": self.model, "messages": list(messages), "temperature": 0, "max_tokens": max_tokens or self.max_tokens,
        }
        headers = {"Content-Type": "application/json"}
        if stream:
            body["stream"] = True
            headers["Accept"] = "text/event-stream"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return urllib.request.Request(url, json.dumps(body).encode("utf-8"), headers, method="POST")

    def _failure(self, error: BaseException) -> LLMError:
        """Return the one-line LLMError for a failed request or read (the key is never part of it)."""
        if isinstance(error, urllib.error.HTTPError):
            cause = "rate limited (429)" if error.code == 429 else f"HTTP {error.code}"
            return LLMError(f"the language model at {self.base_url} answered {cause}")
        if isinstance(error, TimeoutError):
            return LLMError(f"the language model at {self.base_url} did not answer within {self.timeout:g} s")
        if isinstance(error, http.client.IncompleteRead):
            return LLMError(f"the language model at {self.base_url} stopped in the middle of its answer")
        if isinstance(error, (urllib.error.URLError, OSError, http.client.HTTPException)):
            reason = getattr(error, "reason", error)
            return LLMError(f"the language model at {self.base_url} cannot be reached ({reason})")
        return LLMError(f"the language model at {self.base_url} sent a reply that is not JSON")

    def complete(self, messages: Sequence[dict[str, str]], max_tokens: int | None = None) -> str:
        """Return the text of the model's reply to the messages (temperature 0), or raise LLMError."""
        try:
            with urllib.request.urlopen(self._request(messages, False, max_tokens), timeout=self.timeout) as response:
                reply: Any = json.loads(response.read().decode("utf-8"))
        except (OSError, http.client.HTTPException, ValueError, UnicodeDecodeError) as error:
            raise self._failure(error) from None
        return _text_of(reply, self.base_url)

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        """Yield the model's reply piece by piece as the endpoint streams it (server-sent `data:` lines up to
        `[DONE]`), or raise LLMError; a stream that ends before `[DONE]` or a finish reason is an error too.

        `timeout` bounds the wait for each piece, so a slow model that keeps writing is not cut off.
        """
        finished = False
        try:
            with urllib.request.urlopen(self._request(messages, True), timeout=self.timeout) as response:
                if response.headers.get_content_type() == "application/json":
                    # An endpoint that does not stream answers with the whole completion at once.
                    yield _text_of(json.loads(response.read().decode("utf-8")), self.base_url)
                    return
                for raw in response:
                    line = raw.decode("utf-8").strip()
                    if not line.startswith("data:"):
                        continue  # blank separators, `event:` and `:` keep-alive comments
                    data = line[len("data:"):].strip()
                    if data == "[DONE]":
                        finished = True
                        break
                    choice = _first_choice(json.loads(data), self.base_url)
                    piece = (choice.get("delta") or {}).get("content")
                    if isinstance(piece, str) and piece:
                        yield piece
                    if choice.get("finish_reason"):
                        finished = True
        except LLMError:
            raise
        except (OSError, http.client.HTTPException, ValueError, UnicodeDecodeError) as error:
            raise self._failure(error) from None
        if not finished:
            raise LLMError(f"the language model at {self.base_url} stopped in the middle of its answer")


def _first_choice(chunk: Any, base_url: str) -> dict[str, Any]:
    """Return the first choice of a streamed chunk; an error object or a chunk without choices is an LLMError."""
    if isinstance(chunk, dict) and chunk.get("error"):
        raise LLMError(f"the language model at {base_url} reported an error in the middle of its answer")
    try:
        choice = chunk["choices"][0]
    except (KeyError, IndexError, TypeError):
        if isinstance(chunk, dict) and chunk.get("choices") == []:
            return {}  # usage-only chunks carry no choice
        raise LLMError(f"the language model at {base_url} sent a streamed piece that is no chat completion") from None
    if not isinstance(choice, dict):
        raise LLMError(f"the language model at {base_url} sent a streamed piece that is no chat completion")
    return choice


def _text_of(reply: Any, base_url: str) -> str:
    """Return the text of a whole chat completion, or raise LLMError."""
    try:
        text = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise LLMError(f"the language model at {base_url} sent no chat completion") from None
    if not isinstance(text, str):
        raise LLMError(f"the language model at {base_url} sent no text")
    return text
