"""The page's words in Chinese and English, and which of the two a browser gets."""
from __future__ import annotations

from typing import Literal

from rag.ingest.language import is_chinese

Language = Literal["zh", "en"]

# One table serves both the static labels (handed to Gradio's I18n, which the browser
# translates by its own language) and the HTML the server writes for each answer.
STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "可核查的问答",
        "subtitle": "答案的每一句都标注出处：点击 [1] 这样的编号，右侧会打开原文并高亮被引用的行。",
        "chat_label": "对话",
        "input_placeholder": "输入关于这些文章的问题，按回车发送",
        "send": "发送",
        "clear": "清空对话",
        "examples": "示例问题（点击即问）",
        "kb_label": "知识库",
        "admin": "管理文档",
        "settings": "设置",
        "top_k": "检索段落数",
        "show_passages": "显示检索到的段落",
        "sources_label": "原文",
        "panel_empty": "点击答案中的 [1] 等编号，这里会打开被引用的原文，高亮引用的行。",
        "panel_lines": "第 {start}–{end} 行（共 {total} 行）",
        "panel_line": "第 {start} 行（共 {total} 行）",
        "panel_page": "PDF 第 {page} 页第 {line} 行",
        "panel_stale": "这篇文章在建立索引之后改动过：这里显示的是建立索引时的内容，与引用一致。",
        "panel_cited": "引用 [{n}]",
        "panel_related": "相关阅读（不是答案）",
        "panel_passage": "检索到的段落",
        "panel_missing": "找不到这篇文章：{file}",
        "panel_unreadable": "无法显示这篇文章：{file} 不是可读的文本。",
        "panel_past_end": "{file} 只有 {total} 行，没有第 {start} 行：文章可能在建立索引之后改动过。",
        "panel_elided": "……（省略 {count} 行）",
        "sources": "出处",
        "lines": "第 {start}–{end} 行",
        "line": "第 {start} 行",
        "refused_title": "没有找到答案",
        "related": "相关阅读（不是答案，仅供参考）",
        "passages": "检索到的段落（{count}）",
        "thinking": "正在查找……",
        "empty_question": "请先输入一个问题，例如：“Adobe股价在Sora发布后怎么样了？”",
        "too_long": "问题太长：共 {length} 个字符，上限是 {limit} 个。请缩短后再问。",
        "too_many": "提问太频繁了：请等 {seconds} 秒再问。",
        "getting_ready": "正在准备：正在加载模型和索引，请稍候……",
        "building_index": "正在准备：首次启动或文章有变化时需要先建立索引（进度见控制台），请稍候……",
        "ready": "已就绪：{articles} 篇文章，{passages} 个段落。",
        "failed": "无法回答：{error}",
        "not_ready_reply": "还在准备中，请稍后再问。",
        "needs_access": "这个问答服务只对持有访问链接的人开放：请向管理员索取链接。",
        "error_reply": "出错了：{error}",
        "not_text": "问题里有无法识别的字符（已显示为 �）：请重新输入这些字。",
        "embed_intro": "问关于这些文章的问题。答案的每一句都标注出处，点击 [1] 这样的编号查看原文。",
        "back": "← 返回",
        "understood_as": "理解为：{question}",
        "feedback_thanks": "谢谢反馈，已记录。",
        "feedback_comment": "对回答的意见（可选，点 👍 或 👎 时一起提交）",
        "feedback_up": "有帮助",
        "feedback_down": "没帮助",
        "feedback_comment_short": "意见（可选）",
        "drafting": "语言模型正在撰写（草稿）；写完后逐句与原文核对，核对后的回答将替换这份草稿。",
        "stream_cut": "连接在回答完成前中断了，请再问一次。",
        "admin_kb": "知识库名称",
        "admin_token": "管理令牌（服务器设了令牌才需要）",
        "admin_upload": "上传",
        "admin_list": "列出文档",
        "admin_delete": "删除",
        "admin_first": "请先填写知识库名称并选择文件。",
        "admin_uploading": "正在上传……",
        "admin_deleting": "正在删除 {name}……",
        "admin_updating": "正在更新索引：{stage}",
        "admin_ready": "✓ {name}：{articles} 篇文章",
        "admin_denied": "服务器设了管理令牌：请在“管理令牌”一栏填入它（RAG_API_TOKEN），再上传或删除。",
    },
    "en": {
        "title": "Answers you can check",
        "subtitle": (
            "Every sentence of an answer cites its source: click a marker like [1] and the article opens on the right "
            "with the cited lines highlighted."
        ),
        "chat_label": "Chat",
        "input_placeholder": "Ask a question about the articles and press Enter",
        "send": "Send",
        "clear": "Clear chat",
        "examples": "Example questions (click to ask)",
        "kb_label": "Knowledge base",
        "admin": "Manage documents",
        "settings": "Settings",
        "top_k": "Passages to retrieve",
        "show_passages": "Show retrieved passages",
        "sources_label": "Source",
        "panel_empty": "Click a marker such as [1] in an answer to open the cited article here, with the cited lines highlighted.",
        "panel_lines": "lines {start}–{end} of {total}",
        "panel_line": "line {start} of {total}",
        "panel_page": "PDF page {page}, line {line}",
        "panel_stale": "This article changed since the index was built: these are the lines as indexed, as cited.",
        "panel_cited": "Citation [{n}]",
        "panel_related": "Related reading (not an answer)",
        "panel_passage": "Retrieved passage",
        "panel_missing": "No such article: {file}",
        "panel_unreadable": "This article cannot be shown: {file} is not readable text.",
        "panel_past_end": "{file} has {total} lines, not line {start}: the article may have changed since the index was built.",
        "panel_elided": "… ({count} lines not shown)",
        "sources": "Sources",
        "lines": "lines {start}–{end}",
        "line": "line {start}",
        "refused_title": "No answer found",
        "related": "Related reading — not an answer, for reference only",
        "passages": "Retrieved passages ({count})",
        "thinking": "Looking it up…",
        "empty_question": "Please type a question first, for example: “What is Sora?”",
        "too_long": "The question is too long: {length} characters, the limit is {limit}. Please shorten it and ask again.",
        "too_many": "Too many questions from this address: wait {seconds} s and ask again.",
        "getting_ready": "Getting ready: loading the model and the index. Please wait…",
        "building_index": "Getting ready: the index is being built for the first time or after the articles changed (progress in the console). Please wait…",
        "ready": "Ready: {articles} articles, {passages} passages.",
        "failed": "Cannot answer: {error}",
        "not_ready_reply": "Still getting ready: please ask again in a moment.",
        "needs_access": "This assistant is open to people with an access link: ask whoever runs it for one.",
        "error_reply": "Something went wrong: {error}",
        "not_text": "The question has characters that are not valid text (shown as �): please retype them.",
        "embed_intro": "Ask a question about the articles. Every sentence of an answer cites its source: click a marker like [1] to read it.",
        "back": "← Back",
        "understood_as": "Understood as: {question}",
        "feedback_thanks": "Thanks, your feedback is stored.",
        "feedback_comment": "Comment on an answer (optional, sent with your 👍 or 👎)",
        "feedback_up": "Helpful",
        "feedback_down": "Not helpful",
        "feedback_comment_short": "Comment (optional)",
        "drafting": "The language model is writing (a draft); once it is done every sentence is checked against the "
        "articles, and the checked answer replaces this draft.",
        "stream_cut": "The connection broke before the answer was complete: please ask again.",
        "admin_kb": "Knowledge base",
        "admin_token": "Admin token (only if the server has one)",
        "admin_upload": "Upload",
        "admin_list": "List documents",
        "admin_delete": "Delete",
        "admin_first": "Type a knowledge base name and choose files first.",
        "admin_uploading": "Uploading…",
        "admin_deleting": "Deleting {name}…",
        "admin_updating": "Updating the index: {stage}",
        "admin_ready": "✓ {name}: {articles} articles",
        "admin_denied": "The server has an admin token: type it (RAG_API_TOKEN) in the admin token field, then upload or delete again.",
    },
}

