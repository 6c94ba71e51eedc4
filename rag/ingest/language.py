"""Which language a text is in, as far as the pipeline needs to know: Chinese or not."""
from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u9fff]")


def is_chinese(text: str) -> bool:
    """True when the text contains CJK ideographs (the answer and refusal follow the question's language)."""
    return bool(_CJK.search(text))
