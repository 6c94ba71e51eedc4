from __future__ import annotations

import math

import numpy as np
import pytest

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


def test_traditional_and_simplified_characters_give_the_same_tokens_and_question_kind():
    from rag.answer.questions import asked_kinds

    tokenizer = shared_tokenizer()
    assert tokenizer.tokens("尤金袋鼠的體重與數量為什麼下降？") == tokenizer.tokens("尤金袋鼠的体重与数量为什么下降？")
    assert "体重" in tokenizer.tokens("體重") and asked_kinds("這是什麼時候發生的？") == asked_kinds("这是什么时候发生的？") == {"time"}
    # Characters simplified text uses as they are (乾隆, 於) are left alone.
    assert tokenizer.tokens("乾隆") == ["乾隆"]


def test_a_name_jieba_glues_to_the_next_word_in_a_question_is_matched_as_the_articles_cut_it():
    tokenizer = shared_tokenizer()
    articles = ["杨昊，中国足球运动员，司职后卫。", "他姓魏。孩子们在玩。"]
    index = build_lexical([tokenizer.tokens(a) for a in articles], 1.2, 0.75)
    # jieba's HMM makes one word of 杨昊现 (杨昊 + 现效力): the articles' 杨昊 is found in it.
    question = "杨昊现效力于哪里？"
    assert "杨昊现" in tokenizer.tokens(question) and index.scores(tokenizer.tokens(question))[0] == 0
    assert "杨昊" in tokenizer.question_tokens(question, index.vocabulary)
    assert index.scores(tokenizer.question_tokens(question, index.vocabulary))[0] > 0
    # A made-up word whose only held parts are single characters is a name the articles never use: kept whole,
    # it still weighs as the rarest word, so the question reads as about something else.
    assert "魏" in index.vocabulary and "玩" in index.vocabulary
    assert "魏玩" in tokenizer.question_tokens("魏玩是谁的妻子？", index.vocabulary)
    # Words jieba's dictionary holds are not split when the articles use them.
    assert tokenizer.question_tokens("运动员", index.vocabulary) == tokenizer.tokens("运动员")


def test_a_word_jieba_cuts_across_the_articles_words_is_read_as_they_write_them():
    # "才能量产" is cut 才 / 能量 / 产, "病死后康忠" 病死 / 后康忠: the question then asked about 能量 (energy) or a 后康忠,
    # words the articles never use, weighed as their rarest, and an answerable question read as about something else.
    tokenizer = shared_tokenizer()
    articles = ["新油田预计在三年后量产石油，这一切都要看工程师的才能。", "康直病死，其子康忠继承了他的职位。"]
    index = build_lexical([tokenizer.tokens(a) for a in articles], 1.2, 0.75)
    oil = "新区域需要多长时间才能量产石油？"
    assert "能量" in tokenizer.tokens(oil) and "能量" not in index.vocabulary
    assert "量产" in tokenizer.question_tokens(oil, index.vocabulary) and "能量" not in tokenizer.question_tokens(oil, index.vocabulary)
    heir = "康直病死后康忠做了什么工作？"
    assert "康忠" in tokenizer.question_tokens(heir, index.vocabulary) and "后康忠" not in tokenizer.question_tokens(heir, index.vocabulary)
    # A word the articles never use, whose characters they hold only one by one or not at all, stays whole.
    assert "婚假" in tokenizer.question_tokens("婚假有几天？", index.vocabulary)
    assert "魏玩" in tokenizer.question_tokens("魏玩是谁的妻子？", build_lexical([tokenizer.tokens("他姓魏。孩子们在玩。")], 1.2, 0.75).vocabulary)


def test_a_one_character_verb_the_articles_only_use_inside_a_word_is_left_out_and_a_noun_stays():
    # "带进" is cut 带 / 进 where the article writes 带入: each weighed as the rarest word, and the question was
    # declined. A single-character noun the articles never use (猫) names what they may lack: it still weighs.
    tokenizer = shared_tokenizer()
    index = build_lexical([tokenizer.tokens("有网友感慨，它将把视频内容带入零基础创作时代。")], 1.2, 0.75)
    assert {"带", "进"} <= set(tokenizer.tokens("Sora会把视频内容带进什么时代？")) and "带" not in index.vocabulary
    tokens = tokenizer.question_tokens("Sora会把视频内容带进什么时代？", index.vocabulary)
    assert "带" not in tokens and "进" not in tokens and {"视频", "内容", "时代"} <= set(tokens)
    assert "猫" in tokenizer.question_tokens("猫能进入零基础创作时代吗？", index.vocabulary)


def test_a_question_word_with_its_measure_word_and_glued_grammar_are_not_words_to_match():
    # "Sora 视频时长 比别家提升了几倍" weighed 几倍, and "有个把Sora原理比成……的解释" 有个, as the rarest words, which the
    # articles never use: they ask how many or are the question's grammar, and name nothing an answer must hold.
    tokenizer = shared_tokenizer()
    index = build_lexical([tokenizer.tokens("Sora生成视频的时长提升了15倍。有位专家给出了一个解释。")], 1.2, 0.75)
    assert "几倍" in tokenizer.tokens("视频时长提升了几倍") and "有个" in tokenizer.tokens("有个专家的解释")
    tokens = tokenizer.question_tokens("视频时长提升了几倍", index.vocabulary)
    assert "几倍" not in tokens and {"视频", "提升"} <= set(tokens)
    assert tokenizer.question_tokens("有个专家的解释", index.vocabulary) == ["专家", "解释"]
    assert tokenizer.question_tokens("哪所大学有几位专家", index.vocabulary) == ["大学", "专家"]
    # Grammar the articles use as a word stays: they cut it so too.
    assert "有位" in tokenizer.question_tokens("有位专家怎么说", index.vocabulary)


