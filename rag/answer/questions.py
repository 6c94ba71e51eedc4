"""What a question asks for, read from its words: its language and the kind of answer (a time, a number, a
price, a person, a place, an organisation, a reason), and whether a candidate sentence holds that kind of thing.

Both readings are cheap (regular expressions and dictionary look-ups over tokens the build stored), so they
run on every candidate sentence without a second model pass. They are signals for the fitted decision
(rag/answer/decide.py) and the sentence ranking, never rules on their own.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Container, Iterable, Mapping, Sequence

from rag.index.lexical import FUNCTION_CHARACTERS, MEASURE_WORDS, PRICE_COMPARED
from rag.ingest.headings import BYLINE
from rag.ingest.language import is_chinese
from rag.ingest.textnorm import to_simplified
from rag.retrieval.glossary import STOP, held_terms, variants

# The kinds a question can ask for, from its question words (Chinese and English).
KINDS = ("time", "number", "person", "place", "organisation", "reason", "money")
_ASKS = {
    "time": re.compile(
        r"何时|什么时候|哪一?年|哪一?天|几月|几号|哪个月|何年|哪个时期|什么时间|什么年代|多少年|几几年|年份|日期|几点|几时|啥时|"
        # the time of an event named by its verb ("Sora 发布时间", "潘仕成逝世的时间是？"); 时间 alone is as often a length
        # ("训练时间多长")
        r"(?:发布|成立|上市|出生|去世|逝世|开业|建立|创建|创立|举办|召开|开幕|开始|结束|发生|推出|上线|建成|竣工|开通|发行|"
        r"出版|首映|上映|播出|首播|通车|投产|问世|诞生)的?时间|"
        r"\bwhen\b|\bwhat (?:year|date|time|day|month|century|decade)\b|\bwhich (?:year|date|century|decade)\b",
        re.I,
    ),
    "number": re.compile(
        r"多少|几[个次人名位种岁天年座届场件部条只位支家所项倍分米层]|多[大高长重远久宽深]|几成|百分之|"
        r"\bhow (?:many|much|long|old|far|large|big|tall|high)\b|\bwhat (?:percentage|percent|number|amount)\b",
        re.I,
    ),
    "person": re.compile(r"谁|哪一?位|何人|什么人|哪些人|\bwho\b|\bwhom\b|\bwhose\b", re.I),
    "place": re.compile(
        r"哪里|哪儿|何地|何处|在哪(?![一天年月个次些位])|什么地方|啥地方|哪个(?:国家|城市|地区|省|州|县)|哪座|哪国|\bwhere\b|"
        r"\bwhat (?:country|city|state|region|place)\b|\bwhich (?:country|city|state|region|place)\b",
        re.I,
    ),
    # A company, school, team, party, newspaper… named by the word for its kind ("哪家公司", "哪所大学", "哪支球队",
    # "What company…"), or asked as who made, founded or owns something ("Sora是谁开发的？" is answered by OpenAI).
    "organisation": re.compile(
        r"哪(?:一|几)?[家个所支间座]?(?:公司|企业|集团|机构|组织|团体|团队|单位|部门|大学|高校|学校|学院|中学|银行|媒体|报社|报纸|"
        r"杂志|电视台|电台|网站|出版社|球队|俱乐部|政党|党派|协会|学会|委员会|研究所|研究院|实验室|基金会|联盟|乐队|军队|部队|医院|"
        r"博物馆|剧院|工作室|厂商|厂家|交易所|法院|政府)|哪家|什么(?:公司|企业|集团|机构|组织|团体|单位|大学|学校|球队|俱乐部|"
        r"政党|媒体)|(?:由谁|谁)(?:来)?(?:开发|研发|推出|制作|出品|生产|创办|创立|创建|成立|建立|收购|拥有|运营|经营|主办|赞助|"
        r"出版|发行|投资|资助)|"
        r"\b(?:which|what) (?:company|companies|corporation|firm|organi[sz]ations?|institutions?|agency|agencies|teams?|"
        r"clubs?|universit(?:y|ies)|college|school|part(?:y|ies)|network|newspaper|magazine|station|channel|studio|label|"
        r"band|league|bank|government|army|museum|publisher|council|committee|association)\b|"
        r"\bwho (?:developed|develops|makes|made|built|builds|owns|owned|founded|publishe[sd]|produce[sd]|launched|bought|"
        r"acquired|sponsor(?:s|ed)|created|manufactures|manufactured|runs|ran|operates|operated|funded)\b",
        re.I,
    ),
    "reason": re.compile(r"为什么|为何|为啥|凭啥|什么原因|原因是|怎么会|\bwhy\b|\bwhat (?:caused|causes)\b", re.I),
}
# A number asked as a price ("多少钱", "What does it cost?"): answered by an amount of money, not by any number (the
# warranty's "3 years" does not say what the Pro costs).
_ASKS_MONEY = re.compile(
    r"多少钱|几块钱|几元|多少元|价格|价钱|售价|定价|票价|收费|费用(?:是|为)?多少|多少费用|多贵|"
    r"\bcost(?:s|ed)?\b|(?<!share )(?<!stock )\bprices?\b|\bpriced\b|\bfees?\b",
    re.I,
)
# What a sentence holding each kind looks like (on its text); person and place also use word tags.
_HOLDS = {
    "time": re.compile(
        r"\d{1,4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|[一二三四五六七八九十〇零]{2,4}年|[一二三四五六七八九十]+月|"
        r"世纪|年代|朝|时期|期间|之前|之后|以前|以后|当时|\b1[0-9]{3}\b|\b20[0-9]{2}\b|春|夏|秋|冬|"
        # The time of day ("几点", "what time"): 11:30, 9点半, 下午, 5 pm.
        r"(?<!\d)\d{1,2}\s*[:：]\s*\d{2}(?!\d)|\d{1,2}\s*点(?:\s*\d{1,2}\s*分|半|钟)|[上中下]午|凌晨|傍晚|晚上|早上|"
        r"(?i:\b\d{1,2}(?:[:.]\d{2})?\s*[ap]\.?m\b|\bnoon\b|\bmidnight\b|o'clock)"
    ),
    "number": re.compile(r"\d+(?:[.,]\d+)*|[一二三四五六七八九十百千万亿两半几数]+\s*(?:[个次人名位种岁天年座届场件部条只支家所项倍分米层%％]|万|亿)|百分之"),
    "reason": re.compile(r"因为|由于|因此|所以|为了|导致|原因|使得|以便|从而|因而|鉴于|based|because|due to"),
    "money": re.compile(
        r"[$€£¥￥]\s?\d|\d[\d,.]*\s*(?:[万亿千百]\s*)?(?:元|块|美元|欧元|英镑|日元|港元|港币|人民币|美金)|"
        r"[一二三四五六七八九十百千万亿两]+(?:元|块|美元|欧元|英镑)|免费|"
        r"\d[\d,.]*\s*(?:million |billion |thousand )?(?:dollars?|euros?|pounds?|yuan|yen|cents?|francs?|marks?|lire|lira|"
        r"rupees?|r[ou]bles?|pesos?|shillings?|guineas?|crowns?|florins?|ducats?|dinars?|USD|EUR|GBP|RMB)\b|"
        r"[₹₽₩₤]\s?\d|\b(?:USD|EUR|GBP|RMB)\s?\d|\bfree\b",
        re.I,
    ),
}
_PERSON_TAGS = frozenset({"nr", "nrfg", "nrt"})
# A name written from another language, its parts joined by a middle dot (卡万·肖特, 马丁·路德): jieba's dictionary
# knows few of them, so the tags alone miss most of the people in a translated article.
_DOTTED_NAME = re.compile(r"([\u4e00-\u9fff]{1,2})[·•・]([\u4e00-\u9fff]{2})")
# A name written in Latin letters in Chinese text ("研究科学家Tim Brooks", "Peebles表示"): the dictionary tags no Latin
# word, and a capitalised run names a product or company as often as a person ("Stable Video Diffusion", "Getty
# Images"), so it counts as a person only after a word for a person's role or before a verb of saying.
_LATIN_NAME = r"[A-Z][a-z]+(?:[ \-][A-Z][a-z]+){0,2}"
_ROLE = (r"(?:[\u4e00-\u9fff][家师员者手官长]|领队|教授|博士|总裁|主席|导演|创始人|负责人|主持人|发言人|合伙人|总监|经理|主任"
         r"|\b(?:CEO|CTO|COO|CFO))")
_LATIN_PERSON = re.compile(
    rf"(?:{_ROLE}\s?(?P<after_role>{_LATIN_NAME})(?![A-Za-z]))|"
    rf"(?:(?<![A-Za-z])(?P<before_saying>{_LATIN_NAME})\s?(?:表示|说|称|认为|指出|透露|坦言|解释|强调|回忆|写道))"
)
_PLACE_TAGS = frozenset({"ns"})
_ORGANISATION_TAGS = frozenset({"nt"})
# An organisation named with the word for its kind, two characters of name or more before it; a word that points
# rather than names ("这家公司", "该大学", "多家公司") names none.
_ORGANISATION = re.compile(
    r"([\u4e00-\u9fff]{2,10}?)(?:有限公司|公司|集团|大学|学院|学校|中学|银行|协会|学会|委员会|研究所|研究院|实验室|基金会|联盟|"
    r"俱乐部|电视台|出版社|通讯社|报社|日报|晚报|时报|医院|博物馆|剧院|交易所|工作室|政府|议会|法院|党|队)")
_POINTING = re.compile(r"(?:[这那该本此各每某哪其][家个所支间座]?|[一多几数两][家个所支间座])$")
# In Chinese text a run in Latin letters names a company or product more often than anything else ("OpenAI",
# "Adobe", "Runway ML"); in English text, a capitalised name with the word for its kind, or an acronym.
_LATIN_IN_CHINESE = re.compile(r"(?<![A-Za-z])[A-Z][A-Za-z0-9]*(?:[ \-.][A-Z][A-Za-z0-9]*){0,2}(?![A-Za-z])")
_ORGANISATION_EN = re.compile(
    r"\b(?:[A-Z][\w'&.\-]*\s+){1,4}(?:Inc|Corp|Corporation|Company|Co|Ltd|LLC|University|College|Institute|Association|"
    r"Council|Committee|Party|Club|Bank|Agency|Foundation|Group|Network|Museum|Records|Studios?|Society|Union|League|"
    r"Church|Army|Navy|Times|Post|News)\b|\b(?:University|Institute|Bank|Museum|College) of [A-Z]\w+|\b[A-Z]{2,6}\b|"
    r"\bthe (?:[A-Z][\w'&.\-]*\s?){1,4}")
_PLACE_WORDS = re.compile(r"[省市县区州国城镇村岛山河湖海港湾街路]")


def asked_kinds(question: str) -> frozenset[str]:
    """Return the kinds of answer the question's words ask for (empty when none is recognised); a price is asked as
    "money", in place of "number"."""
    question = to_simplified(question)
    kinds = {kind for kind, pattern in _ASKS.items() if pattern.search(question)}
    if _ASKS_MONEY.search(question) or PRICE_COMPARED.search(question):
        kinds = (kinds - {"number"}) | {"money"}
    return frozenset(kinds)


def holds_kind(kind: str, text: str, terms: Iterable[str], tags: Mapping[str, str], question: str = "") -> bool:
    """Return whether a sentence (its text and stored tokens) holds something of `kind` that `question` does not
    already write; `tags` maps a word to its dictionary part-of-speech tag.

    What the question names is not its answer: "贾里德在职业生涯中有多少次擒杀？" is answered by a number, not by
    the sentence that names 贾里德, and "1973年发生了什么" by something other than 1973年."""
    asked = to_simplified(question)
    text = to_simplified(text)

    def new(found: str) -> bool:
        return found.strip() not in asked if asked else True

    if kind in _HOLDS:
        return any(new(m.group()) for m in _HOLDS[kind].finditer(text))
    if kind == "person":
        byline = BYLINE.match(text.strip())
        return (any(tags.get(term) in _PERSON_TAGS and new(term) for term in terms)
                or bool(byline and new(byline.group("names")))
                or any(new(m.group(1)) and new(m.group(2)) for m in _DOTTED_NAME.finditer(text))
                or any(new(m.group("after_role") or m.group("before_saying")) for m in _LATIN_PERSON.finditer(text)))
    if kind == "place":
        return (any(tags.get(term) in _PLACE_TAGS and new(term) for term in terms)
                or bool(_PLACE_WORDS.search(text)))
    if kind == "organisation":
        if any(tags.get(term) in _ORGANISATION_TAGS and new(term) for term in terms):
            return True
        if not is_chinese(text):
            return any(new(m.group()) for m in _ORGANISATION_EN.finditer(text))
        return (any(_new_organisation(m, new) for m in _ORGANISATION.finditer(text))
                or any(new(m.group()) for m in _LATIN_IN_CHINESE.finditer(text)))
    return False


def _new_organisation(match: re.Match[str], new: Callable[[str], bool]) -> bool:
    """Return whether an organisation named with the word for its kind (`_ORGANISATION`) is one the question does not
    write: the match may open before the name ("他毕业于耶鲁大学"), so no tail of it from two characters of name on may
    stand in the question, and a word that points rather than names ("这家公司") names none."""
    name, kind = match.group(1), match.group()[len(match.group(1)):]
    if _POINTING.search(name):
        return False
    return all(new(name[start:] + kind) for start in range(len(name) - 1))


_NAME_TAGS = frozenset({"nr", "nrfg", "nrt", "ns", "nt", "nz"})
_LATIN_OR_NUMBER = re.compile(r"[A-Za-z][A-Za-z0-9'\-]*|\d+(?:[.,]\d+)?")
# A capitalised word that does not open the question or a sentence of it.
_NAME_WORD = r"(?<![.?!]\s)(?<!^)\b[A-Z][A-Za-z0-9'\-]*"
_CAPITALISED = re.compile(_NAME_WORD + r"|\b\d+(?:[.,]\d+)?\b")
# The pronoun I ("Can I carry over leave?", "How do I…", "I'm"), capitalised but no name: a numeral after a name
# ("Henry I", "World War I") follows a capitalised word.
_PRONOUN_I = re.compile(r"I(?:'\w*)?$")
_AFTER_NAME = re.compile(_NAME_WORD + r"\s+$")


def names_in(question: str, tags: Mapping[str, str]) -> list[str]:
    """Return the names a question holds: in Chinese, words the dictionary tags as names of people, places,
    organisations or other proper nouns, and Latin words or numbers (lower-cased, as the index holds them); in
    another language, capitalised words after the first and numbers."""
    if is_chinese(question):
        question = to_simplified(question)
        latin = [w.lower() for w in _LATIN_OR_NUMBER.findall(question)]
        rest = _LATIN_OR_NUMBER.sub(" ", question)
        words = [w for w in re.split(r"[^\u3400-\u9fff]+", rest) if w]
        names = [chunk[i:j] for chunk in words for i in range(len(chunk)) for j in range(i + 2, min(len(chunk), i + 6) + 1)
                 if tags.get(chunk[i:j]) in _NAME_TAGS]
        return latin + names
    question = question.strip()
    return [m.group() for m in _CAPITALISED.finditer(question)
            if not _PRONOUN_I.match(m.group()) or _AFTER_NAME.search(question[:m.start()])]


# A count asked of something ("公司有多少员工？", "几个国家", "How many employees…"): 多少/几, an optional measure
# word, then what is counted. A count of days, years, money or length is a measure, not a count: "5天" answers
# "年假有几天？", never "有多少员工？".
_COUNT_ASKED = re.compile(
    rf"(?:多少|几)[名{MEASURE_WORDS}]?(?P<zh>[\u4e00-\u9fffA-Za-z])"
    r"|\bhow many (?P<en>[a-z]+)",
    re.I,
)
# Units of time, money, length and weight: a number followed by one measures, it does not count ("5天", "15元").
_UNITS_ZH = "天年月日周小时分秒岁元块钱米里斤吨克度号点时"
# What a measure asked of starts with, or is ("几天", "多少倍", "多少公里"): no count is asked.
_MEASURE_ZH = frozenset(_UNITS_ZH + "倍亩升毫公平立千万亿百")
_MEASURE_EN = frozenset({
    "days", "years", "months", "weeks", "hours", "minutes", "seconds", "times", "dollars", "euros", "pounds", "yuan",
    "miles", "kilometers", "kilometres", "meters", "metres", "feet", "inches", "acres", "tons", "tonnes", "degrees",
    "percent", "decades", "centuries", "of", "more", "people's", "yen", "won", "francs", "marks", "rupees", "pesos",
})
# A number that counts: not followed by a unit of time, money, length or weight or by a percent sign (Chinese), nor by
# a unit word or a currency (English), nor part of a model's name ("3D", "A3", "GPT-4"); a number word ("两名",
# "three", "dozens") counts too.
_COUNTING_NUMBER = re.compile(
    r"(?:(?<![\d.,:A-Za-z\-])\d+(?:[.,]\d+)*(?:\s*[十百千万亿])?(?![A-Za-z])|[一二三四五六七八九十百千万亿两半数几]+)"
    r"(?!\d|[.,:]\d|[一二三四五六七八九十百千万亿两半])\s*"
    rf"(?![{_UNITS_ZH}钟%％])"
    r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundreds?|"
    r"thousands?|millions?|billions?|dozens?|several|a few)\b",
    re.I,
)
_ENGLISH_MEASURE_AFTER = re.compile(
    r"\s*(?:days?|years?|months?|weeks?|hours?|minutes?|seconds?|dollars?|euros?|pounds?|yuan|miles?|km|kilomet\w+|"
    r"met(?:er|re)s?|feet|foot|inch\w*|acres?|tons?|tonnes?|degrees?|percent|%|am|pm|a\.m\.|p\.m\.)\b",
    re.I,
)
# Another question word: "几" is then "a few" ("综合几篇报道，…有哪些弱点？"), and the count not what is asked.
_ASKS_OTHER = re.compile(r"哪|什么|谁|怎|如何|为何|为什么|\b(?:what|which|who|why|where|when)\b", re.I)
# Measure words a count is said in, and those that count people (a count of 人 may be said in any of them: 30名, 5位).
_COUNTING_MEASURES = frozenset(MEASURE_WORDS + "名人段篇根棵朵粒片幅封集款把")
_PEOPLE = frozenset("人名位个")
# 一 alone is mostly "a" ("一个新的架构"), 几 and 数 alone "a few": no count a question could be answered by.
_NO_COUNT = frozenset({"一", "几", "数"})
# A count said without a figure: none ("没有一项提到"), or an English list of what is counted ("Paris, Lyon and Nice").
_COUNT_IN_WORDS = re.compile(r"没有一|无一|一个也没有|\bnone of\b|\bno one\b|\b[\w'-]+, [\w' -]+,? (?:and|or) [\w'-]+", re.I)
# A Chinese list counts what it lists ("圣乔治骑士团、圣斐迪南骑士团和…"): the clause that holds its 、 must name what is
# counted ("工具" of "ChatGPT、Midjourney 等工具" does not count the stocks "几只概念股" asks of).
_CLAUSE_END = re.compile(r"[，。；：！？,;:!?\n]")
_CURRENCY_BEFORE = re.compile(r"[$€£¥￥]\s?$")
# A share ("百分之五十", like "7%" and "50 percent") is no count: "暴跌超 7%" does not say how many employees.
_SHARE_BEFORE = "百分之"
# A code alone in brackets (a stock's: "佳都科技(600728)") counts nothing. A year there ("第二张专辑（2007）") is left to
# the rules for any number: read as no count, it declined a question its sentence's "5张单曲" answers.
_BRACKETED = re.compile(r"[(（]\s*\d{5,}\s*[)）]")
# A currency after a number, with its order of magnitude ("7000 万美元"): an amount, not a count.
_MONEY_AFTER = re.compile(r"\s*[十百千万亿]?\s*(?:美元|欧元|英镑|日元|港元|港币|人民币|美金|韩元|卢布)")


def count_asked(question: str) -> bool:
    """Return whether the question asks how many of something there are (a count, not a length of time, a price or
    a measure): "公司有多少员工？", "How many employees does it have?", not "年假有几天？" nor "多少钱"."""
    return _count_match(to_simplified(question)) is not None


def counted(question: str, terms: Iterable[str], tags: Mapping[str, str] | None = None) -> str:
    """Return what a count question asks to count ("员工" of "公司有多少员工？", "employees" of "How many employees…"): for
    a Chinese question, of its `terms` (its searchable words) that follow one another from where the counted noun
    starts, the last noun before a verb (`tags`, the dictionary's: "概念股" of "几只Sora概念股涨停", not "sora"; the first
    without tags; for one character, "人" of "Sora研发团队有多少人？", the last noun before the count, 团队); "" when it asks
    no count or no term starts there."""
    question = to_simplified(question)
    match = _count_match(question)
    if match is None:
        return ""
    if match.group("en"):
        return match.group("en")
    rest = question[match.start("zh"):].lower()
    longest_first = sorted({t.lower() for t in terms if t}, key=len, reverse=True)
    head, at = "", 0
    while (word := next((t for t in longest_first if rest.startswith(t, at)), "")):
        if tags is None:  # no tags to tell a noun by: the first word
            return word
        tag = tags.get(word, "n")  # a word the dictionary does not tag (a Latin name) is a noun
        if head and tag.startswith("v"):
            break
        if not head or tag.startswith("n"):
            head = word
        at += len(word)
    if len(head) == 1 and is_chinese(head):
        # One character counts people or things of what comes before the count ("Sora研发团队有多少人？"): that noun
        # says what the articles mention, where "资料提到了“人”" says nothing.
        before = question[: match.start()].lower()
        owners = [(before.rfind(t) + len(t), len(t), t) for t in longest_first
                  if len(t) > 1 and t in before and tags.get(t, "n").startswith("n")]
        if not owners:
            return head
        end, length, _ = max(owners)
        return question[end - length: end]  # as the question writes it ("OpenAI", lower-cased in its terms)
    return head


def counted_words(question: str, terms: Iterable[str]) -> tuple[str, ...]:
    """Return the words of `terms` (a question's searchable words) in what a question asks to count, from the counted
    noun to the end of its clause ("sora", "概念股", "涨停" of "具体有几只Sora概念股涨停？"; "employees", "northwind" of
    "How many employees does Northwind have?"). Ask it only of a question in the articles' language: another
    language's words are never the articles'."""
    question = to_simplified(question)
    match = _count_match(question)
    if match is None:
        return ()
    start = match.start("zh") if match.group("zh") else match.start("en")
    rest = _CLAUSE_END.split(question[start:], maxsplit=1)[0].lower()
    words = tuple(t for t in terms if t and t.lower() in rest)
    # No searchable word of a Chinese question stands in it (the articles write "员工" otherwise, as "人员"): the phrase
    # itself, which no list of other things names. An English phrase without one ("are there") names nothing to look for.
    return words or ((rest,) if rest and match.group("zh") else ())


def _count_match(question: str) -> re.Match[str] | None:
    """Return the match of what a simplified question asks to count, or None when it asks no count."""
    match = _COUNT_ASKED.search(question)
    if match is None or _ASKS_OTHER.search(question):
        return None
    if match.group("zh"):
        return match if match.group("zh") not in _MEASURE_ZH else None
    return match if match.group("en").lower() not in _MEASURE_EN else None


def holds_count(text: str, question: str = "", what: Sequence[str] = ()) -> bool:
    """Return whether a sentence holds a number that counts something (not one of days, money or metres) that the
    question does not already write, and not in a measure word that counts another kind of thing than the question
    asks of ("几十段视频" does not answer "团队一共有多少人？", nor "3次" "多少位"), nor a share or a code in brackets;
    or a list in a clause that names one of `what` as what it lists (`counted_words`, `_lists`; any list, when none is
    known). For an English question with `what`, only a sentence that names one of them counts at all."""
    text, asked = to_simplified(text), to_simplified(question)
    lowered, what = text.lower(), [w.lower() for w in what]
    # An English sentence has no measure word to say what its number counts: it counts what is asked only when it names
    # a word of it ("five administrators" does not answer "How many employees does Northwind have?").
    if what and not is_chinese(asked) and not any(form in lowered for w in what for form in _singular(w)):
        return False
    if _COUNT_IN_WORDS.search(text):
        return True
    if "、" in text and (not what or any("、" in clause and any(_lists(clause, w) for w in what)
                                         for clause in _CLAUSE_END.split(lowered))):
        return True  # any list, when what is counted is not known or not in the articles' words
    measures = _measures_asked(asked)
    for match in _COUNTING_NUMBER.finditer(text):
        found = match.group().strip()
        if not found or found in asked or found in _NO_COUNT:
            continue
        # The measure word after an approximation ("十多家", "20余只") is the number's.
        after = text[match.end(): match.end() + 2].lstrip("多余来")[:1]
        if measures and after in _COUNTING_MEASURES and after not in measures:
            continue
        if _MONEY_AFTER.match(text, match.end()) or text.endswith(_SHARE_BEFORE, 0, match.start()):
            continue
        if _BRACKETED.match(text, max(0, match.start() - 1)):
            continue
        if found[0].isdigit() and (_ENGLISH_MEASURE_AFTER.match(text, match.end()) or
                                   _CURRENCY_BEFORE.search(text[: match.start()])):
            continue
        return True
    return False


# The items of a Chinese list ("物体、动物和人").
_LIST_ITEMS = re.compile(r"[、和与及]")


def _lists(clause: str, word: str) -> bool:
    """Return whether a clause holding a list names `word` as what it lists. One character stands in many words that
    are not it ("让人想到", "人类"), and a list with it as an item ("物体、动物和人") lists kinds, not how many: the list
    must say it after 等 ("张三、李四等人") or end an item with it ("河北省、山东省")."""
    if len(word) > 1 or not is_chinese(word):
        return word in clause
    return f"等{word}" in clause or any(len(item) > 1 and item.endswith(word) for item in _LIST_ITEMS.split(clause))


def _singular(word: str) -> tuple[str, ...]:
    """Return an English word and the singulars it may be the plural of ("buttons": button; "companies": company)."""
    forms = [word]
    if word.endswith("ies") and len(word) > 4:
        forms.append(word[:-3] + "y")
    elif word.endswith("es") and len(word) > 4:
        forms += [word[:-2], word[:-1]]
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        forms.append(word[:-1])
    return tuple(forms)


def _measures_asked(question: str) -> frozenset[str]:
    """Return the measure words a count of what the question asks to count is said in ("多少位": 位, 名, 人 and 个;
    "多少人" the same), or none when any may be (it asks with 个 or with none: "几个国家", "多少员工")."""
    match = _count_match(question)
    if match is None or not match.group("zh"):
        return frozenset()
    measure = match.group()[match.start("zh") - match.start() - 1]
    if measure not in _COUNTING_MEASURES:
        measure = match.group("zh")  # 人 of "多少人" is its own measure word
    if measure == "个" or measure not in _COUNTING_MEASURES:
        return frozenset()
    return _PEOPLE if measure in _PEOPLE else frozenset({measure, "个"})


# The most words the corpus never uses that a decline names: more reads as a list, not a hint.
MAX_UNUSED = 3
# Words that ask or point rather than name (何时, 哪一位, 什么样, 多久, 这项, 该法令's 该), what is left of an English
# contraction ("didn" of "didn't"), and the "name" of "What is the name of…": naming them would tell the user nothing
# to ask instead.
_ASKS_OR_POINTS = re.compile(r"^(?:哪|几|什么|何|怎|谁|多[少久长大远高重宽深]|这|那|该|此)")
# A word made of function characters only (才能 of "多久才能到账", 能否, 还是): jieba may read it as a noun (才能,
# "talent"), but the question wrote grammar, not a thing the articles lack.
_FUNCTION_ONLY = re.compile(f"^[{FUNCTION_CHARACTERS}]+$")
# Characters of grammar (时 "when", 后 "after", 有, 位, 一…). A two-character word holding one that the language seldom
# uses as a word is more often the question's grammar glued to a neighbour by the cut ("再出现时会不会" cut 时会,
# "看到Sora后发了感慨" 后发, "有位联合创始人" 有位) than a thing the articles lack; named alone, it would puzzle the user.
# Seldom: fewer than `_GLUE_COUNT` uses in jieba's dictionary counts (时会 257, 后发 137, 一共 726; 就算 2,708, 走出 3,073).
_GRAMMAR_CHARACTERS = frozenset(FUNCTION_CHARACTERS + "时后前有位个一")
_GLUE_COUNT = 1000
_SAYS_NOTHING = frozenset("didn doesn isn wasn weren aren hasn haven hadn don won wouldn couldn shouldn ll ve re name names"
                          .split())


def unused_words(question: str, terms: Iterable[str], vocabulary: Container[str], passages: Iterable[str],
                 word_counts: Mapping[str, int] | None = None) -> tuple[str, ...]:
    """Return the question's words that the corpus never uses, as the question writes them and in its order (at
    most `MAX_UNUSED`, none inside another): what a decline names, so that the user can ask in the articles' words.
    `terms` are the question's searchable words; one that stands in a retrieved passage's text (`passages`) is left
    out, since the index may only have cut it otherwise ("野马" inside "丹佛野马队"), as is an English word the corpus
    uses in another form ("changed" beside "change"), and a word that asks or points (哪款, 何时, 这项) or is made of
    function characters (才能), which names nothing. With the language's `word_counts` (jieba's dictionary), a
    seldom-used two-character word holding a character of grammar is left out when it stands alone (时会 of
    "再出现时会不会"): the cut glued it across the question's phrasing."""
    simplified = to_simplified(unicodedata.normalize("NFKC", question).lower())  # as the tokenizer reads it
    named = [term for term in sorted(set(terms), key=len, reverse=True)
             if len(term) >= 2 and term in simplified and not _ASKS_OR_POINTS.match(term)
             and not _FUNCTION_ONLY.match(term) and term not in STOP and term not in _SAYS_NOTHING]
    forms = {term: variants(term) for term in named}
    held = set(held_terms(vocabulary, [form for own in forms.values() for form in own]))
    texts = [to_simplified(text).lower() for text in passages]
    found: list[str] = []
    for term in named:
        if (held.isdisjoint(forms[term]) and not any(term in other for other in found)
                and not any(term in text for text in texts)):
            found.append(term)
    # Words that follow one another in the question are one name the dictionary cut (文心 and 一言 of 文心一言).
    spans: list[list[int]] = []
    for start, end in sorted((simplified.find(term), simplified.find(term) + len(term)) for term in found):
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    spans = _across_cuts(simplified, spans, vocabulary, terms)
    if word_counts is not None:
        spans = [[start, end] for start, end in spans if not _glued(simplified[start:end], word_counts)]
    # Folding script, case and width mostly keeps each character where the question has it: quote the question's own.
    source = question if len(simplified) == len(question) else simplified
    return tuple(source[start:end] for start, end in spans[:MAX_UNUSED])


