"""The conversation around a question: small talk gets a short reply, a follow-up becomes a standalone question.

By rules, without any model: a follow-up that leans on an earlier turn ("它是什么时候发布的？", "那价格呢？",
"What about its length?") gets the subject of the earlier turn carried into it before retrieval, so
retrieval and the decision see the question a reader would have understood. With a language model
configured, it rewrites a follow-up instead (`FollowUpRewriter`), and the rules stand in whenever it fails or
writes something that is not the same question.
"""
from __future__ import annotations

import dataclasses
import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.answer.llm_client import ChatClient, LLMError
from rag.errors import QuestionTooLongError
from rag.records import Turn
from rag.settings import Settings

log = logging.getLogger(__name__)

# Small talk is the whole message, so a question that merely contains "谢谢" or "help" is still a question.
_END = r"[\s!！。.,，~～?？呀啊哦呢吧啦嘛]*"
_HELLO = r"(你好|您好|你们好|大家好|嗨|哈喽|哈啰|早上好|上午好|下午好|晚上好|在吗|在不在|hi|hello|hey|hiya|good (morning|afternoon|evening))(呀|啊)?( there)?"
# Asking after the bot is a greeting too, alone or after a hello: "Good morning, how are you?", "你好吗？".
_HOW_ARE_YOU = r"(你好吗|您好吗|你怎么样|最近(怎么样|好吗|还好吗)|how are you( doing| today)?|how('s| is) it going|how do you do)"
GREETING = re.compile(rf"^({_HELLO}{_END}{_HOW_ARE_YOU}?|{_HOW_ARE_YOU}){_END}$", re.IGNORECASE)
THANKS = re.compile(
    rf"^(好的?|ok(ay)?|嗯)?{_END}(谢谢(你|您)?|多谢|感谢(你|您)?|谢了|谢啦|thanks?( you)?( so much| a lot)?|thx|ty|cheers)"
    rf"{_END}$",
    re.IGNORECASE,
)
# A word of assent between questions ("好的", "ok"): over Chinese articles it was answered with whatever sentence
# held 好, or declined as a question.
ACKNOWLEDGED = re.compile(
    rf"^(好的?|好吧|行|嗯+|哦+|收到|明白了?|知道了|懂了|了解了?|ok(ay)?|got it|i see|alright|all right|cool|great){_END}$",
    re.IGNORECASE,
)
HELP = re.compile(
    r"^(你|您)?(能|可以|会)(做|干)?(什么|啥)(事)?|^你是谁|^(帮助|使用说明|怎么用)|^help|^what can you do|^who are you"
    r"|^what do you know|^what are you"
    # Asking what the bot is called or whether it is a person gets what it is and what it answers from.
    r"|^(你|您)叫(什么|啥)(名字)?|^你的名字(是|叫)?(什么|啥)|^你是(机器人|真人|人|ai)吗"
    r"|^what('s| is) your name|^are you (a |an )?(robot|bot|human|person|ai|real person)"
)
_HELP_TAIL = re.compile(rf"{_END}$")
# What a question is wrapped in, said to the bot and not asked of the articles: a greeting or thanks before it
# ("你好，请问…"), a request to look it up ("帮我查一下…", "我想知道…", "Can you tell me…"), thanks after it. No
# article holds those words, and weighed as the question's rarest they declined "你好，请问Sora是什么时候发布的？".
_COURTESY_OPENING = re.compile(
    rf"^(?:(?:{_HELLO}|谢谢(?:你|您)?|多谢|thanks?(?: you)?)(?:[\s!！。.,，~～]+|(?=请问)))*"
    r"(?:请问一下|请问|麻烦(?:你|您)?(?:问一下|问下)?|打扰(?:一下)?|我?想(?:知道|问一下|问下|问问|了解一下|了解|请教一下|请教)|"
    r"(?:请|能|可以)?帮(?:我|忙)(?:查|看|找|问)(?:一下|下|查|看|找|问)?|(?:请|能不能|能否|可不可以|可以|能)?告诉我|"
    r"(?:can|could|would) you (?:please )?tell me|please tell me|i(?:'d| would) like to know|i want to know|do you know)?"
    r"[\s,，:：]*",
    re.IGNORECASE,
)
_COURTESY_CLOSING = re.compile(r"[\s,，。.!！~～]*(?:谢谢(?:你|您|啦|了)?|多谢|thanks?(?: you)?|please)[\s!！。.~～]*$",
                               re.IGNORECASE)

