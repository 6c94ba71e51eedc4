"""Write rag/data/simplified.tsv, the character table the lexical side reads traditional Chinese through.

From OpenCC's TSCharacters.txt (traditional character, then its simplified forms), as shipped in the
opencc-python-reimplemented 0.1.7 wheel (Apache-2.0), keep each traditional character whose simplified form
is one other character and which is not itself a simplified form (乾 and 於 stay: simplified text uses them).

    python3 -m venv /tmp/cc && /tmp/cc/bin/pip install opencc-python-reimplemented==0.1.7
    python scripts/make_simplified_table.py /tmp/cc/lib/python3.*/site-packages/opencc/dictionary/TSCharacters.txt
"""
from __future__ import annotations

import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "rag" / "data" / "simplified.tsv"
HEADER = (
    "# Traditional character -> simplified character, one pair a line; read by rag/index/lexical.py so that a\n"
    "# question in either script matches articles in the other. Written by scripts/make_simplified_table.py from\n"
    "# OpenCC's TSCharacters.txt (opencc-python-reimplemented 0.1.7, Apache-2.0): the characters whose simplified\n"
    "# form is one other character and that simplified text does not use itself.\n"
)


def pairs(lines: list[str]) -> list[tuple[str, str]]:
    """Return the (traditional, simplified) pairs of TSCharacters.txt lines that the table keeps."""
    kept = []
    for line in lines:
        if not line.strip() or "\t" not in line:
            continue
        traditional, forms = line.rstrip("\n").split("\t", 1)
        forms = forms.split()
        if len(traditional) == 1 and forms and len(forms[0]) == 1 and traditional not in forms:
            kept.append((traditional, forms[0]))
    simplified = {s for _, s in kept}
    return [(t, s) for t, s in kept if t not in simplified]


def main() -> None:
    source = Path(sys.argv[1])
    kept = pairs(source.read_text(encoding="utf-8").splitlines())
    OUT.write_text(HEADER + "".join(f"{t}\t{s}\n" for t, s in kept), encoding="utf-8")
    print(f"wrote {len(kept)} pairs to {OUT}")


if __name__ == "__main__":
    main()
