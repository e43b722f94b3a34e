"""Grounding: a generated answer is accepted only where a passage holds its facts.

Facts are the answer's content words that the question does not already contain: names,
numbers and dates included, compared after normalisation ("Feb. 2" = "February 2", "sixty
days" = "60 days", "1,500" = "1500", "U.S." = "US", "2017-03-03" = "March 3, 2017", "the
French Republic" = "France"). The sentence (or pair of adjacent sentences) that holds them all
becomes the citation's quote, with its offsets."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .dates import MONTH_ABBR, MONTHS, SPELLED_NUMBER, YEAR, find_dates, is_dateline, parse_date, words_to_number
from .text import fold, sentences, tokens
from .types import Passage

_ABBR_MONTH = re.compile(r"\b(" + "|".join(sorted(MONTH_ABBR, key=len, reverse=True)) + r")\.?(?=\s|$|,)", re.I)
_ORDINAL_SUFFIX = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.I)
_PERCENT = re.compile(r"\s*%|\s+per\s+cent\b", re.I)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_ISO_DATE = re.compile(r"\b(?:19|20)\d{2}-\d{2}-\d{2}\b")
# The words either side of "or": the choices a question offers ("nuclear or conventional").
_CHOICE = re.compile(r"([^\W_][\w'’-]*)\s+or\s+([^\W_][\w'’-]*)", re.I)
# A sentence that states the answer as a phrase outweighs one more shared question word and the
# model's own pick (0.5): "15 November 2020" over "premieres Nov. 15" + the page's year.
PHRASE_WEIGHT = 2.0
_MONTH_TOKENS = frozenset(tokens(" ".join(MONTHS)))

# Official state names -> the names people use (treaty and statement texts use the former).
STATE_NAMES = {
    "People’s Republic of China": "China",
    "People's Republic of China": "China",
    "French Republic": "France",
    "Russian Federation": "Russia",
    "United Kingdom of Great Britain and Northern Ireland": "the United Kingdom",
    "United States of America": "the United States",
    "Federal Republic of Germany": "Germany",
    "Republic of Hungary": "Hungary",
    "Union of Soviet Socialist Republics": "the Soviet Union",
    "Kingdom of the Netherlands": "the Netherlands",
    "Italian Republic": "Italy",
    "Kingdom of Spain": "Spain",
    "Hellenic Republic": "Greece",
    "Republic of Poland": "Poland",
}
_STATE = re.compile("|".join(re.escape(name) for name in sorted(STATE_NAMES, key=len, reverse=True)))


def normalise(text: str) -> str:
    """Plain forms of numbers and months, so that facts compare as words."""
    text = text.replace("’", "'").replace("–", "-")
    # "2017-03-03" = "March 3, 2017": the model copies the ISO date of a passage header.
    text = _ISO_DATE.sub(lambda m: parse_date(m.group(0))[0], text)
    text = SPELLED_NUMBER.sub(lambda m: str(words_to_number(m.group(0)) or m.group(0)), text)
    text = _ABBR_MONTH.sub(
        lambda m: MONTHS[
            MONTH_ABBR[m.group(1).lower()[:4] if m.group(1).lower() == "sept" else m.group(1).lower()[:3]] - 1
        ],
        text,
    )
    text = _ORDINAL_SUFFIX.sub(r"\1", text)
    # "30%" = "30 percent" = "30 per cent": a share is a fact of its own, not the "30" of "30 years".
    text = _PERCENT.sub(" percent", text)
    text = _STATE.sub(lambda m: STATE_NAMES[m.group(0)], text)  # "the French Republic" = "France"
    return _THOUSANDS.sub("", text)


def fact_tokens(answer: str, question: str = "") -> list[str]:
    """The answer's normalised content tokens that the question does not supply. The choices
    a question offers ("us hypersonic missiles nuclear or conventional") are left open: the one
    chosen is the answer's fact, to be found in a passage like any other."""
    offered = {t for m in _CHOICE.finditer(question) for t in tokens(normalise(f"{m.group(1)} {m.group(2)}"))}
    asked = set(tokens(normalise(question))) - offered
    return list(dict.fromkeys(t for t in tokens(normalise(answer)) if t not in asked))


