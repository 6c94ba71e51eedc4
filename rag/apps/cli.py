"""`python -m rag build | kbs | ask | batch | eval | watch | session | feedback`: thin commands over the library; errors become one line and exit 1."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.apps.console import build_if_needed, loading_note, progress_bar
from rag.errors import CorpusError, IndexMismatchError, IndexMissingError, RagError
from rag.settings import Settings, load_settings

log = logging.getLogger("rag.apps.cli")


def _settings(args: argparse.Namespace, create: bool = False) -> Settings:
    """Return the settings of the command: over `--index DIR` itself, else over the knowledge base `--kb` (default: default).

    With `create`, a knowledge base that does not exist yet is made over `--corpus` (what `build --kb` does).
    """
    from rag.kbs import DEFAULT_KB, Catalog

    kb, index, corpus = getattr(args, "kb", None), getattr(args, "index", None), getattr(args, "corpus", None)
    if kb is not None and index is not None:
        raise RagError("pass --kb NAME or --index DIR, not both: a knowledge base has its own index folder")
    base = load_settings(corpus_dir=corpus if kb in (None, DEFAULT_KB) else None, index_dir=index,
                         embed_model=getattr(args, "model", None))
    if index is not None:
        return base
    catalog = Catalog(base)
    moved = catalog.migrate()
    if moved:
        print(moved, file=sys.stderr)
    name = DEFAULT_KB if kb is None else kb
    found = catalog.create(name, corpus) if create else catalog.get(name)
    return found.settings(base).with_overrides(corpus_dir=corpus)


def _built_from(settings: Settings) -> Path | None:
    """Return the other corpus folder the index in `settings.index.index_dir` was built from, or None (same, or no index)."""
    from rag.index.store import other_corpus
    from rag.index.stores import open_store

    try:
        manifest = open_store(settings).read_manifest()
    except (IndexMissingError, IndexMismatchError):
        return None  # loading reports these with what to do
    return other_corpus(manifest, settings.index.corpus_dir)


def check_corpus(settings: Settings) -> None:
    """Raise unless the corpus folder exists and the index to be loaded was built from it."""
    corpus = settings.index.corpus_dir
    if not corpus.is_dir():
        raise CorpusError(f"corpus folder {corpus} does not exist: pass --corpus DIR with your articles")
    built = _built_from(settings)
    if built is not None:
        raise IndexMismatchError(
            f"the index in {settings.index.index_dir} was built from {built}, not {corpus}: pass --index DIR of an index built "
            f"from {corpus}, or build one: `python -m rag build --corpus {corpus} --index DIR`",
            "settings",
        )


def _format_answer(result: dict[str, Any]) -> str:
    lines = [result["answer"], ""]
    if result["refused"]:
        if result["passages"]:  # an empty knowledge base has none: no heading over nothing
            lines.append("Related reading (not an answer):")
        for p in result["passages"][:3]:
            excerpt = " ".join(p["text"].split())  # a passage's lines, run into one excerpt line
            lines.append(f"  - {p['file']}:{p['line_start']}-{p['line_end']}  {excerpt[:80]}…")
    else:
        lines.append("Sources:")
        for c in result["citations"]:
            page = f" (p. {c['page']}, line {c['page_line']})" if c.get("page") else ""
            section = f" › {c['section']}" if c.get("section") else ""
            lines.append(f"  [{c['n']}] {c['file']}:{c['line_start']}-{c['line_end']}{page}  {c['title']}{section}")
            quoted = "\n       ".join(c["quote"].split("\n"))  # a table's rows, each on a line under the first
            lines.append(f"      “{quoted}”")
    return "\n".join(lines)


def cmd_build(args: argparse.Namespace) -> int:
    settings = _settings(args, create=True)
    if not settings.index.corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {settings.index.corpus_dir} does not exist: pass --corpus DIR with your articles")
    built = _built_from(settings) if args.index is None else None
    if built is not None:  # one index folder per corpus: building another corpus here would drop this one's index
        raise IndexMismatchError(
            f"the index in {settings.index.index_dir} was built from {built}, not {settings.index.corpus_dir}: "
            f"pass --kb NAME (or --index DIR) to build {settings.index.corpus_dir} into its own index folder",
            "settings",
        )
    build_if_needed(settings, force=True, shard=_shard(args.shard))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from rag.kbs.watch import watch

    settings = _settings(args)
    if not settings.index.corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {settings.index.corpus_dir} does not exist: pass --corpus DIR with your articles")
    build_if_needed(settings)
    print(f"watching {settings.index.corpus_dir} for changes every {args.interval:g} s (Ctrl-C stops)", file=sys.stderr, flush=True)

    def update(changed: list[str]) -> None:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        print(f"changed: {shown}", file=sys.stderr, flush=True)
        try:
            build_if_needed(settings)
        except RagError as error:  # e.g. the last article removed: say so, keep watching
            print(f"error: {error}", file=sys.stderr, flush=True)

    watch(settings.index.corpus_dir, update, args.interval)
    return 0


def cmd_kbs(args: argparse.Namespace) -> int:
    from rag.kbs import Catalog, describe_all

    settings = load_settings(index_dir=args.index)
    catalog = Catalog(settings)
    moved = catalog.migrate()
    if moved:
        print(moved, file=sys.stderr)
    rows = describe_all(catalog)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for row in rows:
        built = f"{row['articles']} articles, built {row['built_at']}" if row["built_at"] else "not built yet"
        print(f"{row['name']:<20} {built:<48} {row['corpus']}")
    return 0


def _shard(text: str | None) -> tuple[int, int] | None:
    """Return (number, count) of `--shard NUMBER/COUNT`, or raise the one-line error."""
    if text is None:
        return None
    number, _, count = text.partition("/")
    if not (number.isdigit() and count.isdigit() and 1 <= int(number) <= int(count)):
        raise RagError(f"--shard {text}: write NUMBER/COUNT, e.g. --shard 1/4 (numbers from 1 to COUNT)")
    return int(number), int(count)


# As many passages as the API lists at most (`top_k` of /api/ask).
MAX_TOP_K = 100


def _top_k(text: str) -> int:
    """Return `--top-k N` as a number from 1 to MAX_TOP_K, or let argparse say what to write."""
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_TOP_K:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of passages from 1 to {MAX_TOP_K}")
    return int(text)


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.answer.assistant import Assistant
    from rag.answer.schema import answer_to_dict

    settings = _settings(args)
    check_corpus(settings)
    loading_note()
    answer = Assistant.load(settings).ask(args.question, top_k=args.top_k)
    result = answer_to_dict(answer)
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else _format_answer(result))
    return 0


def _report_errors(name: str, records: Sequence[dict[str, Any]]) -> int:
    """Print one line per record that got no answer (with its line of the question file); return how many."""
    errors = [record for record in records if "error" in record]
    for record in errors:
        print(f"error: {name} line {record['line']}: {record['error']}", file=sys.stderr)
    return len(errors)


def cmd_batch(args: argparse.Namespace) -> int:
    from rag.answer.assistant import Assistant
    from rag.eval.metrics import read_questions
    from rag.eval.runs import answer_all, in_file_order, write_jsonl

    settings = _settings(args)
    check_corpus(settings)
    found = read_questions(Path(args.questions))
    loading_note()
    assistant = Assistant.load(settings)
    records = in_file_order(found, answer_all(assistant, found.questions, progress_bar("answering", unit="q")))
    write_jsonl(Path(args.output), records)
    failed = _report_errors(found.name, records)
    answered = len(records) - failed
    unanswered = f" and {failed} error record{'s' if failed != 1 else ''} (see above)" if failed else ""
    print(f"wrote {answered} answers{unanswered} to {args.output}", file=sys.stderr)
    return 1 if failed else 0


def eval_sets(items: Sequence[str], settings: Settings) -> list[Any]:
    """Return the question sets named on the command line: `GOLD` (over --corpus/--index) or `GOLD=CORPUS=INDEX`,
    INDEX an index folder or a Milvus store (`milvus://HOST:PORT/COLLECTION`, docs/milvus.md)."""
    from rag.eval.runs import EvalSet

    sets, names = [], set()
    for item in items:
        parts = item.split("=")
        if len(parts) not in (1, 3) or not all(parts):
            raise RagError(f"cannot read the set {item!r}: write GOLD.jsonl, or GOLD.jsonl=CORPUS_DIR=INDEX_DIR")
        gold = Path(parts[0])
        where = {"store": parts[-1]} if parts[-1].startswith("milvus://") else {"index_dir": Path(parts[-1]), "store": ""}
        own = settings if len(parts) == 1 else settings.with_overrides(corpus_dir=Path(parts[1]), **where)
        name = gold.stem if gold.stem not in names else f"{gold.parent.name}-{gold.stem}"
        while name in names:
            name += "+"
        names.add(name)
        sets.append(EvalSet(name, gold, own))
    return sets


def cmd_eval(args: argparse.Namespace) -> int:
    if args.compare:
        from rag.eval.report import compare_runs

        print(compare_runs(Path(args.compare[0]), Path(args.compare[1])))
        return 0
    if args.follow_ups:
        from rag.answer.assistant import Assistant
        from rag.eval.followups import ask_follow_ups, format_follow_ups, read_follow_ups

        cases = read_follow_ups(args.follow_ups)
        settings = _settings(args)
        check_corpus(settings)
        loading_note()
        results = ask_follow_ups(Assistant.load(settings), cases, progress_bar("asking", unit="follow-up"))
        print(format_follow_ups(results))
        return 0
    if not args.questions:
        raise RagError("name a question file: python -m rag eval GOLD.jsonl [-o DIR]")
    from rag.eval.runs import run_eval, run_eval_sets

    settings = _settings(args)
    output = Path(args.output) if args.output else None
    if len(args.questions) == 1 and "=" not in args.questions[0]:
        check_corpus(settings)
        loading_note()
        run = run_eval(settings, Path(args.questions[0]), output, progress_bar("answering", unit="q"))
        print(run.describe())
        return 1 if _report_errors(Path(args.questions[0]).name, run.errors) else 0
    sets = eval_sets(args.questions, settings)
    for one in sets:
        check_corpus(one.settings)
    loading_note()
    multi = run_eval_sets(sets, output, progress_bar("answering", unit="q"))
    print(multi.describe())
    failed = sum(_report_errors(s.questions.name, one.errors) for s, (_, one) in zip(sets, multi.sets))
    return 1 if failed else 0


def cmd_session(args: argparse.Namespace) -> int:
    from rag.apps.server.access import AccessPolicy, describe

    settings = load_settings()
    if not settings.server.api_token:
        raise RagError("no RAG_API_TOKEN in the environment: without a token the page is open and needs no session")
    policy = AccessPolicy(settings.server.api_token, settings.server.session_secret)
    try:
        session = policy.sessions.issue(args.hours or settings.server.session_hours)
    except ValueError as error:
        raise RagError(str(error)) from None
    shown = "localhost" if settings.server.host in ("0.0.0.0", "::") else settings.server.host
    base = args.base_url.rstrip("/") if args.base_url else f"http://{shown}:{settings.server.port}"
    found = describe(session, base)
    print(json.dumps(found, ensure_ascii=False) if args.json else found["url"])
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    from rag.apps.feedback import as_questions, open_store, to_csv, to_jsonl

    settings = load_settings(feedback_dir=args.dir)
    if not (settings.server.feedback_dir / "feedback.sqlite3").is_file():
        raise RagError(f"no feedback stored in {settings.server.feedback_dir}: readers' thumbs land there (RAG_FEEDBACK_DIR)")
    records = list(open_store(settings).records())
    if args.as_questions:
        text = to_jsonl(as_questions(records))
    else:
        text = to_csv(records) if args.format == "csv" else to_jsonl(records)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {len(records)} records to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def parser() -> argparse.ArgumentParser:
    """Return the argument parser of `python -m rag`."""
    top = argparse.ArgumentParser(prog="python -m rag", description="Question answering over Chinese articles, cited to the line.")
    top.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    sub = top.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--kb", metavar="NAME",
                       help="knowledge base (default: default, over RAG_CORPUS_DIR); `python -m rag kbs` lists them")
        p.add_argument("--corpus", type=Path, help="folder of articles (default: the knowledge base's; seeds, or RAG_CORPUS_DIR)")
        p.add_argument("--index", type=Path, help="one index folder itself, instead of a knowledge base's (RAG_INDEX_DIR/NAME)")
        p.add_argument("--model", help="sentence-transformers model name or folder (default: bundled multilingual-e5-small)")

    p = sub.add_parser("build", help="build or update the index of a knowledge base (--kb NAME --corpus DIR makes a new one)")
    p.add_argument("--shard", metavar="NUMBER/COUNT",
                   help="embed and write only this slice of the articles (workers 1..COUNT, one per machine); "
                   "a final `build` without --shard publishes the whole index from them")
    common(p)
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("watch", help="build the index, then update it each time the knowledge base's documents change")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between looks at the folder (default 2)")
    common(p)
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("kbs", help="list the knowledge bases: name, articles, when built, source folder")
    p.add_argument("--index", type=Path, help="where the indexes live (default: index, or RAG_INDEX_DIR)")
    p.add_argument("--json", action="store_true", help="print them as JSON")
    p.set_defaults(func=cmd_kbs)

    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--top-k", type=_top_k, default=None, help=f"passages to list (1 to {MAX_TOP_K})")
    common(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser(
        "batch",
        help="answer a JSONL/CSV file of questions into a JSONL file",
        description="Answer every question of the file; a line that is not a usable question is reported on "
        "stderr with its number and gets an error record in the output; the exit code is then 1.",
    )
    p.add_argument("questions")
    p.add_argument("-o", "--output", required=True)
    common(p)
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("eval", help="answer and score gold question files; write metrics and a report per set")
    p.add_argument("questions", nargs="*", metavar="GOLD",
                   help="gold question file(s), each over --corpus/--index or written GOLD=CORPUS_DIR=INDEX_DIR")
    p.add_argument("-o", "--output", help="run folder (default: runs/<timestamp>; one sub-folder per set when several)")
    p.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"), help="compare two run folders")
    p.add_argument("--follow-ups", type=Path, metavar="FILE",
                   help="ask each follow-up of FILE after its earlier turns and its standalone form alone; print how "
                        "many of each were answered and with the same citations (e.g. tests/data/followups_sora.jsonl)")
    common(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("session", help="print a link that opens the chat page for a while (needs RAG_API_TOKEN)")
    p.add_argument("--hours", type=float, default=None, help="how long the link works (default: RAG_SESSION_HOURS, 8)")
    p.add_argument("--base-url", help="the server's address as people reach it (default: http://RAG_HOST:RAG_PORT)")
    p.add_argument("--json", action="store_true", help="print the session, its expiry and the link as JSON")
    p.set_defaults(func=cmd_session)
    p = sub.add_parser(
        "feedback",
        help="export the readers' thumbs up/down (JSONL or CSV), or turn them into a question file for eval",
    )
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="export format (default: jsonl)")
    p.add_argument("--as-questions", action="store_true",
                   help="write a question file for `rag eval`: thumbs-up answers' quotes as gold evidence, "
                   "thumbs-down questions without gold")
    p.add_argument("--dir", type=Path, help="feedback folder (default: feedback, or RAG_FEEDBACK_DIR)")
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    p.set_defaults(func=cmd_feedback)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        return args.func(args)
    except RagError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`rag ask … | head`): nothing more can be written, and that is not an error.
        # Point stdout at devnull so the interpreter's own flush at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
