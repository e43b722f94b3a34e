"""The lexical side of retrieval: a BM25 index over the store's chunks, with term weights,
document vocabularies and the corpus's acronyms, persisted next to the store."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ingest.lock import ingest_lock
from vectorstore import ChunkMeta, ChunkStore

from .text import STOP, stem, tokens

log = logging.getLogger(__name__)
FORMAT = 1  # bump when the saved state changes shape


def _bm25s() -> Any:
    import bm25s

    # bm25s sets its logger to DEBUG on import; its "building index" lines are noise here.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def load_or_build(store: ChunkStore, lock_timeout: float = 600.0) -> LexicalIndex:
    """The index of the store as it is now: loaded when the saved one matches the store's
    version, else built from the store's chunks and saved. Building happens under a lock on
    the index folder, so replicas starting together build it once and the others load it."""
    folder = store.config.lexical_path
    started = time.perf_counter()
    version = store.version()
    index = LexicalIndex.load(folder, version)
    if index is None:
        try:
            with ingest_lock(folder, lock_timeout):
                index = LexicalIndex.load(folder, version)  # another process may have just built it
                if index is None:
                    rows = list(store.all_chunks())
                    index = LexicalIndex([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
                    index.save(folder, version)
                    log.info("BM25 over %d chunks built and saved in %.2fs", len(rows), time.perf_counter() - started)
                    return index
        except OSError as exc:  # read-only or full disk: serve anyway, rebuilding at each start
            log.warning("cannot save the lexical index in %s (%s); it is rebuilt at each start", folder, exc)
            rows = list(store.all_chunks())
            return LexicalIndex([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    log.info("BM25 over %d chunks loaded in %.2fs", len(index.ids), time.perf_counter() - started)
    return index


class LexicalIndex:
    """BM25 (bm25s) over the store's chunks, plus document frequencies for term weights.

    Saved next to the store with the store's version (`load_or_build`): a start loads it,
    memory-mapped, instead of normalising every chunk's words again (about 2 s per 10k
    chunks here); a store changed behind its back has another version, so the index is rebuilt."""

    def __init__(self, ids: list[str], texts: list[str], metas: list[ChunkMeta]) -> None:
        bm25s = _bm25s()

        corpus_tokens = [tokens(f"{m.section} {t}") for m, t in zip(metas, texts, strict=True)]
        df: dict[str, int] = {}
        for toks in corpus_tokens:
            for tok in set(toks):
                df[tok] = df.get(tok, 0) + 1
        vocab = {tok: i for i, tok in enumerate(df)}
        bm25 = bm25s.BM25()
        if ids:
            bm25.index(
                bm25s.tokenization.Tokenized(ids=[[vocab[t] for t in toks] for toks in corpus_tokens], vocab=vocab),
                show_progress=False,
            )
        # Whole-document vocabularies: a chunk often lacks the names its document is about.
        doc_tokens: dict[str, set[str]] = {}
        for meta, toks in zip(metas, corpus_tokens, strict=True):
            doc_tokens.setdefault(meta.doc_id, set()).update(toks)
        self._finish(ids, texts, metas, df, doc_tokens, _acronyms(texts), bm25)

    def _finish(
        self,
        ids: list[str],
        texts: list[str],
        metas: list[ChunkMeta],
        df: dict[str, int],
        doc_tokens: dict[str, set[str]],
        acronyms: set[str],
        bm25: Any,
    ) -> None:
        self.ids, self.texts, self.metas = ids, texts, metas
        self.row = {cid: i for i, cid in enumerate(ids)}
        self.df, self.doc_tokens, self.acronyms, self._bm25 = df, doc_tokens, acronyms, bm25
        self._vocab = {tok: i for i, tok in enumerate(df)}
        self.n = max(1, len(ids))
        self.years = np.array([m.date_num // 10000 for m in metas], dtype=np.int32)
        self.titles = {m.doc_id: m.title for m in metas}

    # --- persistence ------------------------------------------------------------------
    def save(self, folder: Path, version: str) -> None:
        """Write the index as `folder/<version>/` and point `folder/CURRENT` at it. Each writer
        fills a private temporary folder first and the pointer is replaced atomically, so a
        reader (another replica on shared storage) never sees half an index."""
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".writing-", dir=folder))
        try:
            if self.ids:
                self._bm25.save(str(tmp / "bm25"), show_progress=False)
            state = {
                "format": FORMAT,
                "version": version,
                "ids": self.ids,
                "texts": self.texts,
                "metas": [m.model_dump() for m in self.metas],
                "df": self.df,
                "doc_tokens": {d: sorted(t) for d, t in self.doc_tokens.items()},
                "acronyms": sorted(self.acronyms),
            }
            (tmp / "state.json").write_text(json.dumps(state), encoding="utf-8")
            final = folder / version
            if final.exists():  # another process saved this version first
                shutil.rmtree(tmp)
            else:
                tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        pointer = folder / f".CURRENT-{os.getpid()}"
        pointer.write_text(version, encoding="utf-8")
        os.replace(pointer, folder / "CURRENT")
        for old in folder.iterdir():  # earlier versions (a replica still reading one keeps its open files)
            if old.is_dir() and old.name != version and not old.name.startswith(".writing-"):
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, version: str) -> LexicalIndex | None:
        """The saved index if it was built from this version of the store, else None."""
        bm25s = _bm25s()
        pointer = folder / "CURRENT"
        if not pointer.exists():
            return None  # never saved here
        try:
            if pointer.read_text(encoding="utf-8").strip() != version:
                log.info("the saved lexical index in %s is of another store version; rebuilding it", folder)
                return None
            state = json.loads((folder / version / "state.json").read_text(encoding="utf-8"))
            if state.get("format") != FORMAT or state.get("version") != version:
                return None
            bm25 = (
                bm25s.BM25.load(str(folder / version / "bm25"), mmap=True, show_progress=False)
                if state["ids"]
                else bm25s.BM25()
            )
            index = cls.__new__(cls)
            index._finish(
                state["ids"],
                state["texts"],
                [ChunkMeta.model_validate(m) for m in state["metas"]],
                state["df"],
                {d: set(t) for d, t in state["doc_tokens"].items()},
                set(state["acronyms"]),
                bm25,
            )
            return index
        except (OSError, ValueError, KeyError) as exc:  # missing, half-copied or from another release
            log.warning("the saved lexical index in %s is unusable (%s); rebuilding it", folder, type(exc).__name__)
            return None

    def restore_case(self, question: str) -> str:
        """'npt depositary govts?' -> 'NPT depositary govts?': a word the documents only ever
        write in capitals (or that abbreviates a title, 'cfe') is a name, whatever the user typed."""

        def fix(m: re.Match[str]) -> str:
            word = m.group(0)
            upper = word.upper()
            if word.islower() and word not in STOP and (upper in self.acronyms or self.acronym_titles(upper)):
                return upper
            return word

        return re.sub(r"\b[A-Za-z]{3,6}\b", fix, question)

    def acronym_titles(self, text: str) -> dict[str, list[str]]:
        """Acronyms in `text` that abbreviate a document title ('CFE' -> 'Treaty on
        Conventional Armed Forces in Europe'), when the document itself never uses them."""
        out: dict[str, list[str]] = {}
        for acro in set(re.findall(r"\b[A-Z]{3,6}\b", text)):
            hits = [
                doc
                for doc, title in self.titles.items()
                if _abbreviates(acro, title) and stem(acro.lower()) not in self.doc_tokens[doc]
            ]
            if 0 < len(hits) <= 2:
                out[acro] = hits
        return out

    def expand(self, query: str) -> str:
        """The query with the titles its acronyms stand for appended."""
        extra = [self.titles[d] for docs in self.acronym_titles(query).values() for d in docs]
        return f"{query} {' '.join(extra)}" if extra else query

    def idf(self, term: str) -> float:
        return math.log(1 + (self.n - self.df.get(term, 0) + 0.5) / (self.df.get(term, 0) + 0.5))

    def scores(self, query: str) -> np.ndarray:
        q = [t for t in tokens(query) if t in self._vocab]
        if not q or not self.ids:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores(q), dtype=np.float32)


def _acronyms(texts: list[str]) -> set[str]:
    """Words of 3-6 capitals that the texts never also write in lower case ('NPT', not 'START'
    when 'start' occurs as a word too). One pass of two simple patterns: linear in the corpus."""
    upper: set[str] = set()
    lower: set[str] = set()
    for text in texts:
        upper.update(re.findall(r"\b[A-Z]{3,6}\b", text))
        lower.update(re.findall(r"\b[a-z]{3,6}\b", text))
    return {w for w in upper if w.lower() not in lower}


def _abbreviates(acronym: str, title: str) -> bool:
    """Do the acronym's letters follow the initials of the title's capitalised words?
    A trailing T may stand for a leading 'Treaty' (NPT: Non-Proliferation Treaty)."""
    words = [w for w in re.split(r"[\s-]+", title) if w[:1].isupper()]
    if acronym.endswith("T") and words and words[0].lower() == "treaty":
        acronym, words = acronym[:-1], words[1:]
    elif words and words[0].lower() == "treaty" and not acronym.startswith("T"):
        words = words[1:]
    initials = "".join(w[0] for w in words)
    it = iter(initials)
    return len(acronym) >= 2 and all(ch in it for ch in acronym) and initials[:1] == acronym[:1]