_HAN_PAIR = re.compile(r"[\u3400-\u9fff]{2}")


def _across_cuts(text: str, spans: list[list[int]], vocabulary: Container[str], terms: Iterable[str]) -> list[list[int]]:
    """Return the spans, each widened by the character beside it when the cut left that character alone and the two
    make a word the corpus uses: the cut broke the articles' word ("参数量" cut 参 / 数量 over articles that write 参数),
    and the decline names the question's word ("参数量"), not the half that is left ("数量"). A character of grammar
    (是 of "死因是") or one of the question's longer words (设 of 设计 in "全新设计") was not left alone. One lookup."""
    words = [term for term in terms if len(term) >= 2]

    def alone(char: str) -> bool:
        return char not in _GRAMMAR_CHARACTERS and not any(char in word for word in words)

    # Each span's pair across its start and across its end, "" where there is none to ask about.
    before = [text[start - 1: start + 1] if start > 0 and alone(text[start - 1]) else "" for start, _ in spans]
    after = [text[end - 1: end + 1] if end < len(text) and alone(text[end]) else "" for _, end in spans]
    pairs = [pair for pair in before + after if _HAN_PAIR.fullmatch(pair)]
    held = set(held_terms(vocabulary, pairs)) if pairs else set()
    return [[start - (left in held), end + (right in held)] for (start, end), left, right in zip(spans, before, after)]