# Words that stand for something named earlier. 其 only as a determiner: 其中/其他/其实/尤其… are not.
_ZH_POSSESSIVE = re.compile(r"(它们|他们|她们|它|他|她)的")
_ZH_PRONOUN = re.compile(r"它们|他们|她们|它|他|她")
_ZH_QI = re.compile(r"(?<![尤极与])其(?![中他它余实次])")
_ZH_DETERMINER = re.compile(r"(该|此|这个|这款|这家|这项|这种|这部|这段|这一|这位)(?=[\u4e00-\u9fff])")
_ZH_LEADING_THIS = re.compile(r"^这(?=是|有|能|会|可以|属于|指)")
_ZH_ELLIPSIS = re.compile(r"^(?P<lead>那么|那|还有|而|另外)?\s*(?P<rest>.{1,30}?)\s*(?P<tail>呢|怎么样|如何)\s*[？?!！。]*$")
_ZH_LEAD = re.compile(r"^(那么|那|还有|而|另外)\s*")
_EN_POSSESSIVE = re.compile(r"\b(its|their|his|her)\b", re.IGNORECASE)
_EN_PRONOUN = re.compile(r"\b(it|they|them|he|she|him)\b", re.IGNORECASE)
_EN_THIS = re.compile(r"\b(this|that|the) (model|company|product|tool|video|system|article|one)\b", re.IGNORECASE)
# "What about its length?", "And what about the Pro?", and "And the Pro?": a few words after "and" that ask nothing
# of their own ("And how long is the warranty?" is a question).
_EN_ELLIPSIS = re.compile(
    r"^(?:(?:and\s+)?(?:what|how)\s+about\s+(?P<rest>.+?)"
    r"|and\s+(?!(?:what|how|who|when|where|why|which|is|are|was|were|do|does|did|can|could|will|would)\b)"
    r"(?P<short>(?:\S+\s+){0,3}\S+?))\s*\??$",
    re.IGNORECASE,
)
# An English name of several words, each capitalised or holding a digit ("Aurora S3 Pro", "World War II").
_EN_NAME_RUN = re.compile(r"[A-Z0-9][A-Za-z0-9.+\-]*(?:\s+(?:[A-Z][A-Za-z0-9.+\-]*|[A-Za-z]*\d[A-Za-z0-9.+\-]*))*")
# A name an English follow-up swaps in, said with its article ("the Pro").
_EN_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
# Words that name an edition of a numbered model ("Aurora S3 Pro"): after "Aurora S3", "And the Pro?" asks of the
# "Aurora S3 Pro", not of a "Pro" on its own.
_EN_EDITIONS = frozenset({
    "pro", "max", "mini", "plus", "ultra", "lite", "air", "se", "turbo", "xl", "nano", "standard", "basic",
    "premium", "base", "home", "enterprise", "business", "personal", "team", "edge",
})
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9.+\-]*[A-Za-z0-9+]")
_CJK = re.compile(r"[\u4e00-\u9fff]")

