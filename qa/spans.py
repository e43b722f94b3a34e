"""Typed answers inside one sentence: the date, number, name, place, treaty or defined term a
question asks for, each with a quality, and a Yes/No from the sentence's polarity.

The extractive reader scores sentences by these spans; the composed answer takes a place from
its quoted sentence ("when and where …?") with them. Pure functions of a sentence: no passages, no index.
"""

from __future__ import annotations

import re

from .dates import SPELLED_NUMBER, find_dates, parse_date, resolve_relative
from .question import CALENDAR, QuestionInfo, asks_several, define_term, definition_pattern
from .text import STOP, tokens

NEGATION = re.compile(
    r"\b(not|no|none|never|without|neither|nor|prohibited|cannot|shall not|may not|den(?:y|ies|ied)|refus(?:e|es|ed)|declin(?:e|es|ed))\b",
    re.I,
)
NUMBER = re.compile(
    r"(?:(?:more|less|fewer|greater) than |at least |no (?:less|more|later) than |not (?:less|more) than |as many as |up to |every |within |over |some |about |nearly |approximately )?"
    r"(?:(?:US)?\$\s?|€\s?|£\s?)?"  # an amount keeps its currency: "$1.8 billion", not "1.8"
    r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|" + SPELLED_NUMBER.pattern + r")"
    r"(?:\s+(?:thousand|million|billion|trillion)\b)?"
    r"(?:\s*(?:\(\d[\d,]*\)\s*)?(?:percent|per cent|%|days?|hours?|weeks?|months?|years?|kilomet(?:er|re)s?|km|miles?|warheads|tons?|flights?|times|states|tanks|aircraft))?",
    re.I,
)
TITLES = r"(?:(?:Assistant|Deputy|Foreign|Defense|Defence|Prime|Vice|National|Security|Advisor|Adviser|Secretary|Minister|President|General|Ambassador|Chancellor|Senator|Mr\.|Ms\.|Dr\.)\s+)*"
NAME = re.compile(TITLES + r"[A-Z][a-z]+(?:\s+(?:[A-Z]\.\s*)?[A-Z][a-z]+){1,3}")
ONE_OR_MORE_TITLES = TITLES.replace(")*", ")+", 1)
TITLED_NAME = re.compile(
    ONE_OR_MORE_TITLES + r"(?!(?:of|the)\b)[A-Z][a-z]+(?:\s+(?:[A-Z]\.\s*)?[A-Z][a-z]+){0,2}(?=[\s,.;:’'!?)]|$)"
)
_PLACE_NAME = r"(?:the\s+)?[A-Z][\w-]+(?:\s+(?:of\s+the\s+|of\s+|in\s+the\s+)?[A-Z][\w-]+){0,5}"
PLACE = re.compile(  # "at Moscow", "near Kwajalein Atoll", "at the cities of London, Moscow and Washington"
    r"\b(?:in|at|near|from|to)\s+(?:the\s+(?:cities|city|towns?|capitals?)\s+of\s+)?"
    rf"({_PLACE_NAME}(?:(?:,\s+|,?\s+and\s+){_PLACE_NAME})*)"
)
TREATY = re.compile(
    r"\b(?:the\s+)?(?:[A-Z][\w.-]*\s+){1,4}(?:Treaty|Agreement|Convention)\b(?:\s+on\s+(?:the\s+)?[A-Z][\w-]*(?:\s+(?:of\s+|in\s+)?[A-Z][\w-]*)*)?"
    r"|\b(?:the\s+)?(?:Treaty|Agreement|Convention)\s+on\s+(?:the\s+)?[A-Z][\w-]*(?:\s+(?:of\s+|in\s+)?[A-Z][\w-]*)*"
)
GENERIC_CAPS = {
    "The",
    "This",
    "Treaty",
    "Article",
    "Section",
    "States",
    "State",
    "Parties",
    "Party",
    "United",
    "Congress",
    "Between",
    "Republic",
    "Federation",
    "Union",
    "Government",
    "Governments",
    "Range",
    "Forces",
    "Nuclear",
    "Annex",
    "Protocol",
}
# Capitalised words that make a name an organisation, document or publication, not a person.
NOT_PERSON = set(
    """Declaration Agreement Convention Agency Department Committee Council Conference Times Base House Office
    Ministry Republics Act Inspection Organization Association Institute Administration Review Dialogue Statement
    News Post Journal Scientists Force Forces Air Navy Army Hack Command Center Centre University""".split()
)
DATE_PRECISION = [
    (re.compile(r"\d{1,2},? \d{4}|\d{4} |\w+ \d{1,2}, \d{4}|^\d{1,2} \w+ \d{4}$"), 1.0),
    (re.compile(r"^\w+ \d{1,2}$|^\d{1,2} \w+$"), 0.9),
    (re.compile(r"^\w+ \d{4}$"), 0.7),
]