def test_in_all_beside_a_count_and_a_word_for_thing_after_a_question_word_are_not_words_to_match():
    # "总共有多少个国家控制着这个地区？" and "定子固定在什么东西上?" (xquad-zh) were declined for 总共 and 东西, which the
    # articles never use: they weighed as the corpus's rarest words, and name nothing an answer must hold.
    tokenizer = shared_tokenizer()
    index = build_lexical([tokenizer.tokens("这一地区包括属于九个国家的领土。定子固定在涡轮机壳体上。")], 1.2, 0.75)
    assert "总共" in tokenizer.tokens("总共有多少个国家控制着这个地区") and "总共" not in index.vocabulary
    tokens = tokenizer.question_tokens("总共有多少个国家控制着这个地区？", index.vocabulary)
    assert "总共" not in tokens and {"国家", "地区"} <= set(tokens)
    assert "一共" not in tokenizer.question_tokens("一共有几个国家？", index.vocabulary)
    assert "东西" in tokenizer.tokens("定子固定在什么东西上")
    assert tokenizer.question_tokens("定子固定在什么东西上?", index.vocabulary) == ["定子", "固定"]
    # A word for "thing" the question names otherwise stays: it may be what the articles lack.
    assert "东西" in tokenizer.question_tokens("定子固定的东西是什么？", index.vocabulary)
    # "In all" the articles use as a word stays.
    held = build_lexical([tokenizer.tokens("两国总共派出了九个代表团。")], 1.2, 0.75)
    assert "总共" in held.vocabulary and "总共" in tokenizer.question_tokens("总共有多少个国家", held.vocabulary)


def test_a_piece_of_a_word_that_straddles_a_word_the_articles_use_is_the_cut_s_and_not_a_word_to_match():
    # jieba's search mode cuts 普通人 into 普通, 通人 and 普通人: 通人, which the articles never use, weighed as their
    # rarest word beside 普通人, twice the weight of one word they lack. A piece beside the held word stays (高尔夫 of
    # 高尔夫球场, beside 球场): it names what the articles may lack.
    tokenizer = shared_tokenizer()
    index = build_lexical([tokenizer.tokens("普通网友已经可以使用。"), tokenizer.tokens("这座球场很大。")], 1.2, 0.75)
    assert "通人" in tokenizer.tokens("普通人能用吗")
    tokens = tokenizer.question_tokens("普通人能用吗", index.vocabulary)
    assert "通人" not in tokens and {"普通", "普通人"} <= set(tokens)
    assert {"球场", "高尔夫", "高尔夫球场"} <= set(tokenizer.question_tokens("高尔夫球场有多大", index.vocabulary))


def test_words_that_point_at_the_text_asked_of_are_not_words_to_match():
    # 文章 and 提到 are words of the articles, rare ones: they weighed most of "那篇文章提到Sora能生成多长的视频？", and
    # the answer's sentences, which hold neither, read as not answering it.
    tokenizer = shared_tokenizer()
    index = build_lexical([tokenizer.tokens(a) for a in ("文章作者: 量子位。文章提到了股价。", "Sora能生成长达一分钟的视频。")],
                          1.2, 0.75)
    assert {"文章", "提到"} <= set(index.vocabulary)
    for question in ("那篇文章提到Sora能生成多长的视频？", "文中说Sora能生成多长的视频？", "根据材料，Sora能生成多长的视频？",
                     "這篇文章裡提到Sora能生成多長的視頻？"):
        assert tokenizer.question_tokens(question, index.vocabulary) == ["sora", "生成", "视频"], question
    # A language's name before 文中 is no pointer, and 说明 is a word of its own, not a verb of saying.
    assert "希腊文" in tokenizer.question_tokens("栉水母类在希腊文中是什么意思？", index.vocabulary)
    assert "说明" in tokenizer.question_tokens("文章说明了什么？", index.vocabulary)


def test_a_one_character_word_jieba_glues_to_a_stopword_after_it_is_read_as_the_articles_word():
    # "进修假有几天？" is cut 进修 / 假有 / 几天 and the article's "带薪进修假" 进修 / 假: 假有, a word of neither
    # jieba's dictionary nor the articles, weighed as the rarest word, and the question was declined over the
    # article that answers it. 有 is a stopword: 假有 is 假. Before the character (于海: 于 is one too), or beside
    # a second character the articles hold (魏玩), it is a name.
    tokenizer = shared_tokenizer()
    articles = ["入职满三年的员工可申请带薪进修假，最长10天。", "他姓魏，住在海边。孩子们在玩。"]
    index = build_lexical([tokenizer.tokens(a) for a in articles], 1.2, 0.75)
    question = "进修假有几天？"
    assert "假有" in tokenizer.tokens(question) and "假有" not in index.vocabulary
    assert tokenizer.question_tokens(question, index.vocabulary)[:2] == ["进修", "假"]
    assert "于海" in tokenizer.question_tokens("于海为何无缘国奥队？", index.vocabulary)
    assert "魏玩" in tokenizer.question_tokens("魏玩是谁的妻子？", index.vocabulary)


