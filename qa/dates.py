"""Dates and numbers as people write them, made explicit.

News says "Wednesday", "last month", "from February 2"; treaties say "the nineteenth day
of November one thousand nine hundred and ninety". Both are turned into plain dates
resolved against the document's own date where needed.
"""

from __future__ import annotations

import datetime as dt
import re

# A year a question or a passage names (the corpus spans the Cold War to now).
YEAR = re.compile(r"\b(19[4-9]\d|20[0-4]\d)\b")

MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
MONTH_ABBR = {m[:3]: i + 1 for i, m in enumerate(MONTHS)} | {"sept": 9}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}
NUMBER_WORD = (
    r"(?:" + "|".join(sorted([*UNITS, *TENS, "hundred", "thousand", "million"], key=len, reverse=True)) + r")\b"
)
SPELLED_NUMBER = re.compile(rf"\b{NUMBER_WORD}(?:[\s-]+(?:and\s+)?{NUMBER_WORD})*\b", re.I)
MONTH_RE = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
DATE_PATTERNS = [
    re.compile(rf"\b{MONTH_RE}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:\s*,\s*|\s+)(?:19|20)\d{{2}}\b"),  # June 1, 1988
    re.compile(rf"\b\d{{1,2}}\s+{MONTH_RE}\s+(?:19|20)\d{{2}}\b"),  # 19 November 1990
    re.compile(r"\b(?:19|20)\d{2}-\d{2}-\d{2}\b"),
    re.compile(rf"\b{MONTH_RE}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?!\s*,?\s*\d)"),  # February 2
    re.compile(rf"\b\d{{1,2}}\s+{MONTH_RE}\b(?!\s+\d)"),  # 2 February
    re.compile(rf"\b{MONTH_RE}\s+(?:19|20)\d{{2}}\b"),  # June 2021
    re.compile(
        r"\b(?:the\s+)?(?:"
        + "|".join(ORDINALS)
        + r")(?:[\s-]+(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth))?\s+day\s+of\s+\w+,?\s+(?:in\s+the\s+year\s+)?"
        + NUMBER_WORD
        + r"(?:[\s-]+(?:and\s+)?"
        + NUMBER_WORD
        + r")*",
        re.I,
    ),
    re.compile(r"\b(?:19|20)\d{2}\b"),
]


def words_to_number(text: str) -> int | None:
    """'one thousand nine hundred and sixty-eight' -> 1968; 'forty' -> 40; None if not a number."""
    total, current, seen = 0, 0, False
    for word in re.split(r"[\s-]+", text.lower().replace(",", " ")):
        if word in ("and", ""):
            continue
        if word in UNITS:
            current += UNITS[word]
        elif word in TENS:
            current += TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in ("thousand", "million"):
            total += max(current, 1) * (1000 if word == "thousand" else 1_000_000)
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


def _month(name: str) -> int:
    return MONTH_ABBR[name.lower().rstrip(".")[:4] if name.lower().startswith("sept") else name.lower()[:3]]


