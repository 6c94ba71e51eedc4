"""The Gradio page: chat on the left, sources panel on the right, wired to the chat handlers."""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import gradio as gr

from rag.apps.service import Service
from rag.apps.web.chat import ChatHandlers
from rag.apps.web.text import admin_words, i18n_tables
from rag.apps.web.view import panel_placeholder_html, status_html
from rag.kbs import DEFAULT_KB
from rag.kbs.catalog import MAX_EXAMPLES

ASSETS = Path(__file__).resolve().parent / "assets"
I18N = gr.I18n(**i18n_tables())
# Questions answered at once; the rest wait in the queue in order. An answer is mostly the pauses of
# streaming it in, and the questions in flight together are embedded in one forward pass
# (rag/embedding/batching.py): more in flight make bigger batches, not a crowd (docs/decisions.md).
CONCURRENCY = 20
# The admin panel's form; page.js sends it to POST/DELETE /api/kbs/{kb}/documents with the token typed in, so the
# one access policy judges it (rag/apps/server/access.py), and follows the update with GET /api/kbs/{kb}. Its words
# stand in both languages and page.css shows the page's (a label is written before the browser's language is known);
# page.js says what it does in the page's language from `data-words`.


def _both(key: str) -> str:
    words = admin_words()
    return "".join(f'<span lang="{lang}">{html.escape(words[lang][key])}</span>' for lang in ("zh", "en"))


ADMIN_HTML = f"""<div id="rag-admin-panel" data-words="{html.escape(json.dumps(admin_words(), ensure_ascii=False))}">
<label>{_both("admin_kb")} <input id="rag-admin-kb" type="text" placeholder="policies" maxlength="40"></label>
<label>{_both("admin_token")} <input id="rag-admin-token" type="password" autocomplete="off"
 placeholder="RAG_API_TOKEN"></label>
<input id="rag-admin-files" type="file" multiple accept=".pdf,.docx,.txt,.md,.markdown,.html,.htm">
<div class="rag-admin-buttons"><button id="rag-admin-upload" type="button">{_both("admin_upload")}</button>
<button id="rag-admin-list" type="button">{_both("admin_list")}</button></div>
<p id="rag-admin-status" data-state="idle" role="status"></p>
<ul id="rag-admin-docs"></ul>
</div>"""
# The page's language as Gradio chose it from the browser's (it sets <html lang> before the app loads), so
# the answers' words always match the labels': zh-CN and zh-TW are Chinese; zh-HK, which Gradio has no labels for, is English.
LOCALE_JS = "() => (document.documentElement.lang || navigator.language || '')"
# The hidden button's event takes the link address the page script stored when a link was clicked.
OPEN_SOURCE_JS = "(target, locale, kb) => [window.ragSourceTarget || target, locale, kb]"
# The hidden button's event takes the knowledge base the admin panel last changed, to list and select it.
REFRESH_KBS_JS = "(chosen) => [window.ragAdminKb || chosen || '']"