@dataclass
class Grounding:
    """Where an answer's facts stand: passage index, the quote and its document offsets."""

    passage: int
    start: int
    end: int
    quote: str


def _date_tokens(p: Passage) -> set[str]:
    """A news passage's own date supplies the year of 'from February 2'."""
    if not p.date:
        return set()
    year, month = p.date[:4], int(p.date[5:7] or 0) if len(p.date) >= 7 else 0
    return set(tokens(f"{year} {MONTHS[month - 1] if month else ''}"))


def ground(answer: str, question: str, passages: list[Passage], preferred: Sequence[int] = ()) -> Grounding | None:
    """The best place of `answer` in `passages`, or None when no single sentence (or adjacent
    pair) holds all its facts. Among the places that hold them, the one whose sentence shares
    most of the question's words is cited (the model's own choice breaks ties), so a passage
    that merely repeats the answer does not take the citation from the one that supports it."""
    need = fact_tokens(answer, question)
    if not need:
        return None
    asked = set(tokens(normalise(question)))
    named = {i for i in preferred if 0 <= i < len(passages)}
    parsed = []
    for p in passages:
        # A heading, a bare paragraph label ('4.') or the page's own date line is no quote.
        sents = [
            x
            for x in sentences(p.text, p.start, headings=False)
            if len(x[2].split()) >= 3 and not is_dateline(x[2], p.date)
        ]
        parsed.append(
            (sents, [tokens(normalise(s[2])) for s in sents], _date_tokens(p) | set(tokens(normalise(p.title))))
        )
    for width in (1, 2):  # one sentence is the better quote; a pair only when the facts straddle two
        found: list[tuple[float, Grounding]] = []
        for i, (sents, toks, extra) in enumerate(parsed):
            for j in range(len(sents) - width + 1):
                words = [t for sent in toks[j : j + width] for t in sent]
                have = set(words)
                # The page's date completes the year of "from February 2", but not the month of a
                # day the sentence dates in another month ("part two launched on February 20").
                fill = extra - _MONTH_TOKENS if have & _MONTH_TOKENS else extra
                # The sentence must hold a fact itself; the title and date only complete it.
                if not any(t in have for t in need) or not all(t in have or t in fill for t in need):
                    continue
                s, e = sents[j][0], sents[j + width - 1][1]
                p = passages[i]
                rank = len(asked & (have | extra)) + 0.5 * (i in named) - 0.01 * i
                rank += PHRASE_WEIGHT * _as_phrase(need, words)
                found.append((rank, Grounding(i, s, e, p.text[s - p.start : e - p.start])))
        if found:
            return max(found, key=lambda f: f[0])[1]
    return _in_section(answer, question, passages, need, named)


def _in_section(
    answer: str, question: str, passages: list[Passage], need: Sequence[str], named: set[int]
) -> Grounding | None:
    """'Article VII' for 'npt article on regional nuclear-free zones': the answer names the
    section a passage is, which its text never repeats. It stands where the passage's section
    path (its label without the document's title) writes the answer's words in a row, a fact
    other than a bare number among them (a news passage's path is a paragraph range, '¶ 5–9');
    the quote is that passage's sentence sharing most of the question's words."""
    said = tokens(normalise(answer))
    if all(t.isdigit() for t in need):
        return None
    labels = [tokens(normalise(p.section.removeprefix(p.title))) for p in passages]  # the title is no section
    return _written_in(said, labels, question, passages, named)


def in_title(answer: str, question: str, passages: list[Passage], preferred: Sequence[int] = ()) -> Grounding | None:
    """'Jake Sullivan' for 'who gave the aca speech in 2023': a fact only the document's title
    states (the speaker, the office), which the reader is shown in each passage's header. It
    stands where a title writes all the answer's words in a row and the answer shares none with
    the question: a name the question gives, completed ("who introduced sullivan" -> "Jake
    Sullivan"), is the document's subject, not an answer. The quote is the passage's sentence
    sharing most of the question's words."""
    said = tokens(normalise(answer))
    if not said or set(said) & set(tokens(normalise(question))) or all(t.isdigit() for t in said):
        return None
    titles = [tokens(normalise(p.title)) for p in passages]
    return _written_in(said, titles, question, passages, set(preferred))


