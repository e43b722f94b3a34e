"""How the documents write names, read from the lexical index's rows and titles.

A user types "npt", "cfe" or "new start"; the documents write "NPT" (only ever in capitals), a
title whose initials spell "CFE", and "New START". These checks read the documents' own writing,
not a list of names: which words are acronyms, which acronyms abbreviate a title, and which
words typed small a title writes as a name."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import numpy as np

from vectorstore import ChunkMeta, vocabulary

from .text import ACRONYM, STOP, fold, stem, tokens

WORD_ROWS = 200  # chunks read to tell a word from an acronym: enough to meet it written small


class Names:
    """Name checks of `LexicalIndex` (its base class): they need its titles, its acronyms, BM25
    scores to find the rows that hold a word, and the rows' text. Results are cached per index
    version (`_forget_names` when the rows change)."""

    titles: dict[str, str]  # doc id -> title, live documents only
    acronyms: set[str]  # words of 3-6 capitals the documents never write otherwise

    def scores(self, query: str) -> np.ndarray:
        raise NotImplementedError

    def chunk(self, row: int) -> tuple[str, str, ChunkMeta]:
        raise NotImplementedError

    def doc_vocab(self, doc_id: str) -> set[str]:
        raise NotImplementedError

    def df(self, term: str) -> int:
        raise NotImplementedError

    def _forget_names(self) -> None:
        self._acronym_hits: dict[str, list[str]] = {}
        self._initials: dict[str, tuple[str, bool]] | None = None
        self._title_names: dict[str, str] | None = None  # 'new start' -> 'New Start', from the titles
        self._named_in_text: dict[str, bool] = {}
        self._treaty_names: dict[str, bool] = {}
        self._compounds: dict[str, str] = {}

    def restore_case(self, question: str) -> str:
        """'npt depositary govts?' -> 'NPT depositary govts?': a word the documents only ever
        write in capitals (or that abbreviates a title, 'cfe') is a name, whatever the user typed.
        A word of the language ('cafe', one piece in MiniLM's vocabulary) or of the documents
        ('café') is that word, even where its letters spell a title's initials (C-A-F-E)."""

        def fix(m: re.Match[str]) -> str:
            word = m.group(0)
            upper = word.upper()
            if not word.islower() or word in STOP:
                return word
            if upper in self.acronyms:
                return upper
            if word not in vocabulary() and self.acronym_titles(upper) and not self._written_small(word):
                return upper
            return word

        return re.sub(r"\b[A-Za-z]{3,6}\b", fix, question)

    def as_written(self, question: str) -> str:
        """The question in the documents' own writing: their compounds, then their acronyms."""
        return self.restore_case(self.restore_compounds(question))

    def restore_compounds(self, question: str) -> str:
        """'open skies infrared resolution' -> 'open skies infra-red resolution': a word the
        documents never write, typed closed for a compound they write with a hyphen, takes their
        spelling. Tokens split a hyphenated word in two, so the closed word matched nothing in
        search, grounding or support ("nonproliferation", "ceasefire", "f35" likewise)."""

        def fix(m: re.Match[str]) -> str:
            word, low = m.group(0), m.group(0).lower()
            if low not in self._compounds:  # cached per index version
                self._compounds[low] = self._hyphenated(low)
            cut = self._compounds[low].find("-")
            return word if cut < 0 else f"{word[:cut]}-{word[cut:]}"  # the letters as typed

        return re.sub(r"\b[A-Za-z][A-Za-z0-9]{2,}\b", fix, question)

    def _hyphenated(self, word: str) -> str:
        """The word split where the documents write it with a hyphen, or the word itself when
        they know it (or write no such compound)."""

        def known(text: str) -> bool:  # "on" of "on-site" is a stop word, and known
            terms = tokens(text)
            return all(self.df(t) for t in terms) and (bool(terms) or text in STOP)

        if not tokens(word) or known(word):  # a stop word has no tokens
            return word
        for i in range(1, len(word)):
            left, right = word[:i], word[i:]
            if known(left) and known(right) and tokens(f"{left} {right}"):
                written = re.compile(rf"\b{re.escape(left)}-{re.escape(right)}\b", re.I)
                if self._writes(f"{left} {right}", written):
                    return f"{left}-{right}"
        return word

    def restore_names(self, text: str) -> str:
        """'new start expiry' -> 'New Start expiry': two or three words typed small that a document
        title writes as a name, capitalised, and its text too (a headline's Title Case is no name),
        take that case. Follow-ups need it: a short question with no name of its own leans on the
        last turn, and a user who types names small named nothing."""
        names = self._names_in_titles()
        words = list(re.finditer(r"[\w'-]+", text))
        out, last, i = [], 0, 0
        while i < len(words):
            for n in (3, 2):  # the longest name first
                run = words[i : i + n]
                typed = text[run[0].start() : run[-1].end()]
                name = names.get(typed) if len(run) == n else None
                if name is not None and self._in_text(name):
                    out += [text[last : run[0].start()], name]
                    last, i = run[-1].end(), i + n
                    break
            else:
                i += 1
        return "".join(out) + text[last:]

    def _names_in_titles(self) -> dict[str, str]:
        """Runs of two or three capitalised title words, by their lower-case form (once per index version)."""
        if self._title_names is None:
            self._title_names = {}
            for title in self.titles.values():
                for run in re.findall(r"[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)+", title):
                    words = run.split()
                    for n in (2, 3):
                        for i in range(len(words) - n + 1):
                            name = " ".join(words[i : i + n])
                            self._title_names.setdefault(name.lower(), name)
        return self._title_names

    def _in_text(self, name: str) -> bool:
        """Does some passage write the name as the title does (the best BM25 matches, cached)?"""
        if name not in self._named_in_text:
            self._named_in_text[name] = self._writes(name, re.compile(rf"\b{re.escape(name)}\b"))
        return self._named_in_text[name]

    def names_treaty(self, acronym: str) -> bool:
        """Does some passage write the acronym as a treaty's name ("the INF Treaty")? Then it
        names a treaty, whether or not the documents hold that treaty's text (cached)."""
        if acronym not in self._treaty_names:
            self._treaty_names[acronym] = self._writes(acronym, re.compile(rf"\b{re.escape(acronym)}\s+Treaty\b"))
        return self._treaty_names[acronym]

    def _written_small(self, word: str) -> bool:
        """Do the documents write the word small ('café' or 'Café' for 'cafe')? Then it is that
        word, not the initials of a title ('CAFE': Conventional Armed Forces in Europe); an
        acronym is written in capitals, or mixed ('CfE')."""
        small = re.compile(rf"\b(?:{re.escape(word)}|{re.escape(word.capitalize())})\b")
        return self._writes(word, small, fold)

    def _writes(self, words: str, pattern: re.Pattern[str], prepare: Callable[[str], str] = str) -> bool:
        """Does `pattern` match in one of the first rows that hold any of `words` (up to WORD_ROWS)?"""
        rows = np.flatnonzero(self.scores(words))[:WORD_ROWS]
        return any(pattern.search(prepare(self.chunk(int(row))[1])) for row in rows)

    def acronym_titles(self, text: str) -> dict[str, list[str]]:
        """Acronyms in `text` that abbreviate a document title ('CFE' -> 'Treaty on
        Conventional Armed Forces in Europe'), when the document itself never uses them."""
        out: dict[str, list[str]] = {}
        for acro in set(ACRONYM.findall(text)):
            if acro not in self._acronym_hits:  # one pass over the titles per acronym, then cached
                if self._initials is None:  # once per index version: a regex per title
                    self._initials = {doc: _initials(title) for doc, title in self.titles.items()}
                titled = [doc for doc, title in self._initials.items() if _abbreviates(acro, title)]
                # Many titles fit (a replicated corpus): too vague to name one, and reading every
                # vocabulary would be slow.
                hits = [d for d in titled if stem(acro.lower()) not in self.doc_vocab(d)] if len(titled) <= 16 else []
                self._acronym_hits[acro] = hits if len(hits) <= 2 else []
            if self._acronym_hits[acro]:
                out[acro] = self._acronym_hits[acro]
        return out


def acronyms_of(texts: Iterable[str]) -> set[str]:
    """Words of 3-6 capitals that the texts never also write in lower case or capitalised ('NPT',
    not 'START' when 'start' occurs as a word too, nor 'EUROPE' from a list of airfields in
    capitals when 'Europe' occurs). One pass of two simple patterns: linear in the corpus."""
    upper: set[str] = set()
    lower: set[str] = set()
    for text in texts:
        upper.update(ACRONYM.findall(text))
        lower.update(w.lower() for w in re.findall(r"\b[A-Za-z][a-z]{2,5}\b", text))
    return {w for w in upper if w.lower() not in lower}


def _initials(title: str) -> tuple[str, bool]:
    """The initials of a title's capitalised words, and whether its first such word is 'Treaty'."""
    words = [w for w in re.split(r"[\s-]+", title) if w[:1].isupper()]
    return "".join(w[0] for w in words), bool(words) and words[0].lower() == "treaty"


def _abbreviates(acronym: str, title: tuple[str, bool]) -> bool:
    """Do the acronym's letters follow the initials of the title's capitalised words?
    A trailing T may stand for a leading 'Treaty' (NPT: Non-Proliferation Treaty)."""
    initials, treaty_first = title
    if acronym.endswith("T") and treaty_first:
        acronym, initials = acronym[:-1], initials[1:]
    elif treaty_first and not acronym.startswith("T"):
        initials = initials[1:]
    return len(acronym) >= 2 and _spells(acronym, initials)


def _spells(acronym: str, initials: str) -> bool:
    """The acronym's letters are initials from the first word on, each at most one word after the
    last ('CFE' in Conventional Armed Forces Europe). Looser, a long news title spells anything:
    'PRC' in "President Biden Statement Ahead of the 10th Review Conference"."""
    if not acronym:
        return True
    if not initials or initials[0] != acronym[0]:
        return False
    return any(_spells(acronym[1:], initials[skip:]) for skip in (1, 2))