# Tags of names (jieba's and the domain dictionary's): a subject a follow-up can lean on.
_NAME_TAGS = {"nz", "nt", "nr", "ns", "nrt", "nrfg", "eng"}
_EN_STOPWORDS = frozenset([
    "what", "how", "when", "who", "whom", "whose", "which", "why", "where", "is", "are", "was", "were",
    "did", "does", "do", "can", "could", "would", "should", "will", "the", "a", "an", "and", "or", "of",
    "in", "on", "at", "to", "for", "from", "by", "with", "after", "before", "about", "tell", "me", "please",
    "explain", "describe", "i", "you", "we", "it", "its", "they", "them", "their", "this", "that", "these",
    "those", "he", "she", "his", "her", "there", "here", "list", "give", "show",
])
_ZH_NOT_SUBJECT = frozenset({"什么", "哪", "哪一天", "哪些", "多少", "怎么", "怎么样", "如何", "为什么", "谁", "那", "这", "它"})
# Attributes asked "how much/long" of, so the standalone form asks 多少 rather than 什么.
_AMOUNTS = ("价格", "股价", "市值", "时长", "长度", "多长", "分辨率", "价钱", "费用", "成本", "数量", "规模", "参数")
TITLES_SHOWN = 8


class Tagger(Protocol):
    """What the resolver needs of the tokenizer: words with part-of-speech tags (rag/index/lexical.py)."""

    def tagged(self, text: str) -> list[tuple[str, str]]:
        """Return (word, tag) pairs, lower-cased."""
        ...


@dataclass(frozen=True)
class Understood:
    """A message as understood: the standalone question, or the kind of small talk it is."""

    question: str  # the standalone question retrieval sees (the message itself when it needs nothing carried)
    small_talk: str | None = None  # "greeting", "thanks", "ok" or "help" when the message is not a question
    subject: str | None = None  # what was carried from an earlier turn, when anything was


def small_talk_kind(message: str) -> str | None:
    """Return "greeting", "thanks", "ok" (assent) or "help" when the whole message is one, else None."""
    text = unicodedata.normalize("NFKC", message).strip().lower()
    if GREETING.match(text):
        return "greeting"
    if THANKS.match(text):
        return "thanks"
    if ACKNOWLEDGED.match(text):
        return "ok"
    match = HELP.match(text)
    if match and _HELP_TAIL.fullmatch(text[match.end():]):
        return "help"
    return None


def is_chinese_text(text: str) -> bool:
    """Return whether the text holds Chinese characters (then it is answered in Chinese)."""
    return bool(_CJK.search(text))


def _original(question: str, word: str) -> str:
    # Tags come lower-cased and NFKC-normalised; a subject is carried as the user spelled it.
    normal = unicodedata.normalize("NFKC", question)
    at = normal.lower().find(word)
    return normal[at : at + len(word)] if at >= 0 else word


def subject_of(question: str, tagger: Tagger) -> str | None:
    """Return what the question is about: its first name (Sora, OpenAI, 英伟达), else its leading nouns, else None."""
    chinese = is_chinese_text(question)
    words = tagger.tagged(question)
    for word, tag in words:
        if tag not in _NAME_TAGS or word in _EN_STOPWORDS or len(word) < 2:
            continue
        spelled = _original(question, word)
        # In an English sentence every word is `eng`: only a capitalised one or one with digits is a name.
        if tag == "eng" and not chinese and spelled == spelled.lower() and not any(c.isdigit() for c in spelled):
            continue
        if not chinese:  # the whole name, "Aurora S3 Pro", which "And the Mini?" swaps
            normal = unicodedata.normalize("NFKC", question)  # as `_original` spelled it
            at = normal.find(spelled)
            run = _EN_NAME_RUN.match(normal, at) if at >= 0 else None
            return run.group() if run else spelled
        return spelled
    if not chinese:
        return None
    lead: list[str] = []
    for word, tag in words:
        if word in ("那", "那么", "请问", "还有"):
            continue
        if tag.startswith("n") and word not in _ZH_NOT_SUBJECT:
            lead.append(word)
        else:
            break
    return _original(question, "".join(lead)) if lead else None