def test_a_degree_word_the_articles_never_use_asks_and_is_not_searched_for():
    # "Sora生成的视频最长多长？" was declined over the articles that say "生成长达1分钟的高清视频": 最长, never in
    # them, weighed as the question's rarest word, four fifths of its weight. Like 多长, it asks how far.
    tokenizer = shared_tokenizer()
    articles = ["Sora模型能根据提示词，生成长达1分钟的高清视频。", "这是今年最大的新闻。"]
    index = build_lexical([tokenizer.tokens(a) for a in articles], 1.2, 0.75)
    assert "最长" in tokenizer.tokens("Sora生成的视频最长多长？")
    assert tokenizer.question_tokens("Sora生成的视频最长多长？", index.vocabulary) == ["sora", "生成", "视频"]
    assert tokenizer.question_tokens("视频更长吗？", index.vocabulary) == ["视频"]
    assert tokenizer.question_tokens("Sora究竟有多强？", index.vocabulary) == ["sora"]  # 究竟 is a stopword
    # One the articles use is matched as it is.
    assert "最大" in tokenizer.question_tokens("今年最大的新闻是什么？", index.vocabulary)


def test_colloquial_and_ordinal_question_words_are_stopwords_as_their_plain_forms_are():
    # "Sora是啥？" was declined (0.04) where "Sora是什么？" is answered: 啥, never in the articles, weighed as the
    # question's rarest word. So did 为啥, 第几次, 什么样, 需不需要 beside 为什么, 多少次, 怎么样, 能不能.
    tokenizer = shared_tokenizer()
    assert tokenizer.tokens("Sora是啥？") == tokenizer.tokens("Sora是什么？") == ["sora"]
    assert tokenizer.tokens("为啥Sora这么火？") == tokenizer.tokens("为什么Sora这么火？")
    assert tokenizer.tokens("Sora第几次发布？") == ["sora", "发布"]
    assert tokenizer.tokens("Sora啥时候发布的？") == tokenizer.tokens("Sora是什么时候发布的？") == ["sora", "发布"]
    assert tokenizer.tokens("Sora是怎么回事？") == ["sora"]
    assert tokenizer.tokens("代码需不需要修改？") == ["代码", "需要", "修改"]


def test_a_word_comparing_prices_the_articles_never_use_is_read_as_their_word_for_price():
    # "哪个型号最便宜？" over a price table was declined: 便宜, never in the notes, weighed as the question's rarest word.
    tokenizer = shared_tokenizer()
    articles = ["| 型号 | 价格 |", "| 星图一体机A1 | 29800元 |", "| Model | Price |", "| Aurora S3 Mini | $89 |"]
    index = build_lexical([tokenizer.tokens(a) for a in articles], 1.2, 0.75)
    assert tokenizer.question_tokens("哪个型号最便宜？", index.vocabulary) == ["型号", "价格"]
    assert tokenizer.question_tokens("哪个型号最贵？", index.vocabulary) == ["型号", "价格"]
    assert tokenizer.question_tokens("Which model is the cheapest?", index.vocabulary) == ["model", "price"]
    assert "price" in tokenizer.question_tokens("Which model is the most expensive?", index.vocabulary)
    # Held by the articles, the word is matched as it is; not comparing a price (贵公司, "expensive fixes"), left alone.
    held = build_lexical([tokenizer.tokens(a) for a in [*articles, "A1最便宜。"]], 1.2, 0.75)
    assert "便宜" in tokenizer.question_tokens("哪个型号最便宜？", held.vocabulary)
    assert "价格" not in tokenizer.question_tokens("贵公司在哪里？", index.vocabulary)
    assert "price" not in tokenizer.question_tokens("Why are the fixes expensive?", index.vocabulary)


def test_by_the_languages_idf_a_question_word_with_its_measure_word_weighs_nothing():
    # Below 20 passages a question's words are weighed by jieba's dictionary, which never counts 哪款: it weighed as the
    # rarest word, and "哪款最便宜？" was declined over a manual that answers it.
    tokenizer = shared_tokenizer()
    weights = tokenizer.language_idf(["哪款", "哪项", "几台", "价格", "几乎", "哪怕"])
    assert weights["哪款"] == weights["哪项"] == weights["几台"] == 0.0
    assert weights["价格"] > 0 and weights["几乎"] > 0 and weights["哪怕"] > 0  # "almost", "even if": no question


def test_coverage_is_the_share_of_idf_mass_found():
    assert coverage({"a": 3.0, "b": 1.0}, {"a"}) == 0.75
    assert coverage({}, {"a"}) == 0.0


def test_weighted_fusion_equals_a_plain_recomputation_on_the_seeds(tmp_path):
    from rag.embedding import HashingEmbedder
    from rag.index.build import build_index
    from rag.index.lexical import coverage as share
    from rag.index.store import load_index
    from rag.retrieval.fusion import FusionWeights
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
    fused = dict(weighted_fusion(index, rows, vector, tokens, FusionWeights(0.75, 0.5, 3.0, 0.5, 0.0, 0.0, 0.0)))

    dense = np.array([float(index.vectors.passage_vectors(np.array([r]))[0] @ vector) for r in rows])
    bm25 = index.lexical.scores(tokens)[rows]
    weights = index.lexical.term_weights(tokens)
    covered = np.array([share(weights, set(tokenizer.tokens(index.chunks[r].searched))) for r in rows])
    # A passage's best sentence: the highest cosine among the sentences it holds.
    best = np.array([max(float(index.vectors.sentence_vectors(np.array([i]))[0] @ vector) for i in index.chunks[r].sentence_ids)
                     for r in rows])
    expected = (0.75 * (dense - dense.mean()) / dense.std() + 0.5 * bm25 / bm25.max() + 3.0 * covered
                + 0.5 * (best - best.mean()) / best.std())
    assert np.allclose([fused[r] for r in rows], expected, atol=1e-4)
    assert max(fused, key=fused.get) == rows[int(np.argmax(expected))]