def _written_in(
    said: Sequence[str], labels: Sequence[Sequence[str]], question: str, passages: list[Passage], named: set[int]
) -> Grounding | None:
    """The passage whose label (section path or title) writes the answer's words in a row, the
    model's own citation first, quoted by its sentence sharing most of the question's words."""
    places = [i for i, label in enumerate(labels) if any(label[k : k + len(said)] == said for k in range(len(label)))]
    if not places:
        return None
    i = min(places, key=lambda i: (i not in named, i))
    return best_sentence(question, passages[i], i)


def _as_phrase(need: Sequence[str], words: Sequence[str]) -> bool:
    """Do all the facts stand together, in any order ('15 November 2020' for 'Nov 15, 2020'),
    with at most two other content words among them? Then the sentence states the answer;
    facts spread over a sentence, or completed by the page's date ('premieres Nov. 15'),
    support it less."""
    at = [k for k, w in enumerate(words) if w in need]
    reach = len(need) + 1  # positions from the first fact to the last
    return any(set(need) <= {words[k] for k in at if 0 <= k - start <= reach} for start in at)


def closest(answer: str, question: str, passages: list[Passage], preferred: Sequence[int] = ()) -> Grounding | None:
    """The single sentence holding most of the answer's facts (some, not all): where a
    paraphrased answer ('the UK' for 'the United Kingdom ...') was most likely read."""
    need = set(fact_tokens(answer, question))
    best: tuple[float, Grounding] | None = None
    for i, p in enumerate(passages):
        for s, e, text in sentences(p.text, p.start, headings=False):
            have = len(need & set(tokens(normalise(text))))
            rank = have + 0.5 * (i in preferred)
            if have and (best is None or rank > best[0]):
                best = (rank, Grounding(i, s, e, text))
    return best[1] if best else None


def complete_date(answer: str, quote: str, doc_date: str = "") -> str:
    """A date answer as precise as its own evidence: '2017' read in 'December 1, 2017' is
    December 1, 2017, '2015' in 'in December 2015' is December 2015; 'February 2' in an
    article of 2019-01-16 is February 2, 2019."""
    found = find_dates(answer)
    if len(found) != 1:
        return answer
    start, end, expr = found[0]
    text, date = parse_date(expr, doc_date)
    if date is not None:  # a full date: only a missing year is added
        return answer if re.search(r"\d{4}", expr) else answer[:start] + text + answer[end:]
    year, month = re.search(r"\b\d{4}\b", expr), _month_of(expr)
    if year is None:
        return answer
    better: list[tuple[int, str]] = []  # (precision, text)
    for _, _, other in find_dates(quote):
        text2, date2 = parse_date(other, doc_date)
        if not _same_year(year.group(0), other, date2) or (
            month and (date2.month if date2 else _month_of(other)) != month
        ):
            continue
        if date2 is not None:
            better.append((2, text2))
        elif _month_of(other) and not month:
            better.append((1, " ".join(other.split())))
    return answer[:start] + max(better)[1] + answer[end:] if better else answer


def sharpen_year(answer: str, question: str, passages: list[Passage], where: Grounding) -> tuple[str, Grounding] | None:
    """A bare-year answer made as precise as the passages give it: '2020' read in 'In early
    2020, Nintendo released X' is May 29, 2020 where a passage that shares as many of the
    question's words dates the same year to the day (or the month: 'December 2015'). That
    sentence becomes the quote. Relevance is the passage's, not the date's own sentence: a
    search snippet states its subject and its date in separate fragments ('Xenoblade Chronicles
    2 ... Release date. December 1, 2017'); within the quote's own passage a date must be in a
    sentence as close to the question as the quote, as another date there is another event."""
    found = find_dates(answer)
    if len(found) != 1 or not re.fullmatch(r"\d{4}", found[0][2].strip()):
        return None
    year = found[0][2].strip()
    asked = set(tokens(normalise(question)))

    def overlap(text: str) -> int:
        return len(asked & set(tokens(normalise(text))))

    floor = overlap(passages[where.passage].text)
    own_floor = overlap(where.quote)
    best: tuple[tuple[int, int], str, Grounding] | None = None
    for i, p in enumerate(passages):
        near = overlap(p.text)
        if near < floor:
            continue
        for s, e, text in sentences(p.text, p.start, headings=False):
            key = (near, overlap(text))
            if (i == where.passage and key[1] < own_floor) or (best is not None and key <= best[0]):
                continue
            for _, _, expr in find_dates(text):
                full, date = parse_date(expr, p.date)  # no date: a month and year, 'December 2015'
                if _same_year(year, expr, date) and expr.strip() != year:
                    best = (key, full, Grounding(i, s, e, text))
                    break
    if best is None:
        return None
    start, end, _ = found[0]
    return answer[:start] + best[1] + answer[end:], best[2]