def _has_reference(question: str) -> bool:
    if is_chinese_text(question):
        return bool(
            _ZH_PRONOUN.search(question) or _ZH_QI.search(question) or _ZH_DETERMINER.search(question)
            or _ZH_LEADING_THIS.search(question)
        )
    return bool(_EN_POSSESSIVE.search(question) or _EN_PRONOUN.search(question) or _EN_THIS.search(question))


def _replace_references(question: str, subject: str) -> str:
    if is_chinese_text(question):
        text = _ZH_POSSESSIVE.sub(subject + "的", question)
        text = _ZH_PRONOUN.sub(subject, text)
        text = _ZH_QI.sub(subject, text)
        text = _ZH_DETERMINER.sub(subject, text)
        return _ZH_LEADING_THIS.sub(subject, text)
    text = _EN_THIS.sub(subject, question)
    text = _EN_POSSESSIVE.sub(subject + "'s", text)
    return _EN_PRONOUN.sub(subject, text)


def _is_name(text: str, tagger: Tagger) -> bool:
    words = [(w, t) for w, t in tagger.tagged(text) if t != "x"]
    if len(words) != 1:
        return bool(_LATIN.fullmatch(text.strip()))
    _, tag = words[0]
    return tag in _NAME_TAGS and (tag != "eng" or not text.strip().islower())


def _ellipsis(question: str, subject: str, previous: str, tagger: Tagger) -> str | None:
    # "那Shutterstock呢？" swaps the earlier question's subject; "那价格呢？" asks the subject's attribute.
    match = _ZH_ELLIPSIS.match(question) if is_chinese_text(question) else _EN_ELLIPSIS.match(question)
    if match is None or (is_chinese_text(question) and not match.group("lead") and match.group("tail") != "呢"):
        return None
    english = not is_chinese_text(question)
    short = english and match.group("short") is not None  # "And the Pro?"
    rest = (match.group("short") if short else match.group("rest")).strip()
    if not rest:
        return None
    # An English name may come with its article and span several words ("the Aurora S3 Pro").
    named = _EN_ARTICLE.sub("", rest) if english else rest
    is_name = _is_name(named, tagger) or (english and _EN_NAME_RUN.fullmatch(named) is not None)
    if not _has_reference(named) and is_name and subject in previous and named != subject:
        return previous.replace(subject, _swapped_name(subject, named) if english else named, 1)
    if short:
        return None  # "And …?" that swaps in no name is taken as asked
    resolved = _replace_references(rest, subject) if _has_reference(rest) else rest
    # "那英伟达的股价呢？" names its own subject: nothing to carry into it.
    own = None if _has_reference(rest) else subject_of(rest, tagger)
    if is_chinese_text(question) or is_chinese_text(rest):
        if subject not in resolved and not (own and own != rest and _is_name(own, tagger)):
            resolved = f"{subject}的{resolved}"
        asks = "是多少" if any(word in resolved for word in _AMOUNTS) else "是什么"
        return f"{resolved}{asks}？"
    if subject not in resolved:
        resolved = f"the {rest.removeprefix('the ')} of {subject}"
    return f"What about {resolved}?"


def _swapped_name(subject: str, named: str) -> str:
    """Return the name an English follow-up asks of: "Aurora S3" or "Aurora S3 Mini" with "Pro" is "Aurora S3 Pro",
    "Aurora S3 Pro" with "S5" is "Aurora S5"; any other name is taken whole."""
    words, new = subject.split(), named.split()
    numbered = [i for i, word in enumerate(words) if any(c.isdigit() for c in word)]
    if len(new) != 1 or len(words) < 2 or not numbered:
        return named
    model = numbered[-1]
    if new[0].lower() in _EN_EDITIONS:
        return " ".join(words[: model + 1] + new)
    if any(c.isdigit() for c in new[0]) and model > 0:  # another model of the same line
        return " ".join(words[:model] + new)
    return named


