"""Scores pipeline results against gold questions (metrics as in shared/eval/README.md)."""
from __future__ import annotations

import csv
import html
import io
import json
import logging
import re
import statistics
import unicodedata
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from rag.errors import RagError
from rag.ingest.corpus import decode

logger = logging.getLogger(__name__)

CONTEXT_CHARS = 1500  # README ctx_*@1500c: what fits in an answer panel or an LLM prompt
ANSWER_PREFIX_CHARS = 300  # README answer_keyword_recall@300c / answer_contains@300c: the answer must come this early
MRR_DEPTH = 10  # README mrr@10
_WHITESPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]+>")
_JSONL_SUFFIXES = {".jsonl", ".json", ".ndjson"}
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False,
          "": None, "none": None, "null": None}
_ONE_OBJECT = 'write one JSON object a line, e.g. {"id": "q1", "question": "…"}'


class QuestionFileError(RagError, ValueError):
    """The questions file cannot be read or one of its lines is malformed."""


class ResultsMismatchError(RagError, ValueError):
    """The results do not cover every question being scored."""


@dataclass(frozen=True)
class Question:
    """One question; gold fields are None/empty when the file does not give them."""

    id: str
    question: str
    answerable: bool | None = None
    answer: str | None = None
    keywords: tuple[str, ...] = ()
    evidence: tuple[tuple[str, str], ...] = ()  # (file relative to the corpus folder, quote)
    type: str | None = None
    line: int = field(default=0, compare=False)  # where the question file holds it (0: not read from a file)
    alternatives: tuple[str, ...] = ()  # every accepted answer: a correct answer contains any one of them

    @property
    def accepted(self) -> tuple[str, ...]:
        """Return the accepted answers: the gold `alternatives`, else its keywords."""
        return self.alternatives or self.keywords


@dataclass(frozen=True)
class BadLine:
    """A line of a questions file that is not a usable question: its number, its id when it has one, and why."""

    line: int
    id: str | None
    error: str  # what is wrong; how to fix it


@dataclass(frozen=True)
class QuestionFile:
    """What a questions file holds: its questions and the lines that could not be read as questions."""

    name: str
    questions: tuple[Question, ...]
    bad_lines: tuple[BadLine, ...] = ()


@dataclass(frozen=True)
class EvidenceMatch:
    """One gold quote and the rank of the first passage covering it (None: not retrieved)."""

    file: str
    quote: str
    rank: int | None


@dataclass(frozen=True)
class QuestionScore:
    """Every per-question number; None where the question has no gold for it."""

    id: str
    type: str | None
    answerable: bool | None
    refused: bool
    answer_chars: int
    latency_ms: float | None
    evidence: tuple[EvidenceMatch, ...] = ()
    first_rank: int | None = None
    hit_at_1: bool | None = None
    hit_at_3: bool | None = None
    hit_at_5: bool | None = None
    hit_at_10: bool | None = None
    recall_at_5: float | None = None
    recall_at_10: float | None = None
    rr_at_10: float | None = None
    context_passages: int | None = None  # how many passages fit in CONTEXT_CHARS
    ctx_hit_at_1500c: bool | None = None
    ctx_recall_at_1500c: float | None = None
    keywords_found: tuple[str, ...] = ()
    keywords_missing: tuple[str, ...] = ()
    keyword_recall_at_300c: float | None = None
    answer_contains_at_300c: bool | None = None
    citations: int = 0
    citations_valid: int = 0
    problems: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the score as plain JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True)