def dated(
    answer: str, question: str, passages: list[Passage], preferred: Sequence[int] = ()
) -> tuple[str, Grounding] | None:
    """An answer that is a passage's own date ('2022-01-03', read in its header): the date in
    words, cited with the passage's sentence closest to the question."""
    found = find_dates(answer)
    if len(found) != 1 or len(found[0][2]) < len(answer.strip()) - 2:
        return None
    text, date = parse_date(found[0][2])
    if date is None:
        return None
    for i in [*preferred, *range(len(passages))]:
        if 0 <= i < len(passages) and passages[i].date == date.isoformat():
            return text, best_sentence(question, passages[i], i)
    return None


def as_written(answer: str, quote: str) -> str:
    """The answer in the quote's own letters when it stands there whole ('VANDenberg' ->
    'Vandenberg'): a small model sometimes garbles case, and the document's form is the cited one."""
    if _ISO_DATE.fullmatch(answer.strip()):  # a header's "2017-03-03" as people write it
        answer = parse_date(answer.strip())[0]
    m = re.search(rf"(?<!\w){re.escape(answer)}(?!\w)", quote, re.I)
    if m is None and len(plain := fold(quote)) == len(quote):  # "Pogacar" is shown as written: "Pogačar"
        m = re.search(rf"(?<!\w){re.escape(fold(answer))}(?!\w)", plain, re.I)
    return quote[m.start() : m.end()] if m else answer


def _same_year(year: str, expr: str, date: dt.date | None) -> bool:
    """Does a date expression name this year? Its parsed year when it parses, which reads a year
    in words as treaties date themselves ('the nineteenth day of November one thousand nine
    hundred and ninety'); else its digits ('December 2015')."""
    return str(date.year) == year if date is not None else year in expr


def _month_of(expr: str) -> int:
    word = re.search(r"[A-Za-z]{3,}", expr)
    return MONTH_ABBR.get(word.group(0).lower()[:3], 0) if word else 0


def best_sentence(question: str, passage: Passage, index: int) -> Grounding:
    """The passage sentence that shares most of the question's words (the quote of a yes/no)."""
    sents = sentences(passage.text, passage.start, headings=False) or [(passage.start, passage.end, passage.text)]
    return _most_shared(question, sents, index)


def dated_sentence(question: str, passage: Passage, index: int) -> Grounding | None:
    """The passage sentence that names a date and shares most of the question's words: where a
    date question is answered, when the model answered the passage's own date instead."""
    own = passage.date
    sents = [x for x in sentences(passage.text, passage.start, headings=False) if _names_event_date(x[2], own)]
    return _most_shared(question, sents, index) if sents else None


def _most_shared(question: str, sents: list[tuple[int, int, str]], index: int) -> Grounding:
    q = set(tokens(normalise(question)))
    s, e, text = max(sents, key=lambda x: len(q & set(tokens(normalise(x[2])))))
    return Grounding(index, s, e, text)


def _names_event_date(text: str, own: str) -> bool:
    """A date in the sentence other than the passage's own."""
    for *_, expr in find_dates(text):
        date = parse_date(expr, own)[1]
        if date is None or date.isoformat() != own:
            return True
    return False


def other_year(years: Sequence[int], quote: str, date: str = "") -> bool:
    """The question asks about a year and the quote speaks of other years only: 'revenue in
    Q1 2021?' is not answered by '…Q1 2023 … revenue of $23.3 billion'. A document dated in the
    asked year speaks of that year whatever it names: 'New START's expiry, per Biden's 2022
    statement?' is answered by that statement's 'when it expires in 2026'."""
    said = {int(y) for y in YEAR.findall(quote)}  # the same years the question is read for
    in_year = date[:4].isdigit() and int(date[:4]) in years
    return bool(years) and bool(said) and not said & set(years) and not in_year
