"""Follow-up questions made standalone: "and when did it enter into force?" after a
question about the NPT becomes "When did the NPT enter into force?"."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence

import prompts

from .generators import Message
from .question import WH, joins
from .text import WORD, tokens

PRONOUN = re.compile(
    r"\b(it|its|this treaty|that treaty|the treaty|this agreement|that agreement|they|them|their|(?P<person>he|she|him|his|her))\b",
    re.I,
)
FOLLOW_UP_START = re.compile(r"^\s*(and|but|also|what about|how about|so)\b[\s,]*", re.I)
# "what about the CFE treaty?": the last question asked again, of a new subject.
SAME_QUESTION = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?P<subject>.+?)[\s?]*$", re.I)
NAME = r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+"  # a run of capitalised words: "Emma Raducanu", "Open Skies"
ENTITY = re.compile(
    r"\b(?:the\s+)?(?:[A-Z][\w.-]*\s+)*(?:Treaty|Agreement|Convention|Protocol|Statement|Code)(?:\s+(?:on|of|for)\s+(?:the\s+)?[A-Z][\w-]*(?:\s+[A-Z][\w-]*)*)?"
    r"|\b[A-Z]{2,}[\w-]*(?:\s+(?:Treaty|treaty))?"
    rf"|{NAME}"
)


log = logging.getLogger(__name__)

# "the five nuclear states ... their 2022 statement": the pronoun has its noun in the question itself.
OWN_ANTECEDENT = re.compile(r"\b(?:the|these|those)\s+(?!(?:treaty|agreement)\b)[a-z]", re.I)


def _refers_back(question: str) -> bool:
    """Does a pronoun point outside the question (to the conversation)?"""
    m = PRONOUN.search(question)
    if m is None:
        return False
    if m.group("person"):
        # "he" is a person, named before it if at all ("did Putin say he …"); a name after it
        # is what was said about ("what did he say about New START").
        if re.search(r"\s[A-Z]", question[: m.start()]):
            return False
    elif ENTITY.search(question):  # "it" may come first: "is it true that the NPT …"
        return False
    return not OWN_ANTECEDENT.search(question, 0, m.start())


def needs_rewrite(question: str) -> bool:
    """A follow-up: it starts like one ("and …"), points back ("it"), or is too short to say
    what it is about ("when?"). A short question that names its own subject ("DPRK warhead
    count") is a new question, not about the last turn."""
    short = len(question.split()) <= 3 and not main_entity(question)
    return bool(FOLLOW_UP_START.match(question) or _refers_back(question) or short)


def main_entity(text: str) -> str:
    """The most specific named thing in a question (treaty names and acronyms first)."""
    found = [m.group(0).strip() for m in ENTITY.finditer(text)]
    found = [
        f
        for f in found
        if f.split()[0] not in {"When", "What", "Which", "Who", "How", "Where", "Did", "Does", "Is", "Are", "Was"}
    ]
    if not found:
        return ""
    return max(found, key=lambda f: (("Treaty" in f or "treaty" in f or f.isupper()), len(f)))


def asked_again_of(question: str) -> str:
    """The new subject of a follow-up that asks the last question again: "what about the CFE
    treaty?", or any follow-up whose words are only a name ("and for the CFE?"), since it asks
    nothing of its own. Empty when the follow-up asks something itself ("and who signed it?")."""
    if about := SAME_QUESTION.match(question):
        return about.group("subject")
    names = list(ENTITY.finditer(question))
    if not names or not set(tokens(question)) <= set(tokens(" ".join(m.group(0) for m in names))):
        return ""
    return question[names[0].start() : names[-1].end()].strip()


def rule_rewrite(question: str, history: Sequence[tuple[str, str]], force: bool = False) -> str:
    """Replace the first pronoun with the previous question's main entity."""
    if not history or not (force or needs_rewrite(question)):
        return question
    last = history[-1][0]
    if subject := asked_again_of(question):
        if named := main_entity(last):
            q = last.replace(named, subject, 1)
            q = re.sub(r"\b(\w+)\s+\1\b", r"\1", q, flags=re.I)  # "the the", "CFE treaty treaty"
        else:  # "and for open skies?" after "who must be notified": not "For Open Skies (NPT)?"
            q = f"{last.rstrip(' ?')} ({subject})?"
        return q[0].upper() + q[1:]
    q = FOLLOW_UP_START.sub("", question).strip()
    pronoun = PRONOUN.search(q)
    # "he" or "she" is the person the last answer named ("Emma Raducanu [1]"), if it named one.
    person = _person(history[-1][1]) if pronoun and pronoun.group("person") else ""
    entity = person or next((e for user, _ in reversed(history) if (e := main_entity(user))), "")
    if not entity:
        return q[0].upper() + q[1:] if q else question
    if pronoun:

        def sub(m: re.Match[str]) -> str:
            possessive = m.group(0).lower() in ("its", "their", "his", "her")
            named = bool(person) or entity.lower().startswith("the ") or (" " not in entity and not entity.isupper())
            name = entity if named else f"the {entity}"
            return f"{name}'s" if possessive else name

        q = PRONOUN.sub(sub, q, count=1)
    else:
        q = f"{q.rstrip('?')} ({entity})?"
    q = q[0].upper() + q[1:]
    return q.replace("the the ", "the ")


def _short(answer: str) -> str:
    """An answer without its quote and citation marks: "Emma Raducanu [1] — “…”" -> "Emma Raducanu"."""
    return re.sub(r"\s*\[\d+\]", "", answer.split(" — ")[0]).strip()


def _person(answer: str) -> str:
    """The name an answer gives, when it is only a name."""
    short = _short(answer)
    return short if re.fullmatch(NAME, short) else ""


def keeps_subject(rewritten: str, question: str, history: Sequence[tuple[str, str]]) -> bool:
    """A rewrite may only add what the conversation said: it keeps every word of the
    follow-up, names something of the last turn, and brings in no word from nowhere
    ("who announced it?" must not become "Who announced the US?" about another treaty).
    A follow-up that names no subject of its own keeps the last turn's: "who announced it?"
    after "INF exit date?" must not become "Who announced the exit date?" (any treaty's), unless
    its pronoun is the last answer: "how old was she" after "Emma Raducanu [1]" need not keep
    the US Open."""
    # The question words count too: "where?" is not kept by "What was the speech about?". The
    # pronoun does not: it is what a rewrite replaces ("him" is no stop word).
    asked = set(tokens(PRONOUN.sub(" ", question))) | _wh(question)
    new = set(tokens(rewritten)) | _wh(rewritten)
    last_user, last_answer = history[-1]
    said = set(tokens(" ".join(f"{u} {a}" for u, a in history)))
    added = new - asked
    subject = "" if main_entity(question) else main_entity(last_user)
    answer = {t for t in tokens(_short(last_answer)) if not t.isdigit()}
    return (
        asked <= new
        and bool(added & set(tokens(f"{last_user} {last_answer}")))
        and added <= said
        and (set(tokens(subject)) <= new or bool(added & answer))
    )


def _wh(text: str) -> set[str]:
    """The question words of a text, which `tokens` leaves out as stop words."""
    return {" ".join(m.lower().split()) for m in re.findall(rf"\b{WH}\b", text, re.I)}


def rewrite(
    question: str,
    history: Sequence[tuple[str, str]],
    complete: Callable[[str], str] | None = None,
    force: bool = False,
) -> str:
    """Standalone question: the LLM's rewrite when it keeps the conversation's subject, else the rule.
    `force`: the caller knows the question leans on the last turn (a later part of a two-part question)."""
    if not history or not (force or needs_rewrite(question)):
        return question
    if complete is not None:
        convo = "\n".join(f"User: {u}\nAssistant: {a[:200]}" for u, a in history[-3:])
        try:
            out = complete(prompts.load("rewrite").format(history=convo, question=question)).strip().split("\n")[0]
            out = out.strip(" \"'")
            if 3 <= len(out.split()) <= 40 and keeps_subject(out, question, history):
                return out if out.endswith("?") else f"{out.rstrip('.')}?"
            log.info("rewrite %r rejected: it does not keep the conversation's subject", out)
        except Exception:  # a failed rewrite must not fail the answer
            log.warning("the rewrite failed; the rule rewrite is used", exc_info=True)
    return rule_rewrite(question, history, force)


def split_chat(question: str) -> list[Message]:
    """The split prompt: its instructions and worked examples are the system message, which
    llama.cpp evaluates once per process (`qa/prefix.py`), so a question costs its own words."""
    return [{"role": "system", "content": prompts.load("split")}, {"role": "user", "content": f"Search: {question}"}]


def split_question(question: str, stream: Callable[[str], Iterable[str]]) -> list[str]:
    """Two questions typed as one with no mark between them ("inf treaty signed when and entered
    into force when", "cfe treaty duration and withdrawal notice"): the LLM writes each on its own line.
    Kept only when it wrote two or three different questions made of the typed words alone
    (each taken back in the case it was typed); otherwise the question stays whole, as it does
    when the model writes it back unchanged ("launchers and heavy bombers" is one count).
    `stream` gives the model's reply as it is written."""
    out = ""
    whole = written_back(question)
    try:
        for piece in stream(question):
            out += piece
            if whole(out):
                return [question]
    except Exception:  # a failed split must not fail the answer
        log.warning("the split failed; the question is read whole", exc_info=True)
        return [question]
    lines = [line.strip(" \"'") for line in out.splitlines() if line.strip(" \"'?")]
    typed = {w.lower(): w for w in WORD.findall(question)}
    written = [[w.lower() for w in WORD.findall(line)] for line in lines]
    distinct = len({tuple(ws) for ws in written}) == len(written)
    if not (2 <= len(lines) <= 3 and distinct and all(ws and set(ws) <= typed.keys() for ws in written)):
        return [question]
    parts = [WORD.sub(lambda m: typed[m.group(0).lower()], line) for line in lines]
    log.info("%r split by the model into %r", question, parts)
    return [p if p.endswith("?") else f"{p.rstrip('.')}?" for p in parts]


def written_back(question: str) -> Callable[[str], bool]:
    """A test of the model's reply so far: is its first line copying the question past the
    question's last joining word or sign? Then it is writing the question back whole, and the rest
    of the copy (a third of the split's time on the shared dev set) need not be waited for: a first
    question ends before a joining word. The question is read once, not once per token."""
    q = " ".join(question.lower().split())
    ends = joins(q)

    def copies(written: str) -> bool:
        first = written.lstrip()
        if not ends or "\n" in first:
            return False
        w = " ".join(first.lower().split())
        return len(w) > ends[-1] and q.startswith(w)

    return copies
