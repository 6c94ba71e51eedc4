"""The lexical side: jieba tokens with a domain dictionary and stopwords, BM25 weights in a sparse matrix."""
from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Container, Iterable, Iterator, Mapping, Sequence

import numpy as np
from scipy import sparse

from rag.index.arrays import load_sparse
from rag.ingest.language import is_chinese
from rag.ingest.textnorm import to_simplified

log = logging.getLogger(__name__)

_TOKEN_OK = re.compile(r"[0-9a-z\u3400-\u9fff]")
# A price compared ("哪个型号最便宜？", "Which model is the cheapest?"). Notes and tables give prices and rarely the word
# that compares them, and a question word the articles never use weighs as its rarest: such a word is read as the
# articles' word for price in its language, the first of `_PRICE_WORDS` they use (Tokenizer.question_tokens).
PRICE_COMPARED = re.compile(
    r"便宜|实惠|[最更很太较]昂?贵|\bcheap(?:er|est)?\b|\b(?:most|more|least|less) expensive\b|\bpric(?:ier|iest)\b",
    re.IGNORECASE,
)
_COMPARING_PRICE = frozenset({"便宜", "实惠", "贵", "昂贵", "cheap", "cheaper", "cheapest", "expensive", "pricier",
                              "priciest"})
# Chinese measure words ("几个国家", "哪所大学"): what comes between a question word and the thing it asks about.
MEASURE_WORDS = "个位家所座种项件部只条支场届次本首颗匹头间辆架艘枚张份门块台"
# A question word with a measure word after it ("哪款最便宜？", "几台"): jieba's dictionary counts 哪款 never and 哪项 three
# times, so by the language's idf it weighed as the question's rarest word (docs/answers.md, *Prices compared, counts
# named and the fits refitted*).
_ASKS_WHICH = re.compile(rf"^[哪几][{MEASURE_WORDS}款类样天年月国倍成]$")
# Characters that only make grammar (的, 了, 就, 才, 能…): a word of them alone names nothing (rag/answer/questions.py
# reads them too, for the words a decline names).
FUNCTION_CHARACTERS = "的了是在和与及就才能会要可以把被让给对从向也都还又再很更最不没否吗呢吧得着过"
# Two or more characters of grammar (有个, 有位, 就会): a word the cut glued across the question's phrasing.
_GRAMMAR_ONLY = re.compile(f"[{FUNCTION_CHARACTERS}有个位一]{{2,}}")
# A degree word the articles never use (最长, 最多, 更高, 有多强) asks how far, as 多长 does, and names nothing they must
# hold: "长达1分钟" answers "Sora生成的视频最长多长？". Read as its degree characters, stopwords.
_DEGREE = re.compile(r"[最更][\u4e00-\u9fff]|有多[\u4e00-\u9fff]")
# "In all" beside a count (一共有几家, 总共有多少个) asks the count, as 几 and 多少 do; the articles state a count without it.
_IN_ALL = frozenset({"一共", "总共", "共计", "总计", "合计"})
# A word for "thing" after a question word (什么东西, 哪些事情) names no thing: the question word asks it. Read as punctuation.
_THING_ASKED = re.compile(r"(?<=什么|哪些|哪种|哪样)(?:东西|事物|事情|玩意儿?)")
_PRICE_WORDS = {True: ("价格", "售价", "价钱", "定价", "报价"), False: ("price", "prices", "pricing", "cost", "costs")}
# A question that points at the text it asks of ("那篇文章提到…", "文中说…", "根据材料，…") names no content by it: 文章 and
# 提到 are words of the articles, rare ones, and weighed most of "那篇文章提到Sora能生成多长的视频？", which was declined.
# The pointer and its verb of saying are read as punctuation. 说明, 称为, 写作, 讲解 are words of their own, not saying.
_TEXT = r"(?:这|那|该|本|此)?(?:篇|份|段)?(?:文章|原文|全文|本文|报道|稿子|文稿|材料|资料|文档|文件|文中)"
_SAYING = (r"(?:提到|提及|说到|说(?![明法服])|写到|写道|写着|写(?![作法成])|讲到|讲(?![解话座述究])|称(?![为号作呼赞])"
           r"|指出|介绍|表示|谈到|描述|记载|记录)(?:了|过|着)?")
_POINTS_AT_TEXT = re.compile(
    rf"(?:根据|依据|按照|按|据){_TEXT}(?:的说法|所说|所述|的介绍|介绍|里面|里|中|当中)?"
    rf"|{_TEXT}(?:里面|里|中|当中|上)?{_SAYING}"
    r"|(?:文章|原文|全文|本文|文稿|文档)(?:里面|里|中|当中)|(?:^|(?<=[\s，,：:；;在从按据照]))文中"
)


