"""The browser chat (Gradio): answers streamed with inline [n] markers, the sources beside
them, follow-ups, filters, a documents tab with uploads, feedback, and an `/ask` API.

Thin by design: every answer comes from `qa.Answerer`, every upload goes through `ingest`.
"""

from __future__ import annotations

import html
import ipaddress
import json
import logging
import re
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest import SUPPORTED, Ingestor
from qa import Answer, Answerer, Filters, Status
from qa.reader import NOT_FOUND
from vectorstore import ChunkStore, RagqaError

log = logging.getLogger(__name__)

EXAMPLES = [
    "When was the US exit date from the INF treaty?",
    "Who was Russia's top negotiator at the Geneva talks on the INF Treaty?",
    "How much advance notice must a State Party give to withdraw from the Treaty on Open Skies?",
    "Is the CFE Treaty limited in duration?",
]
MAX_UPLOAD_MB = 20
SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")

CSS = """
.ragqa-sources { max-height: 72vh; overflow-y: auto; }
.src-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px; margin-bottom: 10px; }
.src-card h4 { margin: 0 0 4px 0; font-size: 0.98em; }
.src-meta { color: var(--body-text-color-subdued); font-size: 0.85em; margin-bottom: 6px; }
.src-text { font-size: 0.9em; line-height: 1.45; white-space: pre-wrap; }
.src-text mark { background: #fde68a; color: #111; padding: 0 2px; border-radius: 3px; }
.src-text .heading { font-weight: 600; }
.src-n { display: inline-block; min-width: 1.6em; text-align: center; background: #3b7dd8; color: white; border-radius: 4px; margin-right: 6px; }
a.cite { text-decoration: underline; cursor: pointer; color: #2563eb; }
a.cite:focus { outline: 2px solid #2563eb; outline-offset: 1px; }
.strip { font-size: 0.85em; color: var(--body-text-color-subdued); }
#searched { font-size: 15px !important; font-weight: 500; text-align: left; justify-content: flex-start; }
.notice { color: #a15c00; }
.field-error { color: #b42318; font-size: 0.9em; min-height: 0; }
.doc-scroll { overflow-x: auto; max-width: 100%; }
.doc-table td, .doc-table th { padding: 4px 8px; text-align: left; white-space: nowrap; }
@media (max-width: 640px) {
  .gradio-container { padding-left: 6px !important; padding-right: 6px !important; }
  #ask-row { flex-direction: column; }
  #ask-row > * { width: 100% !important; min-width: 100% !important; }
}
"""

# [n] markers become focusable links to their source card. Done in the page, not in the
# message text, so screen readers and the chat's labels read plain "[1]", not markup.
CITE_JS = """
<script>
(() => {
  const link = (root) => {
    root.querySelectorAll('.message-wrap .bot, .message-wrap [data-testid="bot"]').forEach((msg) => {
      const walker = document.createTreeWalker(msg, NodeFilter.SHOW_TEXT);
      const hits = [];
      while (walker.nextNode()) {
        const node = walker.currentNode;
        if (/\\[\\d{1,2}\\]/.test(node.nodeValue) && !node.parentElement.closest('a')) hits.push(node);
      }
      hits.forEach((node) => {
        const frag = document.createDocumentFragment();
        node.nodeValue.split(/(\\[\\d{1,2}\\])/).forEach((part) => {
          const m = part.match(/^\\[(\\d{1,2})\\]$/);
          if (!m) { frag.appendChild(document.createTextNode(part)); return; }
          const a = document.createElement('a');
          a.className = 'cite'; a.href = '#src-' + m[1]; a.textContent = part; a.tabIndex = 0;
          a.setAttribute('aria-label', 'source ' + m[1]);
          a.addEventListener('click', (e) => {
            const card = document.getElementById('src-' + m[1]);
            if (card) { e.preventDefault(); card.scrollIntoView({behavior: 'smooth', block: 'nearest'}); }
          });
          frag.appendChild(a);
        });
        node.parentNode.replaceChild(frag, node);
      });
    });
  };
  new MutationObserver(() => link(document)).observe(document.documentElement, {childList: true, subtree: true, characterData: true});
})();
</script>
"""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _tidy(text: str) -> str:
    """Escaped passage text with runs of blank lines folded (some sources pad paragraphs)."""
    return _esc(re.sub(r"\n\s*\n\s*", "\n\n", text))