# Keys that are static labels of components, translated by the browser through gr.I18n.
LABEL_KEYS = (
    "title", "subtitle", "chat_label", "input_placeholder", "send", "clear", "examples",
    "settings", "top_k", "show_passages", "sources_label", "feedback_comment", "kb_label", "admin",
)


def language(locale: str | None, question: str = "") -> Language:
    """Return "zh" for a Chinese browser locale (zh, zh-CN, zh-Hant-TW, ...), "en" for any other.

    Without a locale (an API client that sent none) the question's own language decides.
    """
    locale = (locale or "").strip().lower().replace("_", "-")
    if not locale:
        return "zh" if is_chinese(question) else "en"
    return "zh" if locale.split("-")[0] == "zh" else "en"


def say(lang: Language, key: str, **values: object) -> str:
    """Return the string `key` in `lang`, with `{name}` fields filled in (values are not escaped here)."""
    template = STRINGS[lang][key]
    return template.format(**values) if values else template


# Words of the admin panel, which page.js writes in the page's language (its form is plain HTML, not Gradio's).
ADMIN_KEYS = ("admin_kb", "admin_token", "admin_upload", "admin_list", "admin_delete", "admin_first", "admin_uploading",
              "admin_deleting", "admin_updating", "admin_ready", "admin_denied")


def admin_words() -> dict[str, dict[str, str]]:
    """Return the admin panel's words by language, as page.js reads them."""
    return {lang: {key: table[key] for key in ADMIN_KEYS} for lang, table in STRINGS.items()}


def i18n_tables() -> dict[str, dict[str, str]]:
    """Return the label tables in the shape gr.I18n takes: locale -> key -> text."""
    return {lang: {key: table[key] for key in LABEL_KEYS} for lang, table in STRINGS.items()}