def _not_in_question(value: str, question: str) -> bool:
    v = re.sub(r"[\s,]", "", value.lower())
    return bool(v) and v not in re.sub(r"[\s,]", "", question.lower())


def _near(info: QuestionInfo, sent: str, start: int, end: int) -> float:
    """How many of the question's relation words stand close before/after a span."""
    words = set(info.relation) | set(info.head)
    if not words:
        return 0.0
    before = set(tokens(sent[max(0, start - 70) : start]))
    after = set(tokens(sent[end : end + 25]))
    return (len(words & before) + 0.5 * len(words & after - before)) / len(words)


def best_span(info: QuestionInfo, sent: str, doc_date: str) -> tuple[str, float]:
    """(answer inside the sentence, quality 0..1) for typed questions; ('', 0) if absent."""
    options = [(text, quality + 0.5 * _near(info, sent, s, e)) for text, quality, s, e in spans(info, sent, doc_date)]
    if not options:
        return (
            ("Yes" if info.kind == "yesno" else "", 0.0) if info.kind != "yesno" else (yes_or_no(info.text, sent), 1.0)
        )
    text, score = max(options, key=lambda o: o[1])
    return text, min(1.0, score)


def spans(info: QuestionInfo, sent: str, doc_date: str) -> list[tuple[str, float, int, int]]:
    """Every typed answer in a sentence: (normalised text, base quality, start, end)."""
    q, out = info.text, []
    if info.kind in ("date", "year"):
        for s, e, expr in find_dates(sent):
            if not _not_in_question(expr, q):
                continue
            text, _ = parse_date(expr, doc_date)
            if info.kind == "year":
                year = re.search(r"(19|20)\d{2}", text)
                if year:
                    out.append((year.group(0), 1.0, s, e))
                continue
            quality = next((qv for rx, qv in DATE_PRECISION if rx.search(text)), 0.6)
            out.append((text, quality, s, e))
        if doc_date:  # news: "last month", "on Wednesday", "today" mean dates relative to the article
            for m in re.finditer(r"\b(last|next|this)\s+(month|year|week)\b", sent, re.I):
                out.append((resolve_relative(m.group(0), doc_date), 0.6, m.start(), m.end()))
            for m in re.finditer(
                r"\b(today|yesterday|tomorrow|(?:on\s+)?(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday))\b",
                sent,
            ):
                out.append((resolve_relative(m.group(0), doc_date), 0.8, m.start(), m.end()))
    elif info.kind == "number":
        dates = find_dates(sent)
        often = bool(re.search(r"\bhow often\b", q, re.I))
        for m in NUMBER.finditer(sent):
            value = m.group(0).strip().rstrip(",")
            if not _not_in_question(value, q) or any(s <= m.start() < e for s, e, _ in dates):
                continue
            before = sent[max(0, m.start() - 12) : m.start()].lower()
            if re.match(r"^\(?\d+\)", sent[m.start() : m.start() + 5]) or re.search(
                r"(§|section|article|u\.s\.c\.|paragraph|subsection|annex)\s*$", before
            ):
                continue  # a label or a cross-reference, not a quantity
            if re.fullmatch(r"(?i)(one|a|zero)", value):
                continue
            quality = 0.8 if re.search(r"[a-z%]$", value, re.I) and not SPELLED_NUMBER.fullmatch(value) else 0.7
            if often and re.match(r"(?i)every|each", value):
                quality = 1.0
            if info.unit and info.unit[-1] in tokens(sent[m.end() : m.end() + 30]):
                quality = 1.0  # "how many battle tanks" -> "20,000 battle tanks"
            elif info.unit and re.search(r"[a-z]$", value) and not set(info.unit) & set(tokens(value)):
                quality = 0.5  # "40 months" does not count combat aircraft
            out.append((value, quality, m.start(), m.end()))
    elif info.kind == "person":
        # Titled names first ("Russian Foreign Minister Sergei Lavrov" would otherwise be cut at
        # four capitalised words), then other names that do not overlap them.
        titled_spans = [
            m
            for m in TITLED_NAME.finditer(sent)
            if _not_in_question(m.group(0).split()[-1], q) and not _is_title(m.group(0).split()[-1])
        ]
        for m in titled_spans:
            out.append((m.group(0), 0.8, m.start(), m.end()))
        for m in NAME.finditer(sent):
            if any(t.start() < m.end() and m.start() < t.end() for t in titled_spans):
                continue
            words = m.group(0).split()
            if (
                any(w in GENERIC_CAPS or w in NOT_PERSON or w.lower() in STOP or w.lower() in CALENDAR for w in words)
                or not _not_in_question(words[-1], q)
                or _is_title(words[-1])  # "Assistant Secretary": a title, no name
                or sent[m.end() : m.end() + 1] == "-"  # "Intermediate-Range": a compound, not a name
                # "Treaty on Open Skies", "Explosions for Peaceful Purposes": the tail of a longer name
                or re.search(r"[A-Z][\w-]*\s+(?:on|of|for|in)\s+(?:the\s+)?$", sent[: m.start()])
            ):
                continue
            # A title in front or a speech verb after marks a person; "Peaceful Purposes" has neither.
            # "..., said the Assistant Secretary of Arms Control, Rose Gottemoeller": a title in apposition.
            titled = re.match(ONE_OR_MORE_TITLES, m.group(0)) or re.search(
                r"\b(?:Secretary|Minister|President|Ambassador|Advis[eo]r|Director|Chairman)\b[^.;,]{0,40},\s*$",
                sent[: m.start()],
            )
            speaks = re.match(r",?\s+(?:said|says|told|added|wrote|spoke|announced|stated)\b", sent[m.end() :])
            out.append((m.group(0), 0.8 if titled or speaks else 0.6, m.start(), m.end()))
        if asks_several(q):
            out += _name_lists(out, sent)
    elif info.kind == "place":
        for m in PLACE.finditer(sent):
            place = re.sub(r"(\s+(?:" + "|".join(w.capitalize() for w in CALENDAR) + r")\b.*)$", "", m.group(1))
            fresh = [w for w in place.split() if w[:1].isupper() and _not_in_question(w, q)]
            if fresh and place.split()[-1] not in GENERIC_CAPS and place.split()[0].lower() not in CALENDAR:
                out.append((place, 0.8, m.start(1), m.end(1)))
    elif info.kind == "define":  # 'the term "passive quota" means ...' / 'the On-Site Inspection Agency (OSIA)'
        for m in definition_pattern(define_term(q)).finditer(sent):
            g = 1 if m.group(1) else 2
            if m.group(g)[:1].isupper() or g == 1:
                out.append((m.group(g).strip(), 1.0, m.start(g), m.end(g)))
    elif info.kind == "treaty":
        for m in TREATY.finditer(sent):
            name = m.group(0).strip()
            if len(name.split()) >= 2:
                quality = 1.0 if len(name) < 60 else 0.7  # a usable name, not a full legal title
                out.append((name, quality, m.start(), m.end()))
    return out