def _section(section: str, title: str) -> str:
    """The section path without the title it starts with (the card already shows it)."""
    rest = section[len(title) :].lstrip(" ›") if section.startswith(title) else section
    return _esc(rest or "whole document")


def _plain(text: str) -> str:
    """Message text made inert (no tags can form) but readable as a label: quotes and
    apostrophes stay as they are, so screen readers never meet markup or entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def answer_markdown(ans: Answer) -> str:
    """Chat text: the answer (its [n] markers become links in the page), a compact line naming
    each source under it (on a phone the cards are far below), and any notice. Plain text, no
    HTML, so the chat's screen-reader labels read what the user sees."""
    body = _plain(ans.answer)
    if ans.abstained:
        body += "\n\nThe closest passages are shown with the sources; none of them answers the question."
    elif ans.citations:
        strip = " · ".join(
            f"[{c.n}] {_plain(c.title or c.source)}{f' ({c.date})' if c.date else ''}" for c in ans.citations
        )
        body += f"\n\nSources: {strip}"
    if ans.notice:
        body += f"\n\n⚠ {_plain(ans.notice)}"
    return body


def streamed_text(partial: str, status: str = "") -> str:
    """The model's words while it writes, without its passage numbers (a finished "[1]" or
    one still being written): the grounded answer then puts each [n] where it belongs, once.
    `status`, what the answer step is doing (a part, a second read), goes above them in italics.
    The reader's NOT FOUND is a signal to the code, not words for people: it is not shown."""
    said = re.sub(r"\s*\[\d{0,2}\]?", "", partial)
    words = ("" if said.strip() and NOT_FOUND.startswith(said.strip().upper()) else _plain(said)) + " ▌"
    return f"*{_plain(status.replace('*', ''))}*\n\n{words}" if status else words


HEADING = re.compile(r"^#{1,6}[ \t]*(.+?)[ \t]*#*[ \t]*$", re.M)  # the line break after it stays


def _card_text(text: str) -> str:
    """Escaped passage text with Markdown heading marks shown as plain bold headings."""
    return HEADING.sub(lambda m: f"<span class='heading'>{m.group(1)}</span>", _tidy(text))


def valid_date(text: str) -> str:
    """'' when `text` is empty or a YYYY-MM-DD date, else a one-line message saying what to type."""
    import datetime as dt

    text = (text or "").strip()
    if not text:
        return ""
    try:
        dt.date.fromisoformat(text)
        return ""
    except ValueError:
        return f"“{text}” is not a date: type it as YYYY-MM-DD, e.g. 2019-01-16"


def sources_html(ans: Answer | None) -> str:
    """Source cards: title, date, type, section, file and the passage with the quote marked."""
    if ans is None:
        return "<div class='ragqa-sources'><p>Sources appear here, with the supporting sentence highlighted.</p></div>"
    cards = []
    if ans.citations:
        for c in ans.citations:
            passage = c.passage or c.quote
            at = passage.find(c.quote)
            if at >= 0:
                text = (
                    _card_text(passage[:at])
                    + "<mark>"
                    + _esc(c.quote)
                    + "</mark>"
                    + _card_text(passage[at + len(c.quote) :])
                )
            else:
                text = "<mark>" + _esc(c.quote) + "</mark>"
            meta = " · ".join(x for x in (c.date, c.doc_type, _esc(c.source)) if x)
            cards.append(
                f"<div class='src-card' id='src-{c.n}'><h4><span class='src-n'>{c.n}</span>{_esc(c.title or c.source)}</h4>"
                f"<div class='src-meta'>{meta}<br>{_section(c.section, c.title)}</div><div class='src-text'>{text.strip()}</div></div>"
            )
        head = "<h3>Sources</h3>"
    else:
        for p in ans.passages[:4]:
            meta = " · ".join(x for x in (p.date, p.doc_type, _esc(p.file_name)) if x)
            cards.append(
                f"<div class='src-card'><h4>{_esc(p.title or p.file_name)}</h4><div class='src-meta'>{meta}<br>{_section(p.section, p.title)}</div>"
                f"<div class='src-text'>{_card_text(p.text[:700]).strip()}{'…' if len(p.text) > 700 else ''}</div></div>"
            )
        head = "<h3>Closest passages (they do not answer the question)</h3>"
    return f"<div class='ragqa-sources'>{head}{''.join(cards)}</div>"