def resolve(question: str, subject: str | None, previous: str | None, tagger: Tagger) -> str:
    """Return the question made standalone with the earlier turn's subject, or unchanged when it needs none."""
    if not subject or previous is None:
        return question
    if subject in question and not _ZH_LEAD.match(question):
        return question
    elided = _ellipsis(question, subject, previous, tagger)
    if elided is not None:
        return elided
    if _has_reference(question):
        if _binds_locally(question, tagger):
            return question
        return _ZH_LEAD.sub("", _replace_references(question, subject))
    return question


def _binds_locally(question: str, tagger: Tagger) -> bool:
    # "Sora的核心技术是什么？其原理如何？": 其/该/its after a name of the question's own point back at that name.
    own = subject_of(question, tagger)
    if not own:
        return False
    at = question.find(own)
    determiners = [_ZH_QI, _ZH_DETERMINER, _EN_POSSESSIVE, _EN_THIS]
    first = min((m.start() for pattern in determiners for m in [pattern.search(question)] if m), default=-1)
    personal = min((m.start() for pattern in (_ZH_PRONOUN, _EN_PRONOUN) for m in [pattern.search(question)] if m), default=-1)
    return 0 <= at < first and (personal < 0 or personal > first)


_PERSON_TAGS = frozenset({"nr", "nrfg", "nrt"})
_ASKS_WHO = re.compile(r"谁|哪一?位|\bwho\b", re.I)
_ZH_PERSONAL = re.compile(r"他|她")


def person_answered(question: str, answer: str, tagger: Tagger) -> str | None:
    """Return the person an answer names first in reply to a question asking who ("谁汇报了进度？" answered "陈刚汇报：…"
    gives 陈刚), or None: a 他 or 她 after it means that person, not the question's own words."""
    if not _ASKS_WHO.search(question):
        return None
    for word, tag in tagger.tagged(answer):
        if tag in _PERSON_TAGS and len(word) >= 2 and word not in question.lower():
            return _original(answer, word)
    return None


def without_courtesy(message: str) -> str:
    """Return the question a message asks without the greeting, request or thanks around it ("你好，请问年假有几天？"
    asks "年假有几天？"); the message itself when nothing is around it or nothing else would be left."""
    text = _COURTESY_CLOSING.sub("", _COURTESY_OPENING.sub("", message, count=1))
    return text if len(text.strip(" ?？!！。.")) >= 2 else message


def understand(message: str, history: Sequence[Turn], tagger: Tagger) -> Understood:
    """Return the message as understood after the earlier turns (oldest first): small talk, or a standalone question."""
    kind = small_talk_kind(message)
    if kind is not None:
        return Understood(message, small_talk=kind)
    message = without_courtesy(message)
    subject: str | None = None
    previous: str | None = None
    person: str | None = None
    # Earlier follow-ups are resolved in turn, so a third question can lean on a second that leaned on the first.
    for turn in history:
        if small_talk_kind(turn.question) is not None:
            continue
        asked = without_courtesy(turn.question)
        standalone = resolve(asked, person if _ZH_PERSONAL.search(asked) and person else subject, previous, tagger)
        subject = subject_of(standalone, tagger) or subject
        person = person_answered(standalone, turn.answer, tagger)
        previous = standalone
    # 他/她 after "谁…？" is the person the answer named.
    chosen = person if person and _ZH_PERSONAL.search(message) else subject
    standalone = resolve(message, chosen, previous, tagger)
    return Understood(standalone, subject=chosen if standalone != message else None)


def check_history(history: Sequence[Turn], max_turns: int, max_chars: int) -> None:
    """Raise QuestionTooLongError (413 in the API) when the history is longer than the limits; return None."""
    if len(history) > max_turns:
        raise QuestionTooLongError(
            f"the history has {len(history)} turns; the limit is {max_turns}: send only the last {max_turns}"
        )
    for position, turn in enumerate(history, start=1):
        longest = max(len(turn.question), len(turn.answer))
        if longest > max_chars:
            raise QuestionTooLongError(
                f"turn {position} of the history is {longest} characters long; the limit is {max_chars}: shorten it"
            )