def _straddles(piece: str, held: str, word: str) -> bool:
    """Return whether `piece` and `held`, each a part of `word` but neither of the other, share some of its characters."""
    if piece == word or held == word or piece in held or held in piece:
        return False
    at, where = word.find(piece), word.find(held)
    return at >= 0 and where >= 0 and at < where + len(held) and where < at + len(piece)


class Tokenizer:
    """jieba search-mode tokens, NFKC-normalised, lower-cased and in simplified script (a question in one script
    matches articles in the other), stopwords and punctuation removed."""

    def __init__(self) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)  # jieba announces its dictionary loading on stderr otherwise
        self._jieba = jieba.Tokenizer()
        data = resources.files("rag") / "data"
        with resources.as_file(data / "userdict.txt") as path:
            self._jieba.load_userdict(str(path))
        self.stopwords = frozenset((data / "stopwords.txt").read_text(encoding="utf-8").split())

    def tokens(self, text: str) -> list[str]:
        """Return the searchable tokens of `text` (search mode: long words also yield their parts)."""
        normal = _normal(text)
        out = []
        for token in self._jieba.cut_for_search(normal, HMM=True):
            token = token.strip()
            if token and token not in self.stopwords and _TOKEN_OK.search(token):
                out.append(token)
        return out

    def question_tokens(self, text: str, vocabulary: Container[str]) -> list[str]:
        """Return the tokens of a question asked of an index with this vocabulary. A word jieba's HMM made up for
        the question, in neither its dictionary nor the articles, is read as the articles' words it holds when one
        of them is a word of two or more characters: the articles' own text is cut otherwise ("杨昊现在在哪" yields
        杨昊现, the articles 杨昊). Any other made-up word stays whole: it is a name the articles never use (魏玩,
        although 魏 and 玩 are each in some article). A word comparing prices the articles never use (便宜,
        "cheapest") is read as their word for price (`PRICE_COMPARED`). A word jieba cut across the articles' words
        ("才能量产" as 才 / 能量 / 产) is read as they write them (`_recut`). A single character the articles never use
        as a word, and that is no noun (带 and 进 of "带进", where they write 带入), says too little to weigh as the
        question's rarest word and is left out; a noun (猫) names what the articles may lack, and stays. Words that point
        at the text asked of ("那篇文章提到", "文中", "根据材料") are left out (`_POINTS_AT_TEXT`), and so are a question
        word with its measure word (几位, 哪所, 几倍) and characters of grammar the cut glued into a word the articles
        never use (有个), and so are "in all" beside a count (一共, 总共) when they never use it and a word for "thing"
        after a question word (什么东西)."""
        out = []
        text = _THING_ASKED.sub("，", _POINTS_AT_TEXT.sub("，", to_simplified(text)))
        compares = PRICE_COMPARED.search(text) is not None
        recut = self._recut(text, vocabulary)
        for token in self.tokens(text):
            if token in recut:
                out.extend(piece for piece in recut[token] if piece not in out)
            elif compares and token in _COMPARING_PRICE and token not in vocabulary:
                out.append(next((word for word in _PRICE_WORDS[is_chinese(token)] if word in vocabulary), token))
            elif (_DEGREE.fullmatch(token) or token in _IN_ALL) and token not in vocabulary:
                continue
            elif _ASKS_WHICH.match(token) or (token not in vocabulary and _GRAMMAR_ONLY.fullmatch(token)):
                continue  # asks which or how many (几位, 哪所, 几倍), or grammar glued by the cut (有个, 有位)
            elif len(token) == 1 and token not in vocabulary and is_chinese(token) \
                    and not self.word_tags().get(token, "n").startswith("n"):
                continue  # a verb or an adjective the articles only use inside longer words (带 of 带进, 带入)
            elif token in vocabulary or self._jieba.FREQ.get(token) or not is_chinese(token):
                out.append(token)
            else:
                out.extend(self._held_parts(token, vocabulary) or [token])
        # jieba's search mode also cuts a word into the words inside it: one the articles never use that straddles
        # a word they do (通人 across 普通 of 普通人, 辨率 of 分辨率) is the cut's, not the question's.
        held = {t for t in out if t in vocabulary}
        return [t for t in out if t in held or not any(_straddles(t, h, w) for w in out for h in held)]

    def _recut(self, text: str, vocabulary: Container[str]) -> dict[str, list[str]]:
        """Return the question's words the articles never use that its characters, read with a neighbour's, write as
        articles' words: jieba cuts "才能量产" 才 / 能量 / 产 where the articles write 量产, "病死后康忠" 病死 / 后康忠 where
        they write 康忠. Each is read as the articles' words (of two or more characters) that cover all its characters,
        one of them reaching into a neighbour."""
        normal = _normal(text)
        words = list(self._jieba.tokenize(normal, HMM=True))
        out: dict[str, list[str]] = {}
        for at, (word, start, end) in enumerate(words):
            if len(word) < 2 or word in vocabulary or word in self.stopwords or not is_chinese(word):
                continue
            low = words[at - 1][1] if at > 0 else start
            high = words[at + 1][2] if at + 1 < len(words) else end
            pieces = _covering(normal, low, high, vocabulary, self.stopwords)
            covered = {i for _, a, b in pieces for i in range(a, b)}
            if all(i in covered for i in range(start, end)) and any(a < start < b or a < end < b for _, a, b in pieces):
                out[word] = [piece for piece, _, _ in pieces]
        return out

    def language_idf(self, tokens: Sequence[str]) -> dict[str, float]:
        """Return each distinct token's idf in jieba's dictionary (its word counts): how much a word says in the
        language at large, for a corpus too small to tell (a word the dictionary lacks weighs as its rarest). A
        question word with its measure word (哪款, 哪项, 几台) weighs nothing: it asks what kind of thing, and names none."""
        self._jieba.check_initialized()  # its dictionary is read on first use
        total = self._jieba.total
        return {t: 0.0 if _ASKS_WHICH.match(t) else math.log((total + 1) / (self._jieba.FREQ.get(t, 0) + 1))
                for t in dict.fromkeys(tokens)}

    def word_counts(self) -> Mapping[str, int]:
        """Return jieba's dictionary counts of each word (and 0 for each prefix of one)."""
        self._jieba.check_initialized()
        return self._jieba.FREQ

    def _held_parts(self, word: str, vocabulary: Container[str]) -> list[str]:
        """Return the longest words of `word` the vocabulary holds, left to right, and the runs of two or more
        characters between them (a single character left over says too little to weigh as the rarest word);
        nothing unless one held word has two or more characters, or the word is one held character followed by
        stopwords (假有 is 假 and 有: "进修假有几天" asks about the articles' 进修假, which they cut 进修 / 假). 魏玩, two
        held characters, is a name the articles never use, and so is 于海, though 于 is a stopword."""
        parts: list[str] = []
        word_held = False
        glued = 0  # stopwords after the held words; -1 once any other character is left over
        start = at = 0
        while at < len(word):
            end = next((e for e in range(len(word), at, -1) if word[at:e] in vocabulary), None)
            if end is None:
                glued = glued + 1 if glued >= 0 and parts and word[at] in self.stopwords else -1
                at += 1
                continue
            if at - start >= 2:
                parts.append(word[start:at])
            if word[at:end] not in self.stopwords:
                parts.append(word[at:end])
                word_held = word_held or end - at >= 2
            start = at = end
        if len(word) - start >= 2:
            parts.append(word[start:])
        return parts if word_held or (len(parts) == 1 and glued > 0) else []

    @cached_property
    def _tagger(self) -> Any:  # jieba's part-of-speech tagger over the same dictionary (its tags take ~0.7 s to read)
        import jieba.posseg

        return jieba.posseg.POSTokenizer(self._jieba)

    def word_tags(self) -> dict[str, str]:
        """Return the part-of-speech tag of each word of the tagger's dictionary (jieba's and the domain's)."""
        return self._tagger.word_tag_tab

    def tagged(self, text: str) -> list[tuple[str, str]]:
        """Return the words of `text` (jieba's precise mode, lower-cased like tokens) with their part-of-speech
        tags: jieba's, the domain dictionary's (英伟达 nt, 马斯克 nr), `eng` for Latin words, `x` for punctuation."""
        normal = to_simplified(unicodedata.normalize("NFKC", text))
        return [(word.strip().lower(), flag) for word, flag in self._tagger.cut(normal) if word.strip()]


