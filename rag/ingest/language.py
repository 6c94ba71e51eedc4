"""Which language a text is in, as far as the pipeline needs to know: Chinese or not, and for a question the
dictionary cannot read, which language py3langid's identifier tells and how sure it is."""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

from rag.errors import ModelError, RagError

_CJK = re.compile(r"[\u3400-\u9fff]")
# A word, for telling a question from a word of chat: two letters or more (digits and marks are not letters).
_WORD = re.compile(r"[^\W\d_]{2,}")
_LETTER = re.compile(r"[^\W\d_]")


def is_chinese(text: str) -> bool:
    """True when the text contains CJK ideographs (the answer and refusal follow the question's language)."""
    return bool(_CJK.search(text))


# Western text takes about three times the characters Chinese takes to say the same: XQuAD's English questions are
# 3.3 times as long as their Chinese translations (docs/answers.md, *English articles*).
WESTERN_SCALE = 3


def is_western(text: str) -> bool:
    """True when most of a text's content is in a Western script: its letters outside CJK outweigh its CJK
    characters `WESTERN_SCALE` to one. A Chinese sentence naming "OpenAI" is not; an English one naming 北京 is."""
    chinese = len(_CJK.findall(text))
    return len(_LETTER.findall(text)) - chinese > WESTERN_SCALE * chinese


def mostly_chinese(texts: Sequence[str]) -> bool:
    """True when at least half of the texts are Chinese (and for none): the language of a sample of articles."""
    return sum(map(is_chinese, texts)) * 2 >= len(texts)


_identify_lock = threading.Lock()


@lru_cache(maxsize=1)
def _identifier():  # -> py3langid.langid.LanguageIdentifier
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        raise ModelError("the language identifier's package is missing: pip install -r requirements.txt") from None
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def load_identifier() -> None:
    """Load the language identifier now (about a second), so the first question in another language does not wait."""
    with _identify_lock:
        _identifier()


def identify(text: str) -> tuple[str, float]:
    """Return the language of `text` (ISO 639-1) and the identifier's probability for it, by py3langid (BSD-3-Clause,
    its model in the package; a short question takes well under a millisecond)."""
    with _identify_lock:  # the first call loads the model; the identifier itself holds no state between texts
        identifier = _identifier()
    language, probability = identifier.classify(text)
    return str(language), float(probability)


class LanguageFileError(RagError, ValueError):
    """The fitted language file is missing or malformed."""


@lru_cache(maxsize=1)
def told_probability() -> float:
    """Return the probability under which a question's language is not told (rag/data/languages.json, made by
    bench/fit_language.py from the development sets' questions)."""
    try:
        data = json.loads(resources.files("rag.data").joinpath("languages.json").read_text(encoding="utf-8"))
        return float(data["model"]["told_probability"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise LanguageFileError(f"cannot read rag/data/languages.json ({error}): reinstall rag, or refit it with "
                                "bench/fit_language.py") from None


def words(text: str) -> int:
    """Return how many words of two letters or more `text` holds."""
    return len(_WORD.findall(text))


def told(text: str) -> bool:
    """Return whether `text` reads as a question in some language: it has two words or more, or a letter and the
    identifier is sure of its language (a question in Thai has no spaces; the identifier is sure of "。。。" too).
    "ok", "Hallo", "???", "123" or an emoji is not."""
    return words(text) >= 2 or (_LETTER.search(text) is not None and identify(text)[1] >= told_probability())