def _glued(word: str, word_counts: Mapping[str, int]) -> bool:
    """Return whether a word the question alone writes is likely its grammar glued to a neighbour by the cut."""
    return (len(word) == 2 and not _GRAMMAR_CHARACTERS.isdisjoint(word)
            and (word_counts.get(word) or 0) < _GLUE_COUNT)


# A question of several questions ("“世界模型”这个概念最早是谁提出来的？Runway又是什么时候说要做通用世界模型的？"): each part
# that stands on its own asks something of its own. A part that leans on the one before belongs to it: it opens by
# pointing back, asking more of the same or asking with no subject of its own ("他叫什么？说了什么？", "具体是哪四点？",
# "为什么？", "这事有定论了吗？", "能打个比方吗？"), names fewer than two things, or asks nothing ("（按齐鲁晚报的说法）" after
# the question mark).
_LEANS_BACK = re.compile(r"^(?:他|她|它|其|这|那|该|此|为什么|为何|具体|那么|还有|另外|又|并且|而且|能|可以|可否|可不可以"
                         r"|and\b|why\b|how so\b|can\b|could\b)", re.I)
_PART_END = re.compile(r"(?<=[？?])")
_NAMING_TOKEN = re.compile(r"^(?:[a-z0-9].*|[\u3400-\u9fff]{2,})$")


def question_parts(question: str, tokens: Callable[[str], Iterable[str]]) -> list[str]:
    """Return the questions a question asks, each with the parts that lean on it (`_LEANS_BACK`); the question
    alone when it asks one. `tokens` are a text's searchable tokens (stopwords left out): a part that names fewer
    than two things (words of two or more characters, Latin words, numbers) leans on the one before."""
    parts: list[str] = []
    for piece in (p.strip() for p in _PART_END.split(question)):
        if not piece:
            continue
        named = sum(1 for token in tokens(piece) if _NAMING_TOKEN.match(token))
        if parts and (_LEANS_BACK.match(piece) or named < 2 or not piece.endswith(("？", "?"))):
            parts[-1] += piece
        else:
            parts.append(piece)
    return parts if len(parts) > 1 else [question]