class Metrics:
    """Aggregate metrics over a set of questions; None where no question qualifies."""

    questions: int
    answerable: int
    unanswerable: int
    citations: int
    hit_at_1: float | None
    hit_at_3: float | None
    hit_at_5: float | None
    hit_at_10: float | None
    recall_at_5: float | None
    recall_at_10: float | None
    mrr_at_10: float | None
    ctx_hit_at_1500c: float | None
    ctx_recall_at_1500c: float | None
    answer_keyword_recall_at_300c: float | None
    answer_contains_at_300c: float | None
    answer_chars_median: float | None
    answer_chars_mean: float | None
    refusal_on_unanswerable: float | None
    false_refusal: float | None
    citation_validity: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the metrics keyed by the README's names (hit@1, mrr@10, ctx_hit@1500c…)."""
        return {f.name.replace("_at_", "@"): getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Summary:
    """Metrics over all questions and per question type."""

    overall: Metrics
    by_type: Mapping[str, Metrics]

    def to_dict(self) -> dict[str, Any]:
        """Return overall and per-type metrics as plain JSON-ready data."""
        return {"overall": self.overall.to_dict(),
                "by_type": {name: m.to_dict() for name, m in self.by_type.items()}}


def read_questions(path: Path) -> QuestionFile:
    """Return a JSONL or CSV file's questions (UTF-8, with or without BOM) and its malformed lines, each by number.

    Raises QuestionFileError only when the file as a whole cannot be read or holds no usable question.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QuestionFileError(f"{path.name}: not UTF-8 (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise QuestionFileError(f"{path}: cannot be read ({exc.strerror}); "
                                "pass a .jsonl or .csv file of questions") from None
    suffix = path.suffix.lower()
    as_csv = suffix == ".csv" or (suffix not in _JSONL_SUFFIXES and not text.lstrip().startswith("{"))
    questions: list[Question] = []
    bad: list[BadLine] = []
    seen: dict[str, int] = {}
    try:
        for line_no, row in (_csv_rows(text) if as_csv else _jsonl_rows(text)):
            try:
                if isinstance(row, _RowError):
                    raise row
                question = _question_from_row(row, line_no)
                if question.id in seen:
                    raise _RowError(line_no, f"id {question.id!r} already used on line {seen[question.id]}",
                                      "give every question its own id")
            except _RowError as problem:
                _, what, fix = problem.args
                qid = str(row.get("id", "")).strip() if isinstance(row, Mapping) and row.get("id") is not None else ""
                bad.append(BadLine(line_no, qid or None, f"{what}; {fix}"))
                continue
            seen[question.id] = line_no
            questions.append(question)
    except _RowError as problem:  # the file as a whole (a CSV header) is unusable
        line_no, what, fix = problem.args
        raise QuestionFileError(f"{path.name} line {line_no}: {what}; {fix}") from None
    if not questions:
        if bad:
            more = f" (and {len(bad) - 1} more bad line{'s' if len(bad) > 2 else ''})" if len(bad) > 1 else ""
            raise QuestionFileError(f"{path.name} line {bad[0].line}: {bad[0].error}{more}")
        raise QuestionFileError(f"{path.name}: no questions found; write one question a line "
                                "with at least an id and a question")
    logger.info("loaded %d questions from %s (%d bad lines)", len(questions), path, len(bad))
    return QuestionFile(path.name, tuple(questions), tuple(bad))


def load_questions(path: Path) -> list[Question]:
    """Return the questions in a JSONL or CSV file (UTF-8, with or without BOM); a malformed line is an error."""
    found = read_questions(path)
    if found.bad_lines:
        first = found.bad_lines[0]
        raise QuestionFileError(f"{found.name} line {first.line}: {first.error}")
    return list(found.questions)


class _RowError(Exception):
    """A malformed line: (line number, what is wrong, how to fix it); read_questions names the file."""


def _jsonl_rows(text: str) -> Iterator[tuple[int, Mapping[str, Any] | _RowError]]:
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield line_no, _RowError(line_no, f"not valid JSON ({exc.msg}, column {exc.colno})", _ONE_OBJECT)
            continue
        except (ValueError, RecursionError):  # an integer of thousands of digits, or nesting thousands deep
            yield line_no, _RowError(line_no, "not JSON this reader takes (a number too long or nesting too deep)",
                                       _ONE_OBJECT)
            continue
        yield line_no, row if isinstance(row, dict) else _RowError(line_no, "not a JSON object", _ONE_OBJECT)


def _csv_rows(text: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    reader.fieldnames = [name.strip() for name in reader.fieldnames or []]
    if "id" not in reader.fieldnames or "question" not in reader.fieldnames:
        raise _RowError(1, f"header is {','.join(reader.fieldnames) or 'empty'}",
                          "start the CSV with a header row naming at least id,question")
    for row in reader:  # cells beyond the header land under the key None: ignored
        yield reader.line_num, {key: value for key, value in row.items() if key is not None}


def _question_from_row(row: Mapping[str, Any], line_no: int) -> Question:
    qid, text, answer = row.get("id"), row.get("question"), row.get("answer")
    if qid is None or not str(qid).strip():
        raise _RowError(line_no, "missing 'id'", "give every question an id such as q001")
    if text is not None and not isinstance(text, str):  # {"question": 2024}: there, but not text
        raise _RowError(line_no, f"'question' is {json.dumps(text, ensure_ascii=False)[:40]}, not text",
                        'write it in quotes: "question": "…"')
    if not isinstance(text, str) or not text.strip():
        raise _RowError(line_no, "missing 'question'", "give every question its text under 'question'")
    qtype = str(row.get("type") or "").strip() or None
    keywords = tuple(_parse_list(row.get("keywords"), "keywords", line_no))
    alternatives = tuple(_parse_list(row.get("alternatives"), "alternatives", line_no))
    evidence = tuple(_parse_list(row.get("evidence"), "evidence", line_no))
    if not all(isinstance(k, str) for k in keywords):
        raise _RowError(line_no, "'keywords' holds a non-string", 'write keywords as ["…", "…"] or a|b')
    if not all(isinstance(a, str) for a in alternatives):
        raise _RowError(line_no, "'alternatives' holds a non-string", 'write alternatives as ["…", "…"] or a|b')
    if not all(isinstance(e, dict) and isinstance(e.get("file"), str) and isinstance(e.get("quote"), str)
               for e in evidence):
        raise _RowError(line_no, "'evidence' is malformed", 'write evidence as [{"file": "…", "quote": "…"}]')
    answerable = row.get("answerable")
    if not (answerable is None or isinstance(answerable, bool)):
        if str(answerable).strip().lower() not in _BOOLS:
            raise _RowError(line_no, f"'answerable' is {answerable!r}", "write true or false")
        answerable = _BOOLS[str(answerable).strip().lower()]
    if answerable is None and (qtype == "unanswerable" or evidence or keywords):
        answerable = qtype != "unanswerable"  # gold given without the flag
    return Question(id=str(qid).strip(), question=text.strip(), answerable=answerable,
                    answer=str(answer) if answer not in (None, "") else None, keywords=keywords,
                    evidence=tuple((PurePosixPath(e["file"].replace("\\", "/")).as_posix(), e["quote"])
                                   for e in evidence), type=qtype, line=line_no, alternatives=alternatives)


def _parse_list(value: Any, name: str, line_no: int) -> list[Any]:
    if isinstance(value, str) and not value.strip().startswith("["):  # CSV cell: items separated by |
        return [item.strip() for item in value.split("|") if item.strip()]
    try:
        value = json.loads(value) if isinstance(value, str) else value
    except (ValueError, RecursionError):
        raise _RowError(line_no, f"'{name}' is not valid JSON", f"write {name} as a JSON list") from None
    if not isinstance(value, (list, type(None))):
        raise _RowError(line_no, f"'{name}' is not a list", f"write {name} as a JSON list")
    return value or []


def normalize(text: str) -> str:
    """Return text after NFKC, HTML unescaping and removal of all whitespace (README)."""
    return _WHITESPACE.sub("", html.unescape(unicodedata.normalize("NFKC", text)))


def evidence_in_corpus(questions: Sequence[Question], files: Container[str], corpus_name: str) -> tuple[tuple[Question, ...], tuple[str, ...]]:
    """Return the questions with each evidence file read as the corpus file it names (`files`: relative to the corpus
    folder), and the evidence files that name none. A citation shows its file under the corpus folder's name
    ("seeds/000_x.txt"); a gold file written that way names the corpus's "000_x.txt", and was scored as a miss."""
    unknown: dict[str, None] = {}
    out = []
    for question in questions:
        evidence = []
        for file, quote in question.evidence:
            head, _, rest = file.partition("/")
            if file not in files and head == corpus_name and rest in files:
                file = rest
            elif file not in files:
                unknown[file] = None
            evidence.append((file, quote))
        out.append(replace(question, evidence=tuple(evidence)) if question.evidence else question)
    return tuple(out), tuple(unknown)


def corpus_relative(file: str) -> str:
    """Return a passage path relative to the corpus folder ('seeds/000_x.txt' -> '000_x.txt')."""
    parts = PurePosixPath(str(file).replace("\\", "/")).parts
    return "/".join(parts[1:] if len(parts) > 1 else parts)


def covers(passage: Mapping[str, Any], evidence: tuple[str, str]) -> bool:
    """Return whether a passage is from the evidence's file and contains its quote."""
    gold_file, quote = evidence
    needle = normalize(quote)
    return (bool(needle) and corpus_relative(passage.get("file", "")) == gold_file
            and needle in normalize(str(passage.get("text", ""))))


def context_passages(passages: Sequence[Mapping[str, Any]], budget: int = CONTEXT_CHARS) -> int:
    """Return how many passages, in rank order, fit in budget characters (the first always counts)."""
    used = 0
    for count, passage in enumerate(passages):
        used += len(str(passage.get("text", "")))
        if count and used > budget:
            return count
    return len(passages)


class SourceFiles:
    """The original source files under corpus_parent, each read once, as lists of lines."""

    def __init__(self, corpus_parent: Path) -> None:
        self.root = Path(corpus_parent)
        self._cache: dict[str, list[str] | None] = {}

    def lines(self, file: str) -> list[str] | None:
        """Return the file's lines, or None when it is missing, unreadable or outside the root."""
        if file not in self._cache:
            path = self.root / file
            try:  # relative_to refuses paths escaping the root; CorpusError (not text) is a ValueError
                path.resolve().relative_to(self.root.resolve())
                # Read as the corpus reads it (its encodings, CR and CRLF line breaks): the lines a citation numbers.
                lines = decode(path.read_bytes(), file).split("\n")
                self._cache[file] = lines[:-1] if lines[-1] == "" else lines
            except (OSError, ValueError) as exc:
                logger.debug("cited source %s unreadable: %s", path, exc)
                self._cache[file] = None
        return self._cache[file]


def check_citation(citation: Mapping[str, Any], sources: SourceFiles) -> str | None:
    """Return why a citation's quote is not in its cited lines, or None when it is."""
    label, file = f"citation [{citation.get('n')}]", str(citation.get("file", ""))
    start, end = citation.get("line_start"), citation.get("line_end")
    lines = sources.lines(file)
    if lines is None:
        return f"{label} cites {file}, which is not a readable source file"
    if not (isinstance(start, int) and isinstance(end, int) and 1 <= start <= end <= len(lines)):
        return f"{label} lines {start}-{end} outside {file} (lines 1-{len(lines)})"
    quote = normalize(str(citation.get("quote") or ""))
    if not quote or quote not in normalize(_TAG.sub("", "\n".join(lines[start - 1:end]))):
        return f"{label} quote not in {file}:{start}-{end}"
    return None


def citation_validity(citations: Iterable[Mapping[str, Any]], corpus_parent: Path,
                      sources: SourceFiles | None = None) -> float | None:
    """Return the share of citations whose quote stands in the cited lines (None: no citations)."""
    sources = sources or SourceFiles(corpus_parent)
    checks = [check_citation(c, sources) is None for c in citations]
    return sum(checks) / len(checks) if checks else None


def _ranked(passages: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    order = sorted(enumerate(passages), key=lambda item: (item[1].get("rank", item[0] + 1), item[0]))
    return [passage for _, passage in order]


def _retrieval(question: Question, passages: list[Mapping[str, Any]], problems: list[str]) -> dict[str, Any]:
    matches = tuple(EvidenceMatch(f, q, next((i + 1 for i, p in enumerate(passages) if covers(p, (f, q))), None))
                    for f, q in question.evidence)
    first = min((m.rank for m in matches if m.rank is not None), default=None)
    fit = context_passages(passages)

    def recall(k: int) -> float:
        return sum(m.rank is not None and m.rank <= k for m in matches) / len(matches)

    if first is None:
        problems.append("evidence not in any retrieved passage")
    elif first > 5:
        problems.append(f"evidence not in top 5 (first at rank {first})")
    if first is not None and first > fit:
        problems.append(f"evidence at rank {first} cut by the {CONTEXT_CHARS}-character context "
                        f"({fit} passage(s) fit)")
    if question.type == "multi" and first is not None and first <= MRR_DEPTH:  # needs every quote
        problems += [f"quote not in top {MRR_DEPTH}: {m.file} “{m.quote[:40]}”"
                     for m in matches if m.rank is None or m.rank > MRR_DEPTH]
    hits = {f"hit_at_{k}": first is not None and first <= k for k in (1, 3, 5, 10)}
    return dict(hits, evidence=matches, first_rank=first, recall_at_5=recall(5), recall_at_10=recall(10),
                rr_at_10=1 / first if first is not None and first <= MRR_DEPTH else 0.0,
                context_passages=fit, ctx_hit_at_1500c=first is not None and first <= fit,
                ctx_recall_at_1500c=recall(fit))


def _keywords(question: Question, answer: str, problems: list[str]) -> dict[str, Any]:
    head, whole = normalize(answer[:ANSWER_PREFIX_CHARS]), normalize(answer)
    found = tuple(k for k in question.keywords if normalize(k) in head)
    missing = tuple(k for k in question.keywords if k not in found)
    problems += [f"keyword '{k}' only after character {ANSWER_PREFIX_CHARS}" if normalize(k) in whole
                 else f"keyword '{k}' missing from answer" for k in missing]
    return dict(keywords_found=found, keywords_missing=missing,
                keyword_recall_at_300c=len(found) / len(question.keywords))


def answer_contains(question: Question, answer: str, refused: bool) -> bool:
    """Return whether a non-declined answer holds an accepted answer within its first ANSWER_PREFIX_CHARS."""
    head = normalize(answer[:ANSWER_PREFIX_CHARS])
    return not refused and any(normalize(a) and normalize(a) in head for a in question.accepted)


def score_question(question: Question, result: Mapping[str, Any], corpus_parent: Path,
                   sources: SourceFiles | None = None) -> QuestionScore:
    """Return every per-question number and what went wrong for one pipeline result."""
    sources = sources or SourceFiles(corpus_parent)
    answer, refused = str(result.get("answer") or ""), bool(result.get("refused"))
    problems: list[str] = []
    if question.answerable is True and refused:
        problems.append("refused an answerable question")
    if question.answerable is False and not refused:
        problems.append("answered an unanswerable question")
    parts: dict[str, Any] = {}
    if question.answerable and question.evidence:
        parts.update(_retrieval(question, _ranked(result.get("passages") or []), problems))
    if question.answerable and question.keywords and question.type != "english":
        # a refusal already says why the keywords are missing: score them, don't list them
        parts.update(_keywords(question, answer, [] if refused else problems))
    if question.answerable and question.accepted:
        parts["answer_contains_at_300c"] = answer_contains(question, answer, refused)
    citations = list(result.get("citations") or [])
    citation_problems = [p for p in (check_citation(c, sources) for c in citations) if p]
    latency = result.get("latency_ms")
    return QuestionScore(id=question.id, type=question.type, answerable=question.answerable,
                         refused=refused, answer_chars=len(answer),
                         latency_ms=float(latency) if isinstance(latency, (int, float)) else None,
                         citations=len(citations), citations_valid=len(citations) - len(citation_problems),
                         problems=tuple(problems + citation_problems), **parts)


def score_questions(questions: Sequence[Question], results: Iterable[Mapping[str, Any]],
                    corpus_parent: Path) -> list[QuestionScore]:
    """Return one score per question, pairing results to questions by id."""
    by_id = {str(result.get("id")): result for result in results}
    missing = [q.id for q in questions if q.id not in by_id]
    if missing:
        raise ResultsMismatchError(f"no result for question(s) {', '.join(missing[:5])}: "
                                   "run the pipeline on every question before scoring")
    sources = SourceFiles(corpus_parent)
    return [score_question(q, by_id[q.id], corpus_parent, sources) for q in questions]


def _mean(values: Iterable[float | bool | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


_SHARED_FIELDS = ("hit_at_1", "hit_at_3", "hit_at_5", "hit_at_10", "recall_at_5", "recall_at_10",
                  "ctx_hit_at_1500c", "ctx_recall_at_1500c")


def aggregate(scores: Sequence[QuestionScore]) -> Metrics:
    """Return the README metrics over these question scores."""
    answered = [s.answer_chars for s in scores if not s.refused]
    latencies = [s.latency_ms for s in scores if s.latency_ms is not None]
    citations = sum(s.citations for s in scores)
    return Metrics(
        questions=len(scores),
        answerable=sum(s.answerable is True for s in scores),
        unanswerable=sum(s.answerable is False for s in scores),
        citations=citations,
        # per-question fields are None where the question does not qualify, so _mean
        # averages over answerable questions (retrieval) or Chinese ones (keywords) only
        **{name: _mean(getattr(s, name) for s in scores) for name in _SHARED_FIELDS},
        mrr_at_10=_mean(s.rr_at_10 for s in scores),
        answer_keyword_recall_at_300c=_mean(s.keyword_recall_at_300c for s in scores),
        answer_contains_at_300c=_mean(s.answer_contains_at_300c for s in scores),
        answer_chars_median=float(statistics.median(answered)) if answered else None,
        answer_chars_mean=_mean(answered),
        refusal_on_unanswerable=_mean(s.refused for s in scores if s.answerable is False),
        false_refusal=_mean(s.refused for s in scores if s.answerable is True),
        citation_validity=sum(s.citations_valid for s in scores) / citations if citations else None,
        # linear interpolation between the two nearest latencies (numpy's default)
        latency_p50_ms=float(np.percentile(latencies, 50)) if latencies else None,
        latency_p95_ms=float(np.percentile(latencies, 95)) if latencies else None,
    )


def summarize(scores: Sequence[QuestionScore]) -> Summary:
    """Return metrics overall and per question type (questions without a type count overall only)."""
    types = sorted({s.type for s in scores if s.type})
    return Summary(overall=aggregate(scores),
                   by_type={t: aggregate([s for s in scores if s.type == t]) for t in types})