def _is_title(word: str) -> bool:
    return bool(re.fullmatch(ONE_OR_MORE_TITLES, word + " "))


def _name_lists(spans: list[tuple[str, float, int, int]], sent: str) -> list[tuple[str, float, int, int]]:
    """Names the sentence lists together ("Barack Obama and Dmitry Medvedev"), for questions
    that ask for several people; a list is preferred over any one of its names."""
    out: list[tuple[str, float, int, int]] = []
    ordered = sorted(spans, key=lambda x: x[2])
    start = 0
    for i in range(1, len(ordered) + 1):
        joined = i < len(ordered) and re.fullmatch(
            r"\s*(?:,\s*(?:and\s+)?|\s+and\s+)(?:the\s+)?", sent[ordered[i - 1][3] : ordered[i][2]]
        )
        if joined:
            continue
        if i - start >= 2:
            s0, e0 = ordered[start][2], ordered[i - 1][3]
            out.append((sent[s0:e0], min(1.0, max(x[1] for x in ordered[start:i]) + 0.2), s0, e0))
        start = i
    return out


WEAK = re.compile(r"(?<!\ba )\b(little|few|hardly|rarely|seldom)\b", re.I)


def _negated_near(question: str, sent: str) -> bool:
    """Is what the question asks about negated in the sentence? Looks at the few words before
    each question word the sentence repeats ("is not equipped to carry weapons"; but not the
    'not' inside a definition of the asked word); the whole sentence when it repeats none."""
    asked = set(tokens(question)) - {"treati", "parti", "state"}
    words = list(re.finditer(r"[\w’'-]+", sent))
    hits = [i for i, m in enumerate(words) if set(tokens(m.group(0))) & asked]
    if not hits:
        return bool(NEGATION.search(sent) or WEAK.search(sent))
    for i in hits:
        start, end = words[max(0, i - 7)].start(), words[i].start()
        if NEGATION.search(sent, start, end) or WEAK.search(sent, start, end):
            return True
    return False


def yes_or_no(question: str, sent: str) -> str:
    """'Yes'/'No' from the polarity of the evidence against that of the question."""
    q_neg = bool(NEGATION.search(question))
    s_neg = _negated_near(question, sent)
    # "Is it limited?" vs "of unlimited duration", "armed" vs "unarmed": a negated form of a question word.
    for word in re.findall(r"[a-z]+", question.lower()):
        if len(word) > 3 and re.search(rf"\b(un|in|non-?){word}", sent.lower()):
            s_neg = True
    return "No" if s_neg != q_neg else "Yes"