LISTED = 500  # rows of the documents table: a page of a large store stays light


def documents_html(store: ChunkStore) -> str:
    docs = sorted(store.documents(), key=lambda d: (d.doc_type, d.date, d.title))
    rows = "".join(
        f"<tr><td>{_esc(d.title or d.file_name)}</td><td>{d.doc_type}</td><td>{d.date or '–'}</td><td>{d.chunks}</td><td>{_esc(d.file_name)}</td></tr>"
        for d in docs[:LISTED]
    )
    more = f" The first {LISTED:,} (by type, date, title) are listed." if len(docs) > LISTED else ""
    return (
        f"<p>{len(docs):,} documents, {store.count():,} passages indexed.{more}</p><div class='doc-scroll'><table class='doc-table'>"
        f"<tr><th>Title</th><th>Type</th><th>Date</th><th>Passages</th><th>File</th></tr>{rows}</table></div>"
    )


def safe_upload_name(name: str) -> str:
    """A file name to store an upload under; refuses path tricks instead of guessing."""
    parts = name.replace("\\", "/").split("/")
    if ".." in parts or name.replace("\\", "/").startswith("/"):
        raise RagqaError(f"refused file name '{name}': it points outside the upload folder")
    base = parts[-1]
    clean = SAFE_NAME.sub("_", base).strip(" .")
    if not clean or clean in {".", ".."}:
        raise RagqaError(f"refused file name '{name}'")
    return clean