def small_talk_reply(kind: str, message: str, titles: Mapping[str, str]) -> str:
    """Return the short reply to a greeting, thanks or "what can you do", naming the articles the bot knows."""
    names = sorted(set(titles.values()))
    chinese = is_chinese_text(message) or not message.isascii()
    if chinese:
        listed = "、".join(f"《{name}》" for name in names[:TITLES_SHOWN])
        more = f"等 {len(names)} 篇" if len(names) > TITLES_SHOWN else f"共 {len(names)} 篇"
        known = f"我能回答的是这些文章里的内容：{listed}（{more}）。" if names else "目前还没有收录文章。"
        opening = {
            "greeting": "你好！我是文章问答助手，答案的每一句都引自原文并标出出处。",
            "thanks": "不客气！",
            "ok": "好的。",
            "help": "我只根据收录的文章回答问题，答案的每一句都引自原文并标出出处；文章里没有的，我会直说。",
        }[kind]
        return opening + known + ("还有什么想问的，请继续提问。" if kind in ("thanks", "ok") else "请直接提问。")
    listed = "; ".join(f"“{name}”" for name in names[:TITLES_SHOWN])
    more = f" and {len(names) - TITLES_SHOWN} more" if len(names) > TITLES_SHOWN else ""
    known = f"I answer from these articles: {listed}{more}. " if names else "No articles are indexed yet. "
    opening = {
        "greeting": "Hello! I answer questions about the articles, quoting them and citing every sentence. ",
        "thanks": "You're welcome! ",
        "ok": "All right. ",
        "help": "I answer only from the indexed articles, quoting them with a citation per sentence, and say so "
        "when they do not hold the answer. ",
    }[kind]
    return opening + known + ("Ask me anything else about them." if kind in ("thanks", "ok") else "Ask away.")


# A language model's rewrite of a follow-up (when one is configured): a short prompt, a short wait, and the
# rules' resolution whenever the model fails or writes something that is not the same question made standalone.
REWRITE_PROMPT = (
    "Rewrite the user's last question so that it can be understood without the conversation: replace pronouns "
    "and fill in what it leaves out from the earlier questions. Keep its language. Do not answer it. Reply with "
    "the rewritten question only."
)
REWRITE_TIMEOUT_SECONDS = 10.0
REWRITE_MAX_TOKENS = 80
# Earlier turns and characters of each answer the model sees: enough to know what "it" is.
REWRITE_TURNS = 3
REWRITE_ANSWER_CHARS = 200
_REWRITE_LABEL = re.compile(
    r"^\s*(standalone question|rewritten question|question|rewrite|独立问题|改写后的问题|改写|问题)\s*[:：]\s*", re.IGNORECASE
)
_QUOTES = "\"'“”‘’「」『』《》`"
_DIGITS = re.compile(r"\d+(?:\.\d+)?")


def leans_on_history(message: str) -> bool:
    """Return whether the message reads as a follow-up: a pronoun, "this …", or "那…呢？" / "What about …?"."""
    if _has_reference(message) or _ZH_LEAD.match(message) or _EN_ELLIPSIS.match(message):
        return True
    match = _ZH_ELLIPSIS.match(message)
    return bool(match and is_chinese_text(message) and (match.group("lead") or match.group("tail") == "呢"))


def rewrite_messages(message: str, history: Sequence[Turn]) -> list[dict[str, str]]:
    """Return the chat messages asking a model to make the follow-up standalone from the last few turns."""
    lines = []
    for turn in [t for t in history if small_talk_kind(t.question) is None][-REWRITE_TURNS:]:
        answer = turn.answer[:REWRITE_ANSWER_CHARS] + ("…" if len(turn.answer) > REWRITE_ANSWER_CHARS else "")
        lines += [f"Q: {turn.question}", f"A: {answer}"]
    conversation = "\n".join(lines)
    return [
        {"role": "system", "content": REWRITE_PROMPT},
        {"role": "user", "content": f"Conversation:\n{conversation}\n\nLast question: {message}\n\nRewritten question:"},
    ]