def test_the_reader_feature_is_each_passages_best_sentence_as_the_second_reader_reads_it(tmp_path, monkeypatch):
    # An English question over Chinese articles: the second reader (rag/embedding/reader.py) was trained on translations,
    # and its passages' best sentence is a feature of their fusion, z-scored among the candidates like the embedder's.
    from rag.embedding import HashingEmbedder
    from rag.embedding.reader import shared_reader
    from rag.index.build import build_index
    from rag.index.store import load_index
    from rag.retrieval.fusion import FEATURES, fusion_features

    from support import SEEDS, fake_settings

    settings = fake_settings(tmp_path, SEEDS)
    build_index(settings, HashingEmbedder(64))
    index = load_index(settings)
    question = "How much did Adobe's share price drop?"
    vector = HashingEmbedder(64).encode_queries([question])[0]
    reading = shared_reader().read_question(question)
    rows = list(range(len(index.chunks)))
    column = fusion_features(index, rows, vector, ["adobe"], reading=reading)[:, FEATURES.index("reader")]
    best = np.array([max(float(index.vectors.reader_vectors(np.array([i]))[0] @ reading) for i in index.chunks[r].sentence_ids)
                     for r in rows])
    assert np.allclose(column, (best - best.mean()) / best.std(), atol=1e-4)
    # The passage the second reader finds nearest says how far Adobe's shares fell.
    assert "Adobe" in index.chunks[rows[int(column.argmax())]].text
    # Without the question's reading, or over an index that holds no readings (Milvus), the column is zero.
    assert not fusion_features(index, rows, vector, ["adobe"])[:, FEATURES.index("reader")].any()
    monkeypatch.setattr(type(index.vectors), "reader_vectors", lambda self, ids: None)
    assert not fusion_features(index, rows, vector, ["adobe"], reading=reading)[:, FEATURES.index("reader")].any()


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


def test_the_shipped_fusion_says_how_it_was_made_and_a_bad_file_is_one_line(tmp_path):
    import json
    from pathlib import Path

    from rag.errors import RagError
    from rag.retrieval.fusion import FEATURES, load_fusion

    shipped = json.loads((Path(__file__).parents[1] / "rag" / "data" / "fusion.json").read_text(encoding="utf-8"))
    assert shipped["made"]["script"] == "bench/fit_retrieval.py"
    assert set(shipped["made"]["leave_one_set_out"]) >= {"cmrc", "xquad-zh", "xquad-en", "public"}
    params = load_fusion()
    # A question in another language than the articles' cannot match them word for word: its weights differ.
    assert params.same_language != params.other_language
    assert list(shipped["model"]["same_language"]) == list(FEATURES)
    for text in ("{", '{"model": {"same_language": {"dense": 1}}}'):
        broken = tmp_path / "fusion.json"
        broken.write_text(text, encoding="utf-8")
        load_fusion.cache_clear()
        with pytest.raises(RagError) as caught:
            load_fusion(str(broken))
        assert "\n" not in str(caught.value) and "bench/fit_retrieval.py" in str(caught.value)


def test_a_question_in_the_articles_language_is_fused_with_the_weights_that_match_words(tmp_path, monkeypatch):
    from rag.embedding import HashingEmbedder
    from rag.index.build import build_index
    from rag.index.store import load_index
    from rag.retrieval.fusion import load_fusion
    from rag.retrieval.retriever import Retriever, articles_are_chinese

    from support import SEEDS, fake_settings

    english = tmp_path / "notes"
    english.mkdir()
    (english / "leave.md").write_text("# Leave\n\nEvery employee gets twelve days of annual leave.\n", encoding="utf-8")
    (english / "canteen.md").write_text("# Canteen\n\nThe canteen opens at half past eleven.\n", encoding="utf-8")
    for corpus, chinese in ((SEEDS, True), (english, False)):
        settings = fake_settings(tmp_path / corpus.name, corpus)
        build_index(settings, HashingEmbedder(64))
        index = load_index(settings)
        assert articles_are_chinese(index) is chinese
    # Over English notes an English question is in the articles' language: its words count.
    import rag.retrieval.retriever as retriever_module

    asked = []
    real = retriever_module.hybrid_search
    monkeypatch.setattr(retriever_module, "hybrid_search", lambda *a, **k: asked.append(k["weights"]) or real(*a, **k))
    retriever = Retriever(settings, index, HashingEmbedder(64), shared_tokenizer())
    evidence = retriever.retrieve("When does the canteen open?", 2)
    assert asked == [load_fusion().same_language] and evidence.same_language
    assert evidence.hits[0].chunk.file.endswith("canteen.md")