class ChatApp:
    """State shared by the UI handlers: one Answerer (one model load) behind a lock."""

    def __init__(self, answerer: Answerer, settings: Any) -> None:
        self.answerer = answerer
        self.settings = settings
        self.lock = threading.Lock()
        self.data_dir: Path = settings.store.data_dir
        self.feedback_path = self.data_dir / "feedback.jsonl"

    # -- answering ------------------------------------------------------------------
    def backends(self) -> tuple[list[tuple[str, str]], str]:
        """The answer backends that can work here, with plain labels, and a note on those that cannot."""
        from qa.models import MODELS, installed

        qa = self.settings.qa
        offered = [("Fast (no LLM)", "extractive")]
        missing = []
        if installed(qa.local_model, self.answerer.models_dir):
            offered.append((MODELS[qa.local_model].label, "local"))
        else:
            missing.append("the local model is not installed on this server")
        if qa.openai_base_url:
            offered.append((f"{qa.openai_model} (model server)", "openai"))
        else:
            missing.append("no model server is set up")
        note = f"Not offered: {'; '.join(missing)}." if missing else ""
        return offered, note

    def respond(
        self,
        message: str,
        history: list[dict[str, Any]],
        backend: str,
        k: int,
        doc_types: list[str],
        source: str,
        since: str,
        until: str,
        answers: list[dict[str, Any]],
        go: bool = True,
    ) -> Iterator[tuple[Any, Any, Any, Any, Any]]:
        """Stream one answer. It never writes the question box, so what the user types
        meanwhile stays; the last value (False) tells the page it may ask again. `go` False:
        the page did not take a question (one was running), so nothing changes."""
        import gradio as gr

        if not go:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        hidden = gr.update(visible=False)
        message = (message or "").strip()
        if not message:
            yield history, sources_html(None), hidden, answers, False
            return
        pairs = _pairs(history, answers)
        history = [*history, {"role": "user", "content": _plain(message)}, {"role": "assistant", "content": "…"}]
        yield history, sources_html(None), hidden, answers, True
        pieces = 0
        try:
            bad = valid_date(since) or valid_date(until)
            if bad:
                raise RagqaError(f"{bad} (date filter)")
            sources = [x.strip() for x in (source or "").split(",") if x.strip()]
            filters = Filters(
                doc_types=doc_types or [],
                sources=sources,
                since=(since or "").strip() or None,
                until=(until or "").strip() or None,
            )
            with self.lock:
                final: Answer | None = None
                partial = ""
                status = ""
                for item in self.answerer.stream(message, pairs, filters, backend, int(k), _last_cited(answers)):
                    if isinstance(item, Answer):
                        final = item
                        continue
                    if isinstance(item, Status):  # a new read begins: the words so far are not its answer
                        status, partial = item.text, ""
                    else:
                        partial += item
                        pieces += 1
                    history[-1] = {"role": "assistant", "content": streamed_text(partial, status)}
                    yield history, sources_html(None), hidden, answers, True
            assert final is not None
            history[-1] = {"role": "assistant", "content": answer_markdown(final)}
            answers = [
                *answers,
                final.model_dump(exclude={"passages"}) | {"passages": [p.model_dump() for p in final.passages[:4]]},
            ]
            searched = gr.update(
                value=f"Searched for: “{final.rewritten_question}”{_where(final)} — click to edit and ask again",
                visible=True,
            )
            yield history, sources_html(final), searched, answers, False
        except GeneratorExit:  # Stop: the page cancelled this answer; the model is not asked for more
            log.warning("answer stopped by the user after %d streamed pieces", pieces)
            raise
        except RagqaError as exc:
            history[-1] = {"role": "assistant", "content": f"⚠ {_plain(str(exc))}"}
            yield history, sources_html(None), hidden, [*answers, {}], False
        except Exception as exc:  # the page must survive any backend failure
            log.exception("answer failed")
            history[-1] = {
                "role": "assistant",
                "content": f"⚠ Something went wrong answering this ({_plain(type(exc).__name__)}). Try again.",
            }
            yield history, sources_html(None), hidden, [*answers, {}], False

    def ask_api(self, question: str) -> dict[str, Any]:
        """`/ask`: the same JSON object as `ragqa ask --json`."""
        with self.lock:
            answer = self.answerer.ask(question)
        return json.loads(answer.model_dump_json(exclude={"passages"}))

    # -- feedback -------------------------------------------------------------------
    def feedback(self, data: Any, history: list[dict[str, Any]], answers: list[dict[str, Any]]) -> int:
        """A thumbs-up saves the answer as a checked eval item; a thumbs-down returns the turn,
        so the page can ask for the right answer (saved by `correct`). -1: nothing to do."""
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        turn = sum(1 for m in history[: index + 1] if m["role"] == "assistant") - 1
        if not (0 <= turn < len(answers)) or not answers[turn]:
            return -1
        if not data.liked:
            return turn
        ans = answers[turn]
        short = re.split(r"\s+—\s+|\s*\[\d", ans["answer"], maxsplit=1)[0].strip()
        self._save_item(ans, "" if ans.get("abstained") else short, "up")
        return -1

    def correct(self, turn: int, text: str, answers: list[dict[str, Any]]) -> str:
        """Save the user's right answer for a disliked turn as a question-set item."""
        text = (text or "").strip()
        if not (0 <= turn < len(answers)) or not answers[turn]:
            return "Nothing to correct: press 👎 under an answer first."
        if not text:
            return "Type the right answer first (or “not in the documents”)."
        self._save_item(answers[turn], text, "down")
        return f"Saved to {self.feedback_path.name} as an eval question. Thank you."

    def _save_item(self, ans: dict[str, Any], gold: str, verdict: str) -> None:
        """One line in the question-set format (eval/README), so `ragqa eval feedback.jsonl` runs it."""
        unanswerable = not gold or gold.lower().strip(".") in {"not in the documents", "unanswerable"}
        record = {
            "id": f"feedback-{int(time.time())}-{uuid.uuid4().hex[:6]}",
            "question": ans.get("rewritten_question") or ans["question"],
            "answer": "" if unanswerable else gold,
            "aliases": [],
            "must": [],
            "sources": sorted({c["source"] for c in ans.get("citations", [])}) if verdict == "up" else [],
            "evidence": ans["citations"][0]["quote"] if verdict == "up" and ans.get("citations") else "",
            "type": "unanswerable" if unanswerable else "",
            "feedback": verdict,
            "answer_given": ans["answer"],
            "backend": ans.get("backend", ""),
        }
        self.feedback_path.parent.mkdir(parents=True, exist_ok=True)
        with self.feedback_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    # -- uploads --------------------------------------------------------------------
    def upload(self, files: list[Any] | None) -> tuple[str, str]:
        if not files:
            return "<p>No file chosen.</p>", documents_html(self.answerer.store)
        target = self.data_dir / "uploads"
        target.mkdir(parents=True, exist_ok=True)
        lines, accepted = [], []
        for f in files:
            src = Path(getattr(f, "name", f))
            original = getattr(f, "orig_name", None) or src.name
            try:
                name = safe_upload_name(original)
                if Path(name).suffix.lower() not in SUPPORTED:
                    raise RagqaError(f"{name}: type not allowed (allowed: {', '.join(sorted(SUPPORTED))})")
                if src.stat().st_size > MAX_UPLOAD_MB * 1e6:
                    raise RagqaError(f"{name}: larger than {MAX_UPLOAD_MB} MB")
                dest = target / name
                shutil.copyfile(src, dest)
                accepted.append(dest)
            except RagqaError as exc:
                lines.append(f"<li class='notice'>✗ {_esc(str(exc))}</li>")
        if accepted:
            # Ingest outside the answer lock, so the chat keeps answering meanwhile; only the
            # switch to the refreshed index waits for the answer in progress.
            report = Ingestor(self.answerer.store, self.settings.ingest, self.data_dir, progress=True).run(accepted)
            with self.lock:
                self.answerer.refresh()
            failed = {Path(f.path).name: f.error for f in report.files_failed}
            for path in accepted:
                if path.name in failed:
                    lines.append(f"<li class='notice'>✗ {_esc(path.name)}: {_esc(failed[path.name])}</li>")
                else:
                    lines.append(f"<li>✓ {_esc(path.name)} ingested</li>")
            lines.append(f"<li>{report.chunks_added} passages added in {report.seconds:.1f} s</li>")
        return f"<ul>{''.join(lines)}</ul>", documents_html(self.answerer.store)