def parse_date(expr: str, reference: str = "") -> tuple[str, dt.date | None]:
    """Normalise a date expression: (readable text, date if fully known).

    A month and day without a year take the year that puts them nearest to `reference`
    (the document's date, YYYY-MM-DD).
    """
    e = " ".join(expr.split())
    ref = _iso(reference)
    spelled = re.match(r"(?:the\s+)?(\w+(?:[\s-]+\w+)?)\s+day\s+of\s+(\w+),?\s+(?:in\s+the\s+year\s+)?(.+)", e, re.I)
    if spelled:
        day_words = spelled.group(1).lower().split()
        day = sum(ORDINALS.get(w, TENS.get(w, 0)) for w in re.split(r"[\s-]+", " ".join(day_words)))
        year = words_to_number(spelled.group(3))
        if day and year and spelled.group(2).lower() in MONTHS:
            month = MONTHS.index(spelled.group(2).lower()) + 1
            return f"{day} {MONTHS[month - 1].capitalize()} {year}", _safe_date(year, month, day)
        return e, None
    if m := re.fullmatch(r"((?:19|20)\d{2})-(\d{2})-(\d{2})", e):
        d = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return (_fmt(d) if d else e), d
    if m := re.fullmatch(r"([A-Za-z]+\.?)\s+(\d{1,2})(?:st|nd|rd|th)?(?:\s*,\s*|\s+)(\d{4})", e):
        d = _safe_date(int(m.group(3)), _month(m.group(1)), int(m.group(2)))
        return (_fmt(d) if d else e), d
    if m := re.fullmatch(r"(\d{1,2})\s+([A-Za-z]+\.?)\s+(\d{4})", e):
        d = _safe_date(int(m.group(3)), _month(m.group(2)), int(m.group(1)))
        return (_fmt(d) if d else e), d
    md = re.fullmatch(r"([A-Za-z]+\.?)\s+(\d{1,2})(?:st|nd|rd|th)?", e) or re.fullmatch(
        r"(\d{1,2})\s+([A-Za-z]+\.?)", e
    )
    if md:
        month_name, day_s = (md.group(1), md.group(2)) if md.group(1)[0].isalpha() else (md.group(2), md.group(1))
        month, day = _month(month_name), int(day_s)
        if ref is None:
            return f"{MONTHS[month - 1].capitalize()} {day}", None
        options = [d for y in (ref.year - 1, ref.year, ref.year + 1) if (d := _safe_date(y, month, day))]
        best = min(options, key=lambda d: abs((d - ref).days))
        return _fmt(best), best
    return e, None


def is_dateline(sentence: str, date: str) -> bool:
    """Is the sentence only the document's own date ('Oct 20, 2021 ...' heading a search
    snippet)? The passage header gives that date; as a sentence it states no event."""
    try:
        _, d = parse_date(sentence.strip(" .…"))
    except KeyError:  # a word that is no month: 'Mayor 3, 2019'
        return False
    return d is not None and d.isoformat() == date


def resolve_relative(expr: str, reference: str) -> str:
    """'Wednesday' / 'last month' in an article dated `reference` -> an explicit date."""
    ref = _iso(reference)
    if ref is None:
        return expr
    low = expr.lower().replace("on ", "").strip()
    if low in ("today", "yesterday", "tomorrow"):
        return _fmt(ref + dt.timedelta(days={"today": 0, "yesterday": -1, "tomorrow": 1}[low]))
    if low in WEEKDAYS:
        # News reports the recent past: the latest such weekday on or before the article date.
        delta = (ref.weekday() - WEEKDAYS.index(low)) % 7
        return _fmt(ref - dt.timedelta(days=delta))
    if m := re.fullmatch(r"(last|next|this)\s+(month|year|week)", low):
        step = {"last": -1, "next": 1, "this": 0}[m.group(1)]
        if m.group(2) == "year":
            return str(ref.year + step)
        if m.group(2) == "month":
            month0 = ref.month - 1 + step
            return f"{MONTHS[month0 % 12].capitalize()} {ref.year + month0 // 12}"
        return f"the week of {_fmt(ref + dt.timedelta(weeks=step))}"
    return expr


def find_dates(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping date expressions in text, in order: (start, end, expression)."""
    found: list[tuple[int, int, str]] = []
    for pattern in DATE_PATTERNS:
        for m in pattern.finditer(text):
            if any(s < m.end() and m.start() < e for s, e, _ in found):
                continue
            if pattern is DATE_PATTERNS[-1] and re.match(
                r"\s*(?:percent|%|kilomet|km|warheads|troops|miles)", text[m.end() : m.end() + 10]
            ):
                continue  # a quantity, not a year
            found.append((m.start(), m.end(), m.group(0)))
    return sorted(found)


def normalise_numbers(text: str) -> str:
    """'forty other States' -> 'forty (40) other States'; digits are left alone."""

    def sub(m: re.Match[str]) -> str:
        value = words_to_number(m.group(0))
        return f"{m.group(0)} ({value:,})" if value is not None and value > 10 else m.group(0)

    return SPELLED_NUMBER.sub(sub, text)


def _iso(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _safe_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _fmt(d: dt.date) -> str:
    return f"{MONTHS[d.month - 1].capitalize()} {d.day}, {d.year}"
