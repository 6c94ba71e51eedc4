from __future__ import annotations

from bench.synthetic import write_synthetic
from bench.vectors import VectorModel
from rag.answer.assistant import Assistant
from rag.embedding import HashingEmbedder
from rag.index.lexical import shared_tokenizer
from rag.index.store import load_index
from rag.settings import load_settings


def test_the_synthetic_index_is_in_the_real_format_and_answers(tmp_path):
    manifest = write_synthetic(tmp_path / "synthetic", 300, VectorModel(), seed=0)
    settings = load_settings(env={}, index_dir=tmp_path / "synthetic")
    index = load_index(settings)  # the real loader, with its manifest and count checks
    assert len(index.chunks) == manifest.counts.chunks == 300
    assert len(index.sentences) == manifest.counts.sentences > 600
    sentence = index.sentences[123]
    assert sentence.text.endswith("。") and set(sentence.terms) <= set(index.lexical.vocabulary)
    assistant = Assistant(settings, index, HashingEmbedder(384), shared_tokenizer())
    words = index.sentences[500].terms
    answer = assistant.ask(f"{words[0]}{words[1]}和{words[2]}有什么关系？")
    assert len(answer.hits) == settings.retrieval.top_k
    assert any(500 in hit.chunk.sentence_ids for hit in answer.hits)  # the passage the words came from is found
