"""Which language a text is in, as far as the pipeline needs to know: Chinese or not."""
from __future__ import annotations

import re
from collections.abc import Sequence

_CJK = re.compile(r"[\u3400-\u9fff]")


def is_chinese(text: str) -> bool:
    """True when the text contains CJK ideographs (the answer and refusal follow the question's language)."""
    return bool(_CJK.search(text))


def mostly_chinese(texts: Sequence[str]) -> bool:
    """True when at least half of the texts are Chinese (and for none): the language of a sample of articles."""
    return sum(map(is_chinese, texts)) * 2 >= len(texts)