def test_an_english_questions_passages_are_fused_with_its_reading_and_none_where_the_index_holds_none(tmp_path,
                                                                                                   monkeypatch):
    import rag.retrieval.retriever as retriever_module
    from rag.embedding import HashingEmbedder
    from rag.embedding.reader import shared_reader
    from rag.index.build import build_index
    from rag.index.store import load_index
    from rag.retrieval.retriever import Retriever

    from support import SEEDS, fake_settings

    settings = fake_settings(tmp_path, SEEDS)
    build_index(settings, HashingEmbedder(64))
    index = load_index(settings)
    readings = []
    real = retriever_module.hybrid_search
    monkeypatch.setattr(retriever_module, "hybrid_search", lambda *a, **k: readings.append(k["reading"]) or real(*a, **k))
    question = "How far did Adobe's stock fall after Sora was released?"
    Retriever(settings, index, HashingEmbedder(64), shared_tokenizer()).retrieve(question, 5)
    # The passages shown and the ones the decision judges (retrieved without the dictionary) both read it.
    assert len(readings) == 2 and all(np.array_equal(r, shared_reader().read_question(question)) for r in readings)
    readings.clear()
    # A Chinese question's weights do not read it: its retrieval does not wait for the reader.
    asked = []
    monkeypatch.setattr(Retriever, "reading", lambda self, q: asked.append(q))
    Retriever(settings, index, HashingEmbedder(64), shared_tokenizer()).retrieve("Sora发布后Adobe的股价跌了多少？", 5)
    assert not asked and readings == [None]
    monkeypatch.undo()
    monkeypatch.setattr(retriever_module, "hybrid_search", lambda *a, **k: readings.append(k["reading"]) or real(*a, **k))
    readings.clear()
    monkeypatch.setattr(type(index.vectors), "reader_vectors", lambda self, ids: None)
    Retriever(settings, index, HashingEmbedder(64), shared_tokenizer()).retrieve(question, 5)
    assert readings and all(r is None for r in readings)


def test_a_question_the_dictionary_cannot_read_is_fused_with_the_readers_weights_when_the_reader_reads_its_language(
        tmp_path, monkeypatch):
    import rag.retrieval.retriever as retriever_module
    from rag.embedding import HashingEmbedder
    from rag.embedding.reader import shared_reader
    from rag.index.build import build_index
    from rag.index.store import load_index
    from rag.retrieval.fusion import load_fusion
    from rag.retrieval.retriever import Retriever

    from support import SEEDS, fake_settings

    settings = fake_settings(tmp_path, SEEDS)
    build_index(settings, HashingEmbedder(64))
    index = load_index(settings)
    calls = []
    real = retriever_module.hybrid_search
    monkeypatch.setattr(retriever_module, "hybrid_search", lambda *a, **k: calls.append(k) or real(*a, **k))
    retriever = Retriever(settings, index, HashingEmbedder(64), shared_tokenizer())
    fusion = load_fusion()
    assert fusion.other_language_reader.reader > 0 and fusion.other_language_plain.reader == 0  # the shipped weights
    german = "Wie stark fiel der Aktienkurs von Adobe nach der Veröffentlichung von Sora?"
    assert retriever.retrieve(german, 5).unread
    assert [k["weights"] for k in calls] == [fusion.other_language_reader]
    assert np.array_equal(calls[0]["reading"], shared_reader().read_question(german))
    # Greek is not among the reader's languages: its readings would place the question far from its answer.
    calls.clear()
    assert retriever.retrieve("Πόσο έπεσε η μετοχή της Adobe μετά την κυκλοφορία του Sora;", 5).unread
    assert [k["weights"] for k in calls] == [fusion.other_language_plain] and calls[0]["reading"] is None
    # Nor over an index without readings (Milvus).
    calls.clear()
    monkeypatch.setattr(type(index.vectors), "reader_vectors", lambda self, ids: None)
    Retriever(settings, index, HashingEmbedder(64), shared_tokenizer()).retrieve(german, 5)
    assert [k["weights"] for k in calls] == [fusion.other_language_plain] and calls[0]["reading"] is None


def test_the_glossary_reads_cedict_backwards_shorter_glosses_first_and_only_words_the_index_holds():
    from rag.retrieval.glossary import Glossary

    glossary = Glossary.from_lines([
        "食堂 食堂 [shi2 tang2] /dining hall; cafeteria/CL:個|个[ge4]/",
        "餐厅 餐厅 [can1 ting1] /dining room; restaurant/",
        "开 开 [kai1] /to open/to start/",
        "開放 开放 [kai1 fang4] /to open up (to the public)/",
        "超級碗 超级碗 [chao1 ji2 wan3] /Super Bowl/",
        "碗 碗 [wan3] /bowl/",
        "台 台 [tai2] /variant of 臺|台[tai2]/",
    ])
    vocabulary = {"食堂", "餐厅", "开", "开放", "超级碗", "碗", "台"}
    groups = glossary.translate("When does the dining hall open?", vocabulary).groups
    # One group a word (or word pair): "dining" and "hall" each, "dining hall" whole, "open"; "when", "does",
    # "the" are no words to look for. A one-word gloss weighs 1, a gloss of two words 1/2 a word.
    assert groups == (
        (("食堂", 0.5), ("餐厅", 0.5)),
        (("食堂", 0.5),),
        (("开", 1.0), ("开放", 0.5)),
        (("食堂", 1.0),),
    )
    # Inflections find their stem; a word pair is a phrase; the index's vocabulary bounds what is kept.
    assert glossary.translate("bowls opened", vocabulary).groups == (
        (("碗", 1.0), ("超级碗", 0.5)), (("开", 1.0), ("开放", 0.5)))
    assert glossary.translate("super bowl", {"超级碗"}).groups == ((("超级碗", 0.5),), (("超级碗", 0.5),), (("超级碗", 1.0),))
    assert not glossary.translate("dining hall", {"碗"})
    # A gloss that points at another entry is no meaning: "variant" translates to nothing.
    assert not glossary.translate("variant", vocabulary)