def _normal(text: str) -> str:
    """Return text as the tokens read it: NFKC-normalised, lower-cased, in simplified script."""
    return to_simplified(unicodedata.normalize("NFKC", text).lower())


def _covering(text: str, low: int, high: int, vocabulary: Container[str], stopwords: Container[str]) -> list[tuple[str, int, int]]:
    """Return the articles' words (two to six characters, no stopword) that cover the most characters of
    text[low:high], each with its offsets."""
    best: list[tuple[int, list[tuple[str, int, int]]]] = [(0, [])]  # per prefix: characters covered, words
    for j in range(1, high - low + 1):
        options = [best[j - 1]]
        for k in range(max(0, j - 6), j - 1):
            piece = text[low + k : low + j]
            if piece in vocabulary and piece not in stopwords:
                options.append((best[k][0] + j - k, [*best[k][1], (piece, low + k, low + j)]))
        best.append(max(options, key=lambda option: option[0]))
    return best[-1][1]


def coverage(weights: dict[str, float], tokens: set[str]) -> float:
    """Share of a query's idf mass whose terms appear in `tokens` (those of a sentence or passage)."""
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in tokens) / total if total else 0.0


@lru_cache(maxsize=1)
def shared_tokenizer() -> Tokenizer:
    """Return the process-wide tokenizer (loading jieba's dictionary takes about a second)."""
    return Tokenizer()


