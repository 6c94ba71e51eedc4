"""Write the XQuAD development questions in ten more languages as gold files over the same Chinese articles.

`bench/data/xquad-dev-languages.jsonl` holds, for each question of `../shared/eval/dev/xquad-dev/gold-en.jsonl` (by
its XQuAD id), its text in Arabic, German, Greek, Spanish, Hindi, Romanian, Russian, Thai, Turkish and Vietnamese,
from XQuAD's own translations (Artetxe et al., 2020, CC BY-SA 4.0). This writes `gold-LANG.jsonl` for each: the
English file's lines with the question replaced, so the answers, keywords and evidence stay the Chinese text the
articles quote. The dictionary reads English only, so these are the questions `bench/fit_decision.py --unread`
fits the threshold of such questions on (docs/answers.md, *Questions the dictionary cannot read*).

    python -m bench.xquad_languages --dev ../shared/eval/dev --out runs/xquad-languages
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

TRANSLATIONS = Path(__file__).parent / "data" / "xquad-dev-languages.jsonl"
LANGUAGES = ("ar", "de", "el", "es", "hi", "ro", "ru", "th", "tr", "vi")


def gold_files(english: Path, out: Path, translations: Path = TRANSLATIONS) -> dict[str, Path]:
    """Write gold-LANG.jsonl for every language into `out` from the English gold file; return them by language."""
    asked = {}
    for line in translations.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        asked[row.pop("id")] = row
    questions = [json.loads(line) for line in english.read_text(encoding="utf-8").splitlines() if line.strip()]
    missing = [q["id"] for q in questions if q["id"] not in asked]
    if missing:
        raise SystemExit(f"{translations} has no translation of {len(missing)} questions of {english} "
                         f"(first {missing[0]}): is it XQuAD's development set?")
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for language in LANGUAGES:
        path = out / f"gold-{language}.jsonl"
        path.write_text("".join(json.dumps(dict(q, question=asked[q["id"]][language], type=f"xquad-{language}"),
                                           ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
        written[language] = path
    return written


def main() -> None:
    top = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    top.add_argument("--dev", type=Path, default=Path("../shared/eval/dev"), help="the development sets' folder")
    top.add_argument("--out", type=Path, required=True, help="folder to write gold-LANG.jsonl into")
    args = top.parse_args()
    for language, path in gold_files(args.dev / "xquad-dev" / "gold-en.jsonl", args.out).items():
        print(f"{language}: {path}")


if __name__ == "__main__":
    main()
