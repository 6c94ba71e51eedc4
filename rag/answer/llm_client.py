"""A minimal client of an OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp's server, hosted APIs).

Standard library only. Every failure (unreachable, timeout, rate limit, HTTP error, a reply that is not a chat
completion) is one `LLMError` whose message names the endpoint and the cause, never the key.
"""
from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
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

    def complete(self, messages: Sequence[dict[str, str]]) -> str:
        """Return the text of the model's reply to the messages (temperature 0), or raise LLMError."""
        url = self.base_url.rstrip("/") + "/chat/completions"
        body = {"model": self.model, "messages": list(messages), "temperature": 0, "max_tokens": self.max_tokens}
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(url, json.dumps(body).encode("utf-8"), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply: Any = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            cause = "rate limited (429)" if error.code == 429 else f"HTTP {error.code}"
            raise LLMError(f"the language model at {self.base_url} answered {cause}") from None
        except TimeoutError:
            raise LLMError(f"the language model at {self.base_url} did not answer within {self.timeout:g} s") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise LLMError(f"the language model at {self.base_url} cannot be reached ({reason})") from None
        except (ValueError, UnicodeDecodeError):
            raise LLMError(f"the language model at {self.base_url} sent a reply that is not JSON") from None
        try:
            text = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise LLMError(f"the language model at {self.base_url} sent no chat completion") from None
        if not isinstance(text, str):
            raise LLMError(f"the language model at {self.base_url} sent no text")
        return text
