"""Questions that ask what something is ("Sora是什么？", "什么是进化枝？", "What is Sora?"), who someone is ("Jim Fan是谁？")
or who made something ("Sora是哪家公司发布的？", "Who made Sora?"), answered by a sentence that says it.

Such a question names nothing but its subject, and over articles about that subject every sentence holds it: the
ranking had only the cosine to go on. "Sora是什么？" opened with a professor's view of Sora and a line of a video's
prompt; "Sora是哪家公司发布的？" with "Sora 发布后，美股知名工具软件公司 Adobe 股价随即暴跌", which holds every word it asks.

A sentence says what its subject is with a copula ("Sora 是一个数据驱动的物理引擎", "DECnet是由…创造的一套网络协议",
"X is a …"), an apposition after the kind of thing it is ("OpenAI 官方发布了文生视频模型 Sora", "首个文生视频模型：Sora",
and of a person "Pika创始人郭文景"), or one after a comma ("Sora，一个具有超强AI视频生成能力的模型"). It says who made it
with a verb of making before it in the same clause ("OpenAI 突然发布了自己的首个文生视频模型：Sora", "OpenAI released Sora")
or a passive after it ("Sora由OpenAI开发", "Sora, developed by OpenAI").

The best-ranked such sentence among the candidates goes first, a view someone states of the subject ("他认为，Sora
是……") only when nothing says what it is plainly; the rest keep their order. An article says what its subject is
where it starts: when no candidate says it plainly, the first sentence that does in the opening passages of the
answer's articles stands in (the composer's `_leads`; docs/answers.md, *A fresh user's first questions*).
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.answer.extractive import SentenceScore
from rag.ingest.textnorm import to_simplified

# A subject is a name or a short noun: no question word, pointer or 的 (a phrase, "复杂性理论的依据", asks for more
# than what the thing is), and no adverb before the copula ("球栉水母不是什么？" asks what it is not).
_SUBJECT = r"(?P<x>[^，,。？?！!的哪谁啥么何这那它他她]{1,12}?)(?<![不也都还])"
_MAKES_ZH = r"发布|推出|开发|研发|研制|打造|创造|制作|做出|做|创办|创立|创建|发明|设计|出品|开发出"
_WHO_ZH = r"谁|哪家公司|哪个公司|哪家机构|哪个机构|什么公司|什么机构|哪个团队|哪家企业|什么人|哪位"
_ASKS_ZH = {
    "what": (
        re.compile(rf"^(?:请问|请|那么)?(?:什么是|何为|何谓|啥是){_SUBJECT}$"),
        re.compile(rf"^(?:请问)?{_SUBJECT}(?:到底|究竟)?(?:是|指)(?:什么|啥|何物|什么东西|个什么东西|什么意思)(?:呢|啊|呀)?$"),
        re.compile(rf"^(?:请)?(?:简单)?(?:介绍一下|介绍下|介绍介绍)\s*{_SUBJECT}(?:吧)?$"),
        re.compile(rf"^(?:请问)?{_SUBJECT}(?:到底|究竟)?是(?:谁|何人|什么人)(?:呢|啊|呀)?$"),
    ),
    "maker": (
        re.compile(rf"^(?:请问)?{_SUBJECT}(?:是|由)?(?:{_WHO_ZH})(?:{_MAKES_ZH})(?:的|出来的)?(?:呢|啊)?$"),
        re.compile(rf"^(?:请问)?(?:是)?(?:{_WHO_ZH})(?:{_MAKES_ZH})(?:了|出了)?{_SUBJECT}(?:呢|啊)?$"),
        # whose it is, without a verb of making ("Sora是哪个公司的？", "Sora是哪家公司的产品？", "Sora出自哪家公司？")
        re.compile(rf"^(?:请问)?{_SUBJECT}(?:是|出自|来自)(?:{_WHO_ZH}|谁家)(?:的)?(?:产品|模型|作品|技术|东西)?(?:呢|啊)?$"),
    ),
}
# "What is Sora?", "What are clades?", "Who is Jim Fan?", "Who made Sora?", "Which company released Sora?": a subject of
# at most three words, none of them a word that makes the question ask something else of it ("What is the name of…",
# "What are cilia used for?").
_THING_EN = r"(?:an? |the )?(?P<x>[\w+.-]+(?: [\w+.-]+){0,2})"
_MAKES_EN = r"made|makes|developed|develops|released|releases|created|creates|built|builds|launched|launches|invented|designed|founded"
_ASKS_EN = {
    "what": re.compile(rf"^(?:(?:what|who)(?: is| are| was)|what's|who's) {_THING_EN}$", re.I),
    "maker": re.compile(rf"^(?:who|(?:which|what) (?:company|organi[sz]ation|firm|lab|team))(?: (?:{_MAKES_EN})| is behind)"
                        rf" {_THING_EN}$", re.I),
}
_NOT_SUBJECT_EN = re.compile(
    r"\b(?:of|for|in|on|by|to|from|with|about|behind|used|called|named|known|meant|name|another|other|one|difference|"
    r"reason|purpose|role|way|kind|type|it|its|this|that|these|those|they|their|he|his|she|her|you|i)\b", re.I)
# Kinds of thing an apposition names before its subject ("文生视频模型 Sora", "工会NASUWT").
_KINDS = (r"模型|公司|企业|产品|平台|工具|软件|系统|应用|程序|技术|引擎|网络|协议|组织|机构|联盟|工会|品牌|项目|服务|"
          r"游戏|电影|影片|节目|歌曲|专辑|小说|作品|疾病|病|物种|植物|动物|概念|理论|方法|算法|语言|框架|芯片|设备|"
          # and of people ("英伟达 AI 研究院首席研究科学家 Jim Fan", "Pika创始人郭文景")
          r"科学家|研究员|教授|学者|专家|工程师|创始人|创办人|董事长|总裁|首席执行官|CEO|主席|总统|部长|负责人|领队|"
          r"分析师|记者|作家|演员|歌手|导演|运动员|球员|教练")
# A verb of saying or thinking before the subject: what follows is someone's view of it.
_REPORTED = re.compile(r"认为|表示|说|称|讲到|提到|指出|觉得|看来|评价|相信|预测|猜测|\b(?:said|says|believes?|thinks?|argued?)\b")
_ASIDE = r"(?:\s*(?:（[^）]{0,40}）|\([^)]{0,40}\)))?"
_MEASURES = "个种款部位家项只门座首本"
# How plainly a sentence says it (`states`): someone's view of the subject, or what it is.
VIEW, PLAIN = 1, 2


@dataclass(frozen=True)
class Asked:
    """What an identity question asks of its subject: what it is ("what") or who made it ("maker")."""

    kind: str
    subject: str


def identity_asked(question: str) -> Asked | None:
    """Return what a question asks of its subject ("Sora" of "Sora是什么？", "What is Sora?", "Who made Sora?"), None for
    any other question."""
    text = to_simplified(question).strip().rstrip("？?。.!！ ")
    for kind, patterns in _ASKS_ZH.items():
        for pattern in patterns:
            match = pattern.match(text)
            if match:
                return Asked(kind, match.group("x").strip())
    for kind, pattern in _ASKS_EN.items():
        match = pattern.match(text)
        if match and not _NOT_SUBJECT_EN.search(match.group("x")):
            return Asked(kind, match.group("x").strip())
    return None


def states(text: str, asked: Asked) -> int:
    """Return how plainly a sentence says what the question asks of its subject: PLAIN when it says it, VIEW for a
    copula further into the sentence or in what someone is reported to say or think ("他认为，Sora 是一个可学习的模拟器":
    a view of it), 0 when it does not."""
    x = re.escape(asked.subject.lower())
    text = to_simplified(text).lower()
    if asked.kind == "maker":
        return PLAIN if (re.search(rf"(?:{_MAKES_ZH})(?:了|出)?[^，,。；;！？!?]{{0,20}}?{x}", text)
                     or re.search(rf"{x}[^，,。；;]{{0,8}}(?:是由|由)[^，,。；;]{{1,20}}(?:{_MAKES_ZH})", text)
                     or re.search(rf"\b(?:{_MAKES_EN}|unveiled|introduced)\b[^.;!?]{{0,40}}\b{x}\b", text)
                     or re.search(rf"\b{x}\b[^.;]{{0,30}}\b(?:{_MAKES_EN}) by\b", text)) else 0
    # A Latin name ends where a Latin letter does not follow ("模型Sora发布" names Sora, "Soraya" is another name); a
    # Chinese one where no character of a longer word does.
    end = r"(?![a-z0-9])" if re.search(r"[a-z0-9]$", x) else r"(?![\w])"
    if (re.search(rf"(?:{_KINDS})\s*[：:]?\s*[“\"《]?{x}{end}", text)
            or re.search(rf"{x}[”\"》]?\s*[，,]\s*(?:一[{_MEASURES}])", text)
            or re.search(rf"(?:名为|叫做|称为|被称为)\s*[“\"《]?{x}", text)):
        return PLAIN
    # An encyclopedia's opening: the subject, its name in another language in brackets ("自在奥义书（IAST：…）婆罗门教…").
    if re.match(rf"\s*[“\"《]?{x}[”\"》]?\s*(?:（[^）]{{1,80}}）|\([^)]{{1,80}}\))", text):
        return PLAIN
    copula = (re.search(rf"{x}[”\"》]?{_ASIDE}\s*[，,]?\s*(?:是(?!否|不是)|乃|指的?是)", text)
              or re.search(rf"^[“\"《]?{x}[”\"》]?[^。；;！？!?]{{0,40}}?(?:是指|指的是|是一[{_MEASURES}]|为一[{_MEASURES}])", text)
              or re.search(rf"\b{x}\b{_ASIDE}\s*(?:is|was|are|were)\s+(?:an?|the|one)\b", text))
    if copula is None:
        return 0
    # The subject opening the sentence is what it is about; further in ("不过，自在奥义书是…成书较晚的", "他认为，Sora 是…"),
    # the sentence says something of it, or someone's view of it.
    before = text[: copula.start()]
    return PLAIN if not before.strip(" “\"《") and not _REPORTED.search(before) else VIEW


def prefer_identifying(scored: Sequence[SentenceScore], question: str,
                       leads: Callable[[], Sequence[SentenceScore]] = tuple) -> list[SentenceScore]:
    """Return the ranked candidates with the best-ranked one that says most plainly what the question asks of its
    subject first, when it is an identity question; otherwise as ranked. When no candidate says it plainly, the
    first of the `leads` (sentences where the answer's articles start, in their order; read only then) that does
    stands in."""
    asked = identity_asked(question)
    if asked is None or not scored:
        return list(scored)
    strength = [states(s.sentence.text, asked) for s in scored]
    most = max(strength)
    best = scored[strength.index(most)] if most else None
    if most < PLAIN:
        best = next((lead for lead in leads() if states(lead.sentence.text, asked) == PLAIN), best)
    if best is None or best is scored[0]:
        return list(scored)
    first = dataclasses.replace(best, score=scored[0].score + 1e-3)
    return [first, *(s for s in scored if s is not best)]
