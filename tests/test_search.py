from __future__ import annotations

import math

import numpy as np

from rag.index.lexical import build_lexical, coverage, shared_tokenizer
from rag.retrieval.search import rrf


def test_rrf_matches_hand_worked_scores_and_breaks_ties_by_id():
    # doc 7: 1/(60+1) + 1/(60+2) = 0.016393 + 0.016129 = 0.032522 (first on both sides, nearly)
    # doc 3: 1/(60+2) = 0.016129 from dense only; doc 9: 1/(60+1) from lexical only = 0.016393
    fused = rrf([[7, 3], [9, 7]], [1.0, 1.0], 60)
    assert [d for d, _ in fused] == [7, 9, 3]
    assert math.isclose(fused[0][1], 1 / 61 + 1 / 62)
    # Equal scores: the smaller id first, whatever the input order.
    assert [d for d, _ in rrf([[5], [2]], [1.0, 1.0], 60)] == [2, 5]
    # A weight of 2 on the second side puts its first result ahead.
    assert rrf([[1], [2]], [1.0, 2.0], 60)[0][0] == 2


def test_bm25_matches_the_formula_worked_by_hand():
    docs = [["apple", "banana"], ["banana", "banana", "cherry"], ["melon"]]
    index = build_lexical(docs, k1=1.2, b=0.75)
    # banana: df=2 of N=3 -> idf = ln(1 + (3-2+0.5)/(2+0.5)) = ln(1.6)
    idf = math.log(1.6)
    avg = 2.0  # (2 + 3 + 1) / 3
    def weight(tf, length):
        return idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * length / avg))
    scores = index.scores(["banana"])
    assert np.allclose(scores, [weight(1, 2), weight(2, 3), 0.0], rtol=1e-5)
    assert [row for row, _ in index.top(["banana"], 5)] == [1, 0]  # doc 2 has no banana: not listed


def test_bm25_sparse_scores_equal_brute_force_on_the_seeds():
    tokenizer = shared_tokenizer()
    from support import SEEDS

    docs = [tokenizer.tokens(line) for p in sorted(SEEDS.iterdir()) for line in p.read_text(encoding="utf-8").split("\n") if line.strip()]
    index = build_lexical(docs, 1.2, 0.75)
    query = tokenizer.tokens("OpenAI发布文生视频模型Sora的日期")
    n = len(docs)
    avg = sum(map(len, docs)) / n
    brute = []
    for doc in docs:
        total = 0.0
        for term in query:
            df = sum(term in d for d in docs)
            if df == 0:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            tf = doc.count(term)
            total += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(doc) / avg))
        brute.append(total)
    assert np.allclose(index.scores(query), brute, rtol=1e-4, atol=1e-6)


def test_tokens_keep_domain_terms_and_drop_stopwords_and_punctuation():
    tokens = shared_tokenizer().tokens("Sora是什么？OpenAI的文生视频模型和世界模型！")
    assert {"sora", "openai", "文生视频", "世界模型"} <= set(tokens)
    assert not {"是", "什么", "的", "？", "！", "和"} & set(tokens)


def test_coverage_is_the_share_of_idf_mass_found():
    assert coverage({"a": 3.0, "b": 1.0}, {"a"}) == 0.75
    assert coverage({}, {"a"}) == 0.0


def test_weighted_fusion_equals_a_plain_recomputation_on_the_seeds(tmp_path):
    from rag.embedding import HashingEmbedder
    from rag.index.build import build_index
    from rag.index.lexical import coverage as share
    from rag.index.store import load_index
    from rag.retrieval.search import weighted_fusion

    from support import SEEDS, fake_settings

    settings = fake_settings(tmp_path, SEEDS)
    build_index(settings, HashingEmbedder(64))
    index = load_index(settings)
    tokenizer = shared_tokenizer()
    question = "Adobe股价在Sora发布后跌了多少"
    tokens = tokenizer.tokens(question)
    vector = HashingEmbedder(64).encode_queries([question])[0]
    rows = list(range(0, len(index.chunks), 3))
    fused = dict(weighted_fusion(index, rows, vector, tokens, (0.75, 0.5, 3.0)))

    dense = np.array([float(index.vectors.passage_vectors(np.array([r]))[0] @ vector) for r in rows])
    bm25 = index.lexical.scores(tokens)[rows]
    weights = index.lexical.term_weights(tokens)
    covered = np.array([share(weights, set(tokenizer.tokens(index.chunks[r].text))) for r in rows])
    expected = 0.75 * (dense - dense.mean()) / dense.std() + 0.5 * bm25 / bm25.max() + 3.0 * covered
    assert np.allclose([fused[r] for r in rows], expected, atol=1e-4)
    assert max(fused, key=fused.get) == rows[int(np.argmax(expected))]


def test_row_reads_give_the_full_scores_in_the_order_asked_and_coverage_of_rows_together():
    docs = [["sora", "视频"], ["股价", "adobe", "股价"], ["sora", "股价"], [], ["openai", "sora", "视频"]]
    index = build_lexical(docs, 1.2, 0.75)
    query = ["sora", "股价", "股价", "未知"]
    rows = [4, 1, 2, 0]  # hit order, not row order
    assert np.allclose(index.row_scores(rows, query), index.scores(query)[rows])
    weights = index.term_weights(query)
    each = index.row_coverage(rows, weights)
    assert np.allclose(each, [coverage(weights, set(docs[r])) for r in rows])
    together = index.row_coverage([4, 1], weights, together=True)[0]
    assert math.isclose(together, coverage(weights, set(docs[4]) | set(docs[1])))