@dataclass(frozen=True)
class LexicalIndex:
    """BM25 as a (documents × vocabulary) CSC matrix of term weights: a query's scores are a column sum."""

    weights: sparse.csc_matrix
    vocabulary: dict[str, int]
    k1: float
    b: float

    def _column(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the rows (ascending) that hold term `column` and their weights: a slice of the CSC arrays."""
        start, end = self.weights.indptr[column], self.weights.indptr[column + 1]
        return self.weights.indices[start:end], self.weights.data[start:end]

    def _in_column(self, column: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return which of the ascending `rows` hold term `column` (a mask) and, for those, the term's weights."""
        held, values = self._column(column)
        if not len(held):
            return np.zeros(len(rows), dtype=bool), values
        at = np.minimum(np.searchsorted(held, rows), len(held) - 1)
        mask = held[at] == rows
        return mask, values[at[mask]]

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """Return the BM25 score of every document for the query tokens (repeated tokens count again)."""
        out = np.zeros(self.weights.shape[0], dtype=np.float32)
        for token in query_tokens:
            column = self.vocabulary.get(token)
            if column is not None:
                held, values = self._column(column)
                out[held] += values  # a column holds each row once
        return out

    def _meet(self, rows: np.ndarray, terms: Iterable[str]) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """For each of `terms` the index knows, yield it, the positions in `rows` (any order) of the rows that
        hold it, and its weights there: only the term's column is read."""
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        for term in terms:
            column = self.vocabulary.get(term)
            if column is not None:
                mask, values = self._in_column(column, ordered)
                yield term, order[mask], values

    def row_scores(self, rows: Sequence[int], query_tokens: Sequence[str]) -> np.ndarray:
        """Return `scores(query_tokens)[rows]`, reading only the query's columns where they meet `rows`."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.float32)
        for _, at, values in self._meet(rows, query_tokens):
            out[at] += values
        return out

    def row_term_scores(self, rows: Sequence[int], terms: Sequence[str]) -> np.ndarray:
        """Return the (terms x rows) BM25 weight of each term in each of `rows` (zero where a row lacks it)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros((len(terms), len(rows)), dtype=np.float32)
        positions: dict[str, list[int]] = {}
        for i, term in enumerate(terms):
            positions.setdefault(term, []).append(i)
        for term, at, values in self._meet(rows, positions):
            for i in positions[term]:
                out[i, at] = values
        return out

    @cached_property
    def doc_freq(self) -> np.ndarray:
        """Return how many documents hold each term (column lengths of the CSC matrix), computed once."""
        return np.diff(self.weights.indptr)

    def term_weights(self, tokens: Sequence[str]) -> dict[str, float]:
        """Return each distinct token's BM25 idf (a term the index has never seen weighs as the rarest)."""
        n_docs = max(self.weights.shape[0], 1)
        out = {}
        for token in dict.fromkeys(tokens):
            column = self.vocabulary.get(token)
            df = int(self.doc_freq[column]) if column is not None else 0
            out[token] = float(np.log1p((n_docs - df + 0.5) / (df + 0.5)))
        return out

    def row_coverage(self, rows: Sequence[int], weights: dict[str, float], together: bool = False) -> np.ndarray:
        """Share of the query's idf mass (`weights`) whose terms each row holds, or all rows `together` hold."""
        total = sum(weights.values())
        rows = np.asarray(rows, dtype=np.int64)
        if not total or not len(rows):
            return np.zeros(1 if together else len(rows))
        shares = np.zeros(len(rows))
        union = 0.0
        for term, at, _ in self._meet(rows, weights):
            shares[at] += weights[term]
            union += weights[term] if len(at) else 0.0
        return np.array([union / total]) if together else shares / total

    def share(self, term: str) -> float:
        """Return the share of documents that hold `term` (0 for a term the index has never seen)."""
        column = self.vocabulary.get(term)
        return int(self.doc_freq[column]) / max(self.weights.shape[0], 1) if column is not None else 0.0

    def held_together(self, first: str, second: str) -> bool:
        """Return whether some document holds both terms: the two columns' rows meet (both ascending)."""
        a, b = self.vocabulary.get(first), self.vocabulary.get(second)
        if a is None or b is None:
            return False
        return bool(np.intersect1d(self._column(a)[0], self._column(b)[0], assume_unique=True).size)

    def top(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Return up to k (row, score) pairs with a positive score, best first, ties by row."""
        scores = self.scores(query_tokens)
        positive = np.flatnonzero(scores > 0)
        if positive.size > k:  # every row as good as the k-th, so a tie at the k-th place goes to the smaller row
            kth = np.partition(-scores[positive], k - 1)[k - 1]
            positive = positive[-scores[positive] <= kth]
        order = sorted(positive.tolist(), key=lambda row: (-scores[row], row))[:k]
        return [(row, float(scores[row])) for row in order]

    def save(self, folder: Path) -> None:
        """Write lexical.npz (no pickles) and vocabulary.json into `folder`."""
        sparse.save_npz(folder / "lexical.npz", self.weights.tocsc(), compressed=False)
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        (folder / "vocabulary.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, k1: float, b: float) -> LexicalIndex:
        """Read what `save` wrote, or raise the damaged error when the two files are not what it writes."""
        from rag.errors import index_damaged

        weights = load_sparse(folder / "lexical.npz").tocsc()
        try:
            terms = json.loads((folder / "vocabulary.json").read_bytes().decode("utf-8"))
        except (ValueError, RecursionError):
            raise index_damaged(folder, "vocabulary.json is not readable JSON") from None
        if not isinstance(terms, list) or not all(isinstance(term, str) for term in terms):
            raise index_damaged(folder, "vocabulary.json is not a list of terms")
        if weights.dtype != np.float32 or weights.ndim != 2 or weights.shape[1] != len(terms):
            raise index_damaged(folder, f"lexical.npz holds {weights.dtype} {weights.shape}, not a column per term")
        return cls(weights, {term: i for i, term in enumerate(terms)}, k1, b)


def build_lexical(documents: Sequence[Sequence[str]], k1: float, b: float) -> LexicalIndex:
    """Return the BM25 index of tokenised documents (Lucene's idf, which is never negative)."""
    vocabulary: dict[str, int] = {}
    rows, cols, counts = [], [], []
    for row, tokens in enumerate(documents):
        ids = np.fromiter((vocabulary.setdefault(t, len(vocabulary)) for t in tokens), dtype=np.int64)
        unique, tf = np.unique(ids, return_counts=True)
        rows.append(np.full(unique.size, row))
        cols.append(unique)
        counts.append(tf)
    shape = (len(documents), len(vocabulary))
    if not vocabulary:
        return LexicalIndex(sparse.csc_matrix(shape, dtype=np.float32), vocabulary, k1, b)
    lengths = np.array([len(tokens) for tokens in documents], dtype=np.float64)
    weights = bm25_matrix(np.concatenate(rows), np.concatenate(cols), np.concatenate(counts), lengths, len(vocabulary), k1, b)
    return LexicalIndex(weights, vocabulary, k1, b)


def bm25_matrix(
    row_ids: np.ndarray, col_ids: np.ndarray, tf: np.ndarray, lengths: np.ndarray, terms: int, k1: float, b: float
) -> sparse.csc_matrix:
    """Return the (documents × terms) BM25 weights from each (document, term) pair's count and the document lengths."""
    n_docs = len(lengths)
    avg_length = max(float(np.mean(lengths)) if n_docs else 0.0, 1e-9)
    doc_freq = np.bincount(col_ids, minlength=terms)
    idf = np.log1p((n_docs - doc_freq + 0.5) / (doc_freq + 0.5))
    norm = k1 * (1 - b + b * lengths[row_ids] / avg_length)
    values = idf[col_ids] * tf * (k1 + 1) / (tf + norm)
    return sparse.csc_matrix((values.astype(np.float32), (row_ids, col_ids)), shape=(n_docs, terms))