def build_page(service: Service, handlers: ChatHandlers | None = None, opening: str = DEFAULT_KB) -> gr.Blocks:
    """Return the page's Blocks over the service (ready or still getting ready), opening on knowledge base `opening`."""
    handlers = handlers or ChatHandlers(service)
    settings = service.settings
    with gr.Blocks(title="Answers you can check · 可核查的问答", fill_width=True) as page:
        locale = gr.Textbox("", visible=False)
        target = gr.Textbox(visible="hidden", elem_id="rag-target")
        open_source = gr.Button("open", visible="hidden", elem_id="rag-open-source")
        refresh_kbs = gr.Button("kbs", visible="hidden", elem_id="rag-kbs-refresh")
        gr.Markdown(I18N("title"), elem_id="rag-title")
        gr.Markdown(I18N("subtitle"), elem_id="rag-subtitle")
        # Custom values pass the browser's check of the choices it was sent first: a knowledge base made since then
        # is chosen by name (the handlers answer from the default for a name there is none of).
        kb = gr.Dropdown(handlers.kb_choices(), value=opening, label=I18N("kb_label"), elem_id="rag-kb", interactive=True,
                         allow_custom_value=True)
        admin_target = gr.Textbox(visible="hidden", elem_id="rag-admin-target")
        status = gr.HTML(status_html("zh", "getting_ready"), elem_id="rag-status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label=I18N("chat_label"),
                    elem_id="rag-chat",
                    height=560,
                    render_markdown=False,  # messages are HTML the view escaped itself
                    sanitize_html=True,
                    allow_tags=False,
                    feedback_options=("Like", "Dislike"),  # thumbs on every answer, stored by handlers.feedback
                    group_consecutive_messages=False,
                    buttons=["copy"],
                )
                with gr.Row():
                    question = gr.Textbox(
                        show_label=False,
                        placeholder=I18N("input_placeholder"),
                        elem_id="rag-question",
                        scale=8,
                        lines=1,
                        max_lines=6,
                        autofocus=True,
                    )
                    send = gr.Button(I18N("send"), variant="primary", scale=1, min_width=80, elem_id="rag-send")
                    clear = gr.Button(I18N("clear"), scale=1, min_width=80, elem_id="rag-clear")
                comment = gr.Textbox(
                    show_label=False, placeholder=I18N("feedback_comment"), elem_id="rag-comment", lines=1, max_lines=3
                )
                feedback_notice = gr.HTML("", elem_id="rag-feedback-notice")
                gr.Markdown(I18N("examples"), elem_id="rag-examples-label")
                with gr.Row(elem_id="rag-examples"):
                    shown = handlers.examples(opening)
                    example_buttons = [
                        gr.Button(shown[i] if i < len(shown) else "", size="sm", variant="secondary", visible=i < len(shown))
                        for i in range(MAX_EXAMPLES)
                    ]
                with gr.Accordion(I18N("settings"), open=False, elem_id="rag-settings"):
                    top_k = gr.Slider(1, 20, value=settings.retrieval.top_k, step=1, label=I18N("top_k"), elem_id="rag-top-k")
                    show_passages = gr.Checkbox(False, label=I18N("show_passages"), elem_id="rag-show-passages")
                with gr.Accordion(I18N("admin"), open=False, elem_id="rag-admin"):
                    gr.HTML(ADMIN_HTML)
            with gr.Column(scale=2):
                panel = gr.HTML(
                    panel_placeholder_html("zh"),
                    label=I18N("sources_label"),
                    show_label=True,
                    container=True,
                    elem_id="rag-sources",
                )
        timer = gr.Timer(1.0)

        def refresh(lang_code: str, chosen: str | None = None) -> tuple[str, Any]:
            banner, finished = handlers.status(lang_code, chosen)
            return banner, gr.Timer(active=not finished)

        def example_updates(chosen: str | None) -> list[Any]:
            texts = handlers.examples(chosen)
            return [gr.Button(texts[i] if i < len(texts) else "", visible=i < len(texts)) for i in range(MAX_EXAMPLES)]

        def switch(lang_code: str, chosen: str | None) -> tuple[Any, ...]:
            """A new knowledge base: its status and examples, an empty chat (its turns were about the other one)."""
            return (*refresh(lang_code, chosen), *handlers.clear(lang_code)[1:], *example_updates(chosen))

        ask_inputs = [question, chatbot, top_k, show_passages, locale, kb]
        # The examples too: drawn from titles only a loaded index has, they were empty when the page was built, and
        # an index loaded before the page was opened never ticks the timer that would fill them in.
        # The selector's choices too: built with the page, they would miss a knowledge base made since the server
        # started (`rag build --kb`, an upload through the API) until the admin panel changed one.
        page.load(None, None, locale, js=LOCALE_JS).then(
            lambda lang_code, chosen: (*refresh(lang_code, chosen), handlers.clear(lang_code)[2], *example_updates(chosen),
                                       gr.Dropdown(choices=handlers.kb_choices())),
            [locale, kb],
            [status, timer, panel, *example_buttons, kb],
            queue=False,
            api_visibility="private",
        )
        def tick(lang_code: str, chosen: str | None) -> tuple[Any, ...]:
            """The banner while getting ready; once ready, the examples too (drawn from titles only a loaded index has)."""
            banner, timer_update = refresh(lang_code, chosen)
            finished = not timer_update.active
            examples = example_updates(chosen) if finished else [gr.skip()] * MAX_EXAMPLES
            return (banner, timer_update, *examples)

        timer.tick(tick, [locale, kb], [status, timer, *example_buttons], queue=False, show_progress="hidden",
                   api_visibility="private")
        kb.change(switch, [locale, kb], [status, timer, chatbot, panel, *example_buttons], queue=False,
                  api_visibility="private")
        refresh_kbs.click(
            lambda chosen: gr.Dropdown(choices=handlers.kb_choices(), value=chosen or DEFAULT_KB),
            admin_target, kb, js=REFRESH_KBS_JS, queue=False, api_visibility="private",
        )
        gr.on(
            [question.submit, send.click],
            handlers.ask,
            ask_inputs,
            [question, chatbot],
            api_name="ask",
            concurrency_id="ask",
            show_progress="minimal",
        )
        for button in example_buttons:
            button.click(lambda text: text, button, question, queue=False, api_visibility="private").then(
                handlers.ask, ask_inputs, [question, chatbot], concurrency_id="ask", api_visibility="private"
            )
        open_source.click(
            handlers.open_source,
            [target, locale, kb],
            panel,
            js=OPEN_SOURCE_JS,
            api_name="source",
            concurrency_limit=None,
            show_progress="hidden",
        )
        # The named endpoint for gradio_client and Gradio's "Use via API": the same JSON as the HTTP API's /api/ask.
        gr.api(handlers.answer, api_name="answer", concurrency_id="ask")
        # The same over a knowledge base by name: a second endpoint, so callers of /answer need change nothing.
        gr.api(handlers.answer_kb, api_name="answer_kb", concurrency_id="ask")
        chatbot.like(
            handlers.feedback, [chatbot, comment, locale, kb], [comment, feedback_notice], queue=False, api_visibility="private"
        )
        clear.click(handlers.clear, locale, [question, chatbot, panel], queue=False, api_visibility="private")
        # The chat's own bin icon empties the chat; the panel follows so no stale source stays open.
        chatbot.clear(lambda lang_code: handlers.clear(lang_code)[2], locale, panel, queue=False, api_visibility="private")
    return page


def launch_options() -> dict[str, Any]:
    """Return the keyword arguments of `launch()` that style the page and make citations clickable."""
    return {
        "css": (ASSETS / "page.css").read_text(encoding="utf-8"),
        "js": (ASSETS / "page.js").read_text(encoding="utf-8"),
        "i18n": I18N,
        "theme": gr.themes.Soft(),
        # Gradio's settings menu can switch its own labels' language, which our answers would not follow.
        "footer_links": ["api", "gradio"],
    }