def _pairs(history: list[dict[str, Any]], answers: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(question, answer) pairs of the conversation so far, for follow-up rewriting."""
    return [Answer.model_validate(a).turn() for a in answers if a]


def _where(answer: Answer) -> str:
    """Say so when a follow-up was searched only in the last answer's documents."""
    return f" in {', '.join(answer.searched_in)} (the last answer's source)" if answer.searched_in else ""


def _last_cited(answers: list[dict[str, Any]]) -> list[str]:
    """The files the last answer cited: a follow-up is looked for in them first."""
    last = answers[-1] if answers else {}
    return [c["source"] for c in last.get("citations", [])]


def build_ui(chat: ChatApp) -> Any:
    import gradio as gr

    settings = chat.settings
    offered, unavailable = chat.backends()
    default = settings.qa.llm if settings.qa.llm in {v for _, v in offered} else "extractive"
    with gr.Blocks(title="ragqa — questions about news and treaties") as demo:
        gr.Markdown(
            "## ragqa\nAsk about the indexed news and treaty texts. Every answer cites the passage it stands on; "
            "when the documents don't say, ragqa says so."
        )
        answers = gr.State([])
        asked = gr.State("")  # the question being answered (the box itself stays the user's)
        busy = gr.State(False)
        disliked = gr.State(-1)
        with gr.Tab("Chat"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    bot = gr.Chatbot(
                        label="Conversation",
                        show_label=False,
                        height=520,
                        examples=[{"text": q} for q in EXAMPLES],
                        feedback_options=("Like", "Dislike"),
                        sanitize_html=True,
                        render_markdown=True,
                        placeholder="**Ask a question** about the documents, or pick an example.",
                        elem_id="chat",
                    )
                    searched = gr.Button("", visible=False, variant="secondary", size="sm", elem_id="searched")
                    with gr.Row(visible=False, elem_id="correction") as correction:
                        right = gr.Textbox(
                            label="What is the right answer? It is saved as an eval question.", scale=4, elem_id="right"
                        )
                        save = gr.Button("Save", scale=1, elem_id="save-correction")
                    saved = gr.HTML("", elem_id="correction-log")
                    with gr.Row(elem_id="ask-row"):
                        box = gr.Textbox(
                            placeholder="Ask about the documents…",
                            show_label=False,
                            scale=5,
                            lines=1,
                            elem_id="question",
                        )
                        send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
                        stop = gr.Button("Stop", variant="stop", scale=1, min_width=80, elem_id="stop")
                    status = gr.HTML("", elem_id="status")
                    with gr.Accordion("Answer settings and filters", open=False, elem_id="settings"):
                        with gr.Row():
                            backend = gr.Dropdown(
                                offered, value=default, label="Answer with", info=unavailable or None, elem_id="backend"
                            )
                            k = gr.Slider(2, 12, value=settings.qa.k, step=1, label="Passages")
                        doc_types = gr.CheckboxGroup(
                            ["news", "treaty", "law", "other"], label="Only these document types"
                        )
                        source = gr.Textbox(label="Only files whose name contains (comma-separated)", value="")
                        with gr.Row():
                            since = gr.Textbox(label="From date (YYYY-MM-DD)", value="", elem_id="since")
                            until = gr.Textbox(label="To date (YYYY-MM-DD)", value="", elem_id="until")
                        date_error = gr.HTML("", elem_classes=["field-error"], elem_id="date-error")
                    clear = gr.Button("New conversation", size="sm")
                with gr.Column(scale=2):
                    sources = gr.HTML(sources_html(None), elem_id="sources")
        with gr.Tab("Documents"):
            docs = gr.HTML("", elem_id="documents")
            files = gr.File(
                label=f"Add documents ({', '.join(sorted(SUPPORTED))}; up to {MAX_UPLOAD_MB} MB each)",
                file_count="multiple",
                file_types=sorted(SUPPORTED),
                elem_id="upload",
            )
            upload_btn = gr.Button("Ingest uploaded files", elem_id="ingest")
            upload_log = gr.HTML("", elem_id="upload-log")

        def accept(message: str, running: bool) -> tuple[Any, Any, bool, str, bool]:
            """Take the question from the box, unless an answer is running: then the text stays
            in the box and the page says why (one model answers one question at a time)."""
            if running:
                busy_note = (
                    "<span class='notice'>An answer is still being written: wait for it or press Stop, "
                    "then press Enter again. Your text is kept.</span>"
                )
                return gr.skip(), gr.skip(), True, busy_note, False
            question = (message or "").strip()
            return "", question, bool(question), "", True

        go = gr.State(False)  # False: the question was not taken (an answer is running)
        answer_inputs = [asked, bot, backend, k, doc_types, source, since, until, answers, go]
        answer_outputs = [bot, sources, searched, answers, busy]
        # One answer at a time: the local model is one per process.
        lane = {"api_visibility": "private", "concurrency_limit": 1, "concurrency_id": "answer"}
        runs = []
        for trigger in (send.click, box.submit):
            first = trigger(accept, [box, busy], [box, asked, busy, status, go], queue=False, api_visibility="private")
            runs.append(first.then(chat.respond, answer_inputs, answer_outputs, **lane))

        def on_example(data: Any) -> tuple[str, bool]:
            return str(data.value["text"]), True

        on_example.__annotations__["data"] = gr.SelectData  # Gradio injects the clicked example by annotation
        runs.append(
            bot.example_select(on_example, None, [asked, go], api_visibility="private").then(
                chat.respond, answer_inputs, answer_outputs, **lane
            )
        )

        def stopped(
            history: list[dict[str, Any]], state: list[dict[str, Any]], running: bool
        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
            if not running:
                return history, state, False
            history = [*history[:-1], {"role": "assistant", "content": "⏹ Stopped. Ask again when you are ready."}]
            return history, [*state, {}], False  # the stopped turn has no answer to rate or follow up on

        stop.click(
            stopped, [bot, answers, busy], [bot, answers, busy], cancels=runs, queue=False, api_visibility="private"
        )

        def edit_search(state: list[dict[str, Any]]) -> str:
            last = next((a for a in reversed(state) if a), None)
            return str(last["rewritten_question"]) if last else ""

        searched.click(edit_search, answers, box, queue=False, api_visibility="private")

        def check_dates(a: str, b: str) -> str:
            bad = valid_date(a) or valid_date(b)
            return f"⚠ {_esc(bad)}" if bad else ""

        for field in (since, until):
            for event in (field.change, field.blur, field.submit):
                event(check_dates, [since, until], date_error, queue=False, api_visibility="private")

        def on_like(history: list[dict[str, Any]], state: list[dict[str, Any]], data: Any) -> tuple[int, Any, str]:
            turn = chat.feedback(data, history, state)
            return turn, gr.update(visible=turn >= 0), ""

        on_like.__annotations__["data"] = gr.LikeData  # Gradio injects event data by annotation
        bot.like(on_like, [bot, answers], [disliked, correction, saved], api_visibility="private")

        def on_save(turn: int, text: str, state: list[dict[str, Any]]) -> tuple[str, Any, str]:
            message = chat.correct(turn, text, state)
            done = message.startswith("Saved")
            return _esc(message), gr.update(visible=not done), "" if done else text

        save.click(on_save, [disliked, right, answers], [saved, correction, right], api_visibility="private")
        clear.click(
            lambda: ([], sources_html(None), gr.update(visible=False), [], False),
            None,
            answer_outputs,
            api_visibility="private",
        )

        # Gradio injects progress through this default argument (its documented pattern).
        def on_upload(uploaded: list[Any] | None, progress: Any = gr.Progress(track_tqdm=True)) -> tuple[str, str]:  # noqa: B008
            return chat.upload(uploaded)  # the ingest's tqdm bar is mirrored in the page

        upload_btn.click(
            on_upload,
            files,
            [upload_log, docs],
            api_visibility="private",
            concurrency_limit=1,
            concurrency_id="ingest",  # its own lane: uploads never block answers
        )
        # The documents list as it is now, on every page load (uploads from other tabs included).
        demo.load(lambda: documents_html(chat.answerer.store), None, docs, api_visibility="private")
        gr.api(chat.ask_api, api_name="ask", concurrency_limit=1, concurrency_id="answer")
    return demo


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_auth(text: str | None) -> tuple[str, str] | None:
    """`--auth USER:PASS` as a pair (None when not given)."""
    if not text:
        return None
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise RagqaError("--auth takes USER:PASS")
    return user, password


def bind_warning(host: str, auth: tuple[str, str] | None) -> str:
    """A warning when the app would be reachable beyond this machine without a password."""
    if _is_loopback(host) or auth is not None:
        return ""
    return f"warning: serving on {host} without --auth: anyone who can reach this address can use the app"


def serve(
    store: ChunkStore,
    settings: Any,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
    started: float | None = None,
) -> int:
    """Load the models once, then serve the chat on `host:port` until interrupted."""
    started = started or time.perf_counter()
    if store.count() == 0:
        raise RagqaError("the index is empty; start with `ragqa serve --docs PATH` or run `ragqa ingest PATH` first")
    answerer = Answerer(store, settings.qa)
    answerer.warm_up(EXAMPLES[0])  # load the models now, not on the first user's question
    demo = build_ui(ChatApp(answerer, settings))
    demo.queue(default_concurrency_limit=1, max_size=64)
    print(
        f"ragqa: ready in {time.perf_counter() - started:.1f}s on http://{host}:{port}",
        file=sys.stderr,
        flush=True,
    )
    import gradio as gr

    demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        max_file_size=f"{MAX_UPLOAD_MB}mb",
        show_error=False,
        quiet=True,
        theme=gr.themes.Soft(),
        css=CSS,
        head=CITE_JS,
        footer_links=["api"],
        ssr_mode=False,
    )
    return 0