def plausible_rewrite(rewrite: str, message: str, history: Sequence[Turn], tagger: Tagger, max_chars: int) -> str | None:
    """Return the model's rewrite cleaned of labels and quotes when it can be the same question made standalone,
    else None: one line, the message's language, not much longer, nothing left to resolve, no name or number
    that neither the message nor the earlier turns hold."""
    lines = [line for line in rewrite.strip().splitlines() if line.strip()]
    if len(lines) != 1:
        return None
    text = _REWRITE_LABEL.sub("", lines[0]).strip().strip(_QUOTES).strip()
    if not text or "[" in text or len(text) > min(max_chars, 3 * len(message) + 60):
        return None
    if is_chinese_text(text) != is_chinese_text(message):
        return None
    if _has_reference(text) and not _binds_locally(text, tagger):
        return None
    known = unicodedata.normalize("NFKC", " ".join([message] + [f"{t.question} {t.answer}" for t in history])).lower()
    normal = unicodedata.normalize("NFKC", text)
    if any(number not in known for number in _DIGITS.findall(normal)):
        return None
    # Names: the tagger's in Chinese, capitalised words in English (not the capital that starts the sentence).
    names = [w for w, tag in tagger.tagged(normal) if tag in _NAME_TAGS - {"eng"} and len(w) >= 2]
    for position, word in enumerate(_LATIN.findall(normal)):
        starts = position == 0 and word.istitle() and not is_chinese_text(normal)
        if not word.islower() and not starts and word.lower() not in _EN_STOPWORDS:
            names.append(word.lower())
    if any(name not in known for name in names):
        return None
    return text


class FollowUpRewriter:
    """Makes a follow-up standalone with a language model, falling back to the rules' resolution."""

    def __init__(self, client: ChatClient, tagger: Tagger, max_chars: int) -> None:
        # A rewrite holds up the answer: it gets a shorter wait and fewer tokens than the answer itself.
        self.client = dataclasses.replace(
            client, timeout=min(client.timeout, REWRITE_TIMEOUT_SECONDS), max_tokens=REWRITE_MAX_TOKENS
        )
        self.tagger = tagger
        self.max_chars = max_chars

    def __repr__(self) -> str:
        return f"FollowUpRewriter({self.client!r})"

    def rewrite(self, message: str, history: Sequence[Turn], by_rules: Understood) -> Understood:
        """Return the model's standalone form of a follow-up, or `by_rules` when the message is no follow-up, the
        model fails, or its rewrite is not plausible."""
        if by_rules.small_talk or not any(small_talk_kind(t.question) is None for t in history):
            return by_rules
        if by_rules.question == message and not leans_on_history(message):
            return by_rules
        try:
            written = self.client.complete(rewrite_messages(message, history))
        except LLMError as error:
            log.warning("follow-up rewritten by rules: %s", error)
            return by_rules
        text = plausible_rewrite(written, message, history, self.tagger, self.max_chars)
        if text is None:
            log.info("follow-up rewritten by rules: the model's rewrite %r is not plausible", written[:200])
            return by_rules
        return Understood(text, subject=by_rules.subject)


def make_rewriter(settings: Settings, tagger: Tagger) -> FollowUpRewriter | None:
    """Return the language model's follow-up rewriter when the settings name an endpoint, else None (rules only)."""
    answer = settings.answer
    if not (answer.llm_base_url and answer.llm_model):
        return None
    client = ChatClient(answer.llm_base_url, answer.llm_model, answer.llm_api_key, answer.llm_timeout, answer.llm_max_tokens)
    return FollowUpRewriter(client, tagger, answer.max_question_chars)