def test_a_noun_the_dictionary_glosses_only_by_its_root_is_read_through_the_root():
    from rag.retrieval.glossary import Glossary

    # CC-CEDICT glosses 弱点 "weak point", never "weakness": "What are Sora's weaknesses?" found nothing to match, and
    # opened with a sentence on Sora's training input.
    glossary = Glossary.from_lines([
        "弱點 弱点 [ruo4 dian3] /weak point/failing/",
        "疲態 疲态 [pi2 tai4] /weakness/",
        "限度 限度 [xian4 du4] /limitation/limit/",
        "限制 限制 [xian4 zhi4] /to restrict/to limit/",
    ])
    assert glossary.translate("What are Sora's weaknesses?", {"弱点", "sora"}).groups == (
        (("sora", 1.0),), (("弱点", 0.25),))
    # Read through its root only when nothing the articles use translates the word itself, and at half the weight.
    assert glossary.translate("weaknesses", {"弱点", "疲态"}).groups == ((("疲态", 1.0),),)
    assert glossary.translate("limitations", {"限度", "限制"}).groups == ((("限度", 1.0),),)
    assert glossary.translate("limitations", {"限制"}).groups == ((("限制", 0.5),),)


def test_a_hyphenated_word_is_read_as_its_parts_and_a_phrase_joined_by_grammar_whole():
    from rag.retrieval.glossary import Glossary

    glossary = Glossary.from_lines([
        "創始人 创始人 [chuang4 shi3 ren2] /founder/",
        "白堊紀 白垩纪 [bai2 e4 ji4] /Cretaceous/",
        "古近紀 古近纪 [gu3 jin4 ji4] /Paleogene/",
        "因果 因果 [yin1 guo3] /cause and effect/karma/",
        "原因 原因 [yuan2 yin1] /cause/origin/",
        "長期 长期 [chang2 qi1] /long-term/",
    ])
    vocabulary = {"创始人", "白垩纪", "古近纪", "因果", "原因", "长期"}
    # A hyphenated word the dictionary lacks is read through its parts, as one word still: one group, held when either
    # part's translation is. A prefix's word is read as the word it was made from ("co-founder": "founder").
    assert glossary.translate("Cretaceous-Paleogene", vocabulary).groups == ((("白垩纪", 1.0), ("古近纪", 1.0)),)
    assert glossary.translate("Which co-founder?", vocabulary).groups == ((("创始人", 1.0),),)
    # A hyphenated word the dictionary glosses stays whole.
    assert glossary.translate("long-term", vocabulary).groups == ((("长期", 1.0),),)
    # "cause and effect" is one gloss: its words alone read 原因 and nothing for "effect".
    assert (("因果", 1.0),) in glossary.translate("cause and effect", vocabulary).groups
    assert (("因果", 1.0),) not in glossary.translate("cause or effect", vocabulary).groups


def test_a_word_the_articles_write_as_the_question_does_is_its_own_translation():
    from rag.retrieval.glossary import Glossary

    # The dictionary has no entry for a name: "Sora", "OpenAI" or a plant's Latin name that a Chinese article writes
    # beside its Chinese one matched nothing, and an English question that named it read as holding none of it.
    glossary = Glossary.from_lines(["視頻 视频 [shi4 pin2] /video/", "訓練 训练 [xun4 lian4] /to train/"])
    vocabulary = {"视频", "训练", "sora", "openai", "video", "telosma"}
    assert glossary.translate("Did OpenAI train Sora on videos?", vocabulary).groups == (
        (("openai", 1.0),), (("训练", 1.0),), (("sora", 1.0),), (("视频", 1.0), ("video", 1.0)))
    assert glossary.translate("Where is Telosma cordata found?", vocabulary).groups == ((("telosma", 1.0),),)
    assert not glossary.translate("Did YouTube train it?", {"sora"})


def test_a_name_written_in_pinyin_is_read_as_the_index_words_that_sound_like_it():
    from rag.retrieval.glossary import Glossary

    glossary = Glossary.from_lines([
        "高 高 [gao1] /high/tall/",
        "英 英 [ying1] /hero/",
        "應 应 [ying1] /should/",
        "罗 罗 [luo2] /net for catching birds/",
        "保 保 [bao3] /to defend/",
        "銘 铭 [ming2] /to engrave/",
        "明 明 [ming2] /bright/",
        "北京 北京 [Bei3 jing1] /Beijing/capital of China/",
        "背景 背景 [bei4 jing3] /background/",
        "女 女 [nu:3] /female/",
        "呂 吕 [Lu:3] /surname Lü/",
    ])
    vocabulary = {"高英", "罗保铭", "罗保明", "背景", "北京", "吕女", "高"}
    sounds = glossary.sound_index(vocabulary)
    assert sounds.get("gao ying") == ("高英",) and sorted(sounds.get("luo bao ming")) == ["罗保明", "罗保铭"]
    assert sounds.get("gao") == ()
    # A name written as separate words or as one, anywhere in the question, its homophones together in one group.
    assert glossary.translate("Gao Ying was the empress of which emperor?", vocabulary, sounds=sounds).groups[-1] == (
        ("高英", 1.0),)
    found = glossary.translate("Where did Luo Baoming study?", vocabulary, sounds=sounds).groups[-1]
    assert sorted(found) == [("罗保明", 1.0), ("罗保铭", 1.0)]
    # ü is written u in English names.
    assert glossary.translate("Who is Lu Nu?", vocabulary, sounds=sounds).groups[-1] == (("吕女", 1.0),)
    # A word the dictionary translates is read by its meaning, not its sound: Beijing is 北京, not 背景. One
    # syllable is no name ("Gao"), nor is a word that is not pinyin ("Emperor").
    assert glossary.translate("Why Beijing?", vocabulary, sounds=sounds).groups == ((("北京", 1.0),),)
    assert not glossary.translate("Was Gao an Emperor?", vocabulary, sounds=sounds)
    assert not glossary.translate("Gao Ying", vocabulary)  # without the index's sounds, no names
    # The question's first word, capitalised, does not hide the name after it.
    assert glossary.translate("Gao Gao Ying?", vocabulary, sounds=sounds).groups[-1] == (("高英", 1.0),)


def test_the_bundled_dictionary_reads_pinyin_names_over_a_real_vocabulary():
    from rag.retrieval.glossary import shared_glossary

    glossary = shared_glossary()
    vocabulary = {"潘仕成", "凤岭", "娜塔莎", "广州"}
    sounds = glossary.sound_index(vocabulary)
    groups = glossary.translate("When did Pan Shicheng visit Fengling with Natasha?", vocabulary, sounds=sounds).groups
    assert (("潘仕成", 1.0),) in groups and (("凤岭", 1.0),) in groups and (("娜塔莎", 1.0),) in groups


def test_the_bundled_dictionary_translates_common_words():
    from rag.retrieval.glossary import shared_glossary

    glossary = shared_glossary()
    found = glossary.translate("How large is the population of the university?", {"人口", "大学", "大型"}).groups
    assert ("人口", 1.0) in found[1] and ("大学", 1.0) in found[2]


NOTES = {
    "canteen.md": "# 食堂\n\n公司食堂每天上午十一点半开始供应午餐，晚餐五点半开始。\n",
    "leave.md": "# 年假\n\n员工每年享有十二天带薪年假，入职满一年后开始计算。\n",
    "parking.md": "# 停车\n\n员工停车场位于大楼地下二层，需要提前登记车牌。\n",
    "expenses.md": "# 报销\n\n差旅费用的报销须在出差结束后三十天内提交发票。\n",
    "overtime.md": "# 加班\n\n周末加班按照两倍工资计算，节假日加班按照三倍工资计算。\n",
    "delivery.md": "# 快递\n\n个人快递请寄到前台，由前台统一签收后通知本人领取。\n",
}


def notes_retriever(tmp_path, notes: dict[str, str], **overrides):
    """Return a retriever over `notes` (file name: text), indexed with the hashing embedder."""
    from rag.embedding import HashingEmbedder
    from rag.index.build import build_index
    from rag.index.store import load_index
    from rag.retrieval.retriever import Retriever

    from support import fake_settings

    folder = tmp_path / "notes"
    folder.mkdir()
    for name, text in notes.items():
        (folder / name).write_text(text, encoding="utf-8")
    settings = fake_settings(tmp_path / "index", folder, **overrides)
    build_index(settings, HashingEmbedder(64))
    return Retriever(settings, load_index(settings), HashingEmbedder(64), shared_tokenizer())


def test_an_english_question_over_chinese_notes_finds_the_note_through_its_words_translations(tmp_path):
    import json
    from pathlib import Path

    # The hashing embedder's cosines are noise across languages, as large as any signal over six notes: the dense
    # side weighs little here, so what is tested is what the translation brings, not the shipped weights' balance.
    shipped = json.loads((Path(__file__).parents[1] / "rag" / "data" / "fusion.json").read_text(encoding="utf-8"))
    shipped["model"]["other_language"] = dict.fromkeys(shipped["model"]["other_language"], 0.0) | {
        "dense": 0.25, "translated": 1.0, "translated_coverage": 1.0}
    (tmp_path / "fusion.json").write_text(json.dumps(shipped), encoding="utf-8")
    retriever = notes_retriever(tmp_path, NOTES, fusion_file=str(tmp_path / "fusion.json"))
    asked = {
        "When does the canteen serve lunch?": "canteen.md",
        "How long do I have to submit invoices for travel expenses?": "expenses.md",
        "Where is the parking lot?": "parking.md",
        "How is overtime pay calculated?": "overtime.md",
        "Where should I send my express delivery?": "delivery.md",
    }
    # The hashing embedder matches no English word to a Chinese one, and the notes hold no English word: only the
    # dictionary's translations can say which note each question is about.
    for question, file in asked.items():
        found = retriever.retrieve(question, 3)
        assert found.hits[0].chunk.file.endswith(file), question
        assert found.judged_hits, question  # found without the dictionary: what the decision judges
    chinese = retriever.retrieve("员工食堂几点开门？", 3)
    assert chinese.translation.groups == () and chinese.judged_hits == ()  # a Chinese question is read as it is
    assert not chinese.unread and not retriever.retrieve("When does the canteen serve lunch?", 3).unread
    # A question in a language the dictionary cannot read is found by its meaning alone, not by words that only look
    # English ("die", "Kantine"), and judged so.
    for question in ("Wann öffnet die Kantine zum Mittagessen?", "Когда открывается столовая?", "¿Dónde está el parking?"):
        found = retriever.retrieve(question, 3)
        assert found.unread and found.translation.groups == () and found.judged_hits == (), question


def test_a_name_an_english_question_writes_in_pinyin_is_its_own_word_in_what_the_decision_judges(tmp_path):
    reception = {"reception.md": "# 前台\n\n前台主管周鸿祎负责访客登记和快递签收。\n"}
    retriever = notes_retriever(tmp_path, NOTES | reception)
    # "Who is Zhou Hongyi?" holds no word the dictionary translates: without the name the passages the decision
    # judges were the dense side's alone, noise here and often another article over real ones, and it was declined.
    found = retriever.retrieve("Who is Zhou Hongyi?", 3)
    assert found.translation.named == ("周鸿祎",)
    assert found.judged_hits[0].chunk.file.endswith("reception.md")


def test_only_an_english_question_is_read_by_the_dictionary():
    from rag.retrieval.glossary import reads

    english = ["When was Sora released?", "Who leads the Sora team?", "How many days of annual leave do I get?",
               "Can ordinary users use Sora directly now?", "Is acrylic paint toxic?", "Tell me a joke",
               "What's the capital of France?"]
    other = ["Wann wurde Sora veröffentlicht?", "¿Cuándo se lanzó Sora?", "Quand Sora a-t-il été publié ?",
             "Когда была выпущена Sora?", "Πότε κυκλοφόρησε το Sora;", "Sora ne zaman yayınlandı?",
             "Sora được phát hành khi nào?", "Was ist Sora?", "Câte zile de concediu are un angajat?"]
    assert [q for q in english if not reads(q)] == []
    assert [q for q in other if reads(q)] == []


def test_translated_features_are_each_word_s_best_translation_and_the_share_of_words_held(tmp_path):
    from rag.embedding import HashingEmbedder
    from rag.index.build import build_index
    from rag.index.store import load_index
    from rag.records import Translation
    from rag.retrieval.fusion import FEATURES, fusion_features

    from support import SEEDS, fake_settings

    settings = fake_settings(tmp_path, SEEDS)
    build_index(settings, HashingEmbedder(64))
    index = load_index(settings)
    translation = Translation(((("股价", 1.0), ("股票", 0.5)), (("视频", 1.0),), (("下跌", 0.5),)))
    rows = list(range(len(index.chunks)))
    vector = HashingEmbedder(64).encode_queries(["How far did Adobe's stock fall?"])[0]
    x = fusion_features(index, rows, vector, ["adobe"], translation=translation)
    bm25 = {t: index.lexical.scores([t]) for t in ("股价", "股票", "视频", "下跌")}
    expected = np.maximum(bm25["股价"], 0.5 * bm25["股票"]) + bm25["视频"] + 0.5 * bm25["下跌"]
    held = ((np.maximum(bm25["股价"], bm25["股票"]) > 0).astype(float) + (bm25["视频"] > 0) + (bm25["下跌"] > 0)) / 3
    assert np.allclose(x[:, FEATURES.index("translated")], expected / expected.max(), atol=1e-6)
    assert np.allclose(x[:, FEATURES.index("translated_coverage")], held)
    assert expected.max() > 0 and 0 < held.mean() < 1
    plain = fusion_features(index, rows, vector, ["adobe"])
    assert not plain[:, [FEATURES.index("translated"), FEATURES.index("translated_coverage")]].any()


def test_a_chinese_word_the_articles_never_use_is_read_as_their_word_the_dictionary_glosses_alike():
    from rag.retrieval.glossary import shared_glossary

    glossary = shared_glossary()
    # 片子 and 影片 share "film" and "movie"; 取代 and 替代 "replace" and "supersede", which few words share.
    assert glossary.alike("片子", {"影片", "视频"}, 0.1) == "影片"
    assert glossary.alike("取代", {"替代", "更换"}, 0.1) == "替代"
    # 变样 and 变化 share only "change", which 38 words have: not alike. Nor is a word the vocabulary lacks.
    assert glossary.alike("变样", {"变化"}, 0.1) == ""
    assert glossary.alike("片子", {"视频"}, 0.1) == ""


def test_a_paraphrased_questions_everyday_words_are_searched_as_the_articles_words(seeds_settings, fake_embedder):
    import dataclasses

    from rag.index.lexical import shared_tokenizer
    from rag.index.store import load_index
    from rag.retrieval.glossary import min_share
    from rag.retrieval.retriever import Retriever

    question = "AI做的片子能取代演员真实的表演吗？"
    vector = fake_embedder.encode_queries([question])[0]
    index = load_index(seeds_settings)

    def tokens(synonyms_file: str) -> tuple[str, ...]:
        settings = dataclasses.replace(seeds_settings, retrieval=dataclasses.replace(seeds_settings.retrieval,
                                                                                      synonyms_file=synonyms_file))
        return Retriever(settings, index, fake_embedder, shared_tokenizer()).search(question, vector, 5).tokens

    # The seeds say 影片 and 替代, never 片子 or 取代: searched for those words, the question matched nothing of them.
    assert {"片子", "取代"} <= set(tokens("off")) and not {"影片", "替代"} & set(tokens("off"))
    assert {"影片", "替代"} <= set(tokens("")) and not {"片子", "取代"} & set(tokens(""))
    assert min_share() is not None  # the shipped file reads words so


def test_the_shipped_synonyms_file_says_how_it_was_made_and_a_bad_file_is_one_line(tmp_path):
    import json
    from pathlib import Path

    from rag.errors import RagError
    from rag.retrieval.glossary import min_share

    shipped = json.loads((Path(__file__).parents[1] / "rag" / "data" / "synonyms.json").read_text(encoding="utf-8"))
    assert shipped["made"]["script"] == "bench/fit_synonyms.py"
    assert set(shipped["made"]["leave_one_set_out"]) >= {"cmrc", "xquad-zh", "public"}
    assert min_share() == shipped["min_share"] and min_share("off") is None
    for text in ("{", '{"min_share": -1}', '{"share": 0.1}'):
        broken = tmp_path / f"synonyms-{len(text)}.json"
        broken.write_text(text, encoding="utf-8")
        with pytest.raises(RagError) as caught:
            min_share(str(broken))
        assert "\n" not in str(caught.value) and "bench/fit_synonyms.py" in str(caught.value)
