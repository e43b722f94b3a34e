"""The lexical side of retrieval: a BM25 index over the store's chunks, with term weights,
document vocabularies and the corpus's acronyms, persisted next to the store.

On disk (`lexical/<collection>/` of the data dir, or RAGQA_LEXICAL_DIR): a base index (bm25s,
memory-mapped) built from every chunk, plus a small delta of the documents added, changed or
removed since; `CURRENT` names both and the store version they describe. An ingest of a few
documents writes a new delta instead of rebuilding the base."""

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
FORMAT = 2  # bump when the saved state changes shape
DELTA_SHARE = 0.2  # a delta larger than this share of the base is merged by rebuilding the base
K1, B = 1.5, 0.75  # bm25s's defaults, so delta rows score like base rows

Rows = list[tuple[str, str, ChunkMeta]]


def _bm25s() -> Any:
    import bm25s

    # bm25s sets its logger to DEBUG on import; its "building index" lines are noise here.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def load_or_build(store: ChunkStore, lock_timeout: float = 600.0) -> LexicalIndex:
    """The index of the store as it is now: loaded when the saved one matches the store's
    version, else brought up to date first (`update_saved`). Writing happens under a lock on
    the index folder, so replicas starting together update it once and the others load it."""
    folder = store.config.lexical_path
    started = time.perf_counter()
    docs = store.document_hashes()
    version = store.version(docs)
    index = LexicalIndex.load(folder, version)
    if index is None:
        try:
            with ingest_lock(folder, lock_timeout):
                index = LexicalIndex.load(folder, version)  # another process may have just updated it
                if index is None:
                    _update(store, folder, version, docs)
                    index = LexicalIndex.load(folder, version)
        except OSError as exc:  # read-only or full disk: serve anyway, rebuilding at each start
            log.warning("cannot save the lexical index in %s (%s); it is rebuilt at each start", folder, exc)
        if index is None:
            return LexicalIndex.build(list(store.all_chunks()))
    log.info("BM25 over %d chunks loaded in %.2fs", len(index.ids), time.perf_counter() - started)
    return index


def update_saved(store: ChunkStore, lock_timeout: float = 600.0) -> None:
    """Bring the saved index up to the store's version without loading it (after an ingest):
    a delta of the changed documents next to the base, or a new base if many changed."""
    folder = store.config.lexical_path
    started = time.perf_counter()
    docs = store.document_hashes()
    version = store.version(docs)
    with ingest_lock(folder, lock_timeout):
        current = _pointer(folder)
        if current is None or current.get("version") != version:
            _update(store, folder, version, docs)
            log.info("lexical index updated in %.2fs", time.perf_counter() - started)


def _update(store: ChunkStore, folder: Path, version: str, docs: dict[str, str]) -> None:
    """Write the delta (few documents changed since the base) or a new base. Reads only the
    base's small summary, so a one-document ingest into a large store stays short."""
    current = _pointer(folder)
    summary = _base_summary(folder, current["base"]) if current else None
    if summary is not None:
        covered, rows_in_base = summary
        changed = sorted(d for d, h in docs.items() if covered.get(d) != h)
        gone = sorted(d for d, h in covered.items() if docs.get(d) != h)
        rows = store.chunks_of(changed)
        if len(rows) <= DELTA_SHARE * rows_in_base:
            LexicalIndex.save_delta(folder, version, rows, gone)
            return
    LexicalIndex.build(list(store.all_chunks()), docs).save_base(folder, version)


def _base_summary(folder: Path, base: str) -> tuple[dict[str, str], int] | None:
    try:
        summary = json.loads((folder / base / "summary.json").read_text(encoding="utf-8"))
        return dict(summary["covered"]), int(summary["rows"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _pointer(folder: Path) -> dict[str, Any] | None:
    try:
        current = json.loads((folder / "CURRENT").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None  # never saved here
    except (OSError, ValueError):
        return None  # damaged, or written by an older release: rebuilt
    return current if isinstance(current, dict) and current.get("format") == FORMAT else None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class LexicalIndex:
    """BM25 over the store's chunks (a bm25s base plus delta rows scored the same way),
    document frequencies for term weights, document vocabularies, titles and acronyms."""

    @classmethod
    def build(cls, rows: Rows, covered: dict[str, str] | None = None) -> LexicalIndex:
        """A new base over `rows`; `covered` is the {doc_id: content_hash} it was built from."""
        bm25s = _bm25s()
        ids, texts, metas = [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
        corpus_tokens = [tokens(f"{m.section} {t}") for m, t in zip(metas, texts, strict=True)]
        df: dict[str, int] = {}
        for toks in corpus_tokens:
            for tok in set(toks):
                df[tok] = df.get(tok, 0) + 1
        vocab = {tok: i for i, tok in enumerate(df)}
        bm25 = bm25s.BM25(k1=K1, b=B)
        if ids:
            bm25.index(
                bm25s.tokenization.Tokenized(ids=[[vocab[t] for t in toks] for toks in corpus_tokens], vocab=vocab),
                show_progress=False,
            )
        # Whole-document vocabularies: a chunk often lacks the names its document is about.
        doc_tokens: dict[str, set[str]] = {}
        for meta, toks in zip(metas, corpus_tokens, strict=True):
            doc_tokens.setdefault(meta.doc_id, set()).update(toks)
        avgdl = sum(map(len, corpus_tokens)) / max(1, len(corpus_tokens))
        return cls(ids, texts, metas, df, doc_tokens, _acronyms(texts), bm25, avgdl, covered or {})

    def __init__(
        self,
        ids: list[str],
        texts: list[str],
        metas: list[ChunkMeta],
        df: dict[str, int],
        doc_tokens: dict[str, set[str]],
        acronyms: set[str],
        bm25: Any,
        avgdl: float,
        covered: dict[str, str],
    ) -> None:
        self.ids, self.texts, self.metas = ids, texts, metas
        self.df, self.doc_tokens, self.acronyms, self._bm25 = df, doc_tokens, acronyms, bm25
        self.avgdl, self.covered = avgdl, covered
        self.base_rows = len(ids)
        self.live = np.ones(len(ids), dtype=bool)
        self._delta_tf: list[dict[str, int]] = []  # term counts of the delta rows, in row order
        self._index_rows()

    def _index_rows(self) -> None:
        self.row = {cid: i for i, cid in enumerate(self.ids) if self.live[i]}
        self.n = max(1, int(self.live.sum()))
        self.years = np.array([m.date_num // 10000 for m in self.metas], dtype=np.int32)
        self.titles = {m.doc_id: m.title for m, ok in zip(self.metas, self.live, strict=True) if ok}

    def apply_delta(self, rows: Rows, gone: list[str]) -> None:
        """Hide the rows of documents removed or changed since the base, append the chunks of
        the new and changed ones (their term frequencies join the document frequencies)."""
        dead = set(gone)
        self.live = np.array([m.doc_id not in dead for m in self.metas], dtype=bool)
        for doc in dead:
            self.doc_tokens.pop(doc, None)
        for cid, text, meta in rows:
            toks = tokens(f"{meta.section} {text}")
            tf: dict[str, int] = {}
            for tok in toks:
                tf[tok] = tf.get(tok, 0) + 1
            for tok in tf:
                self.df[tok] = self.df.get(tok, 0) + 1
            self._delta_tf.append(tf)
            self.doc_tokens.setdefault(meta.doc_id, set()).update(tf)
            self.ids.append(cid)
            self.texts.append(text)
            self.metas.append(meta)
        self.live = np.concatenate([self.live, np.ones(len(rows), dtype=bool)])
        self.acronyms |= _acronyms([r[1] for r in rows])
        self._index_rows()

    # --- persistence ------------------------------------------------------------------
    def save_base(self, folder: Path, version: str) -> None:
        """Write the base as `folder/base-<version>/` and point `CURRENT` at it (no delta).
        Each writer fills a private temporary folder first and the pointer is replaced
        atomically, so a reader (another replica on shared storage) never sees half an index."""
        folder.mkdir(parents=True, exist_ok=True)
        name = f"base-{version}"
        tmp = Path(tempfile.mkdtemp(prefix=".writing-", dir=folder))
        try:
            if self.ids:
                self._bm25.save(str(tmp / "bm25"), show_progress=False)
            state = {
                "format": FORMAT,
                "ids": self.ids,
                "texts": self.texts,
                "metas": [m.model_dump() for m in self.metas],
                "df": self.df,
                "doc_tokens": {d: sorted(t) for d, t in self.doc_tokens.items()},
                "acronyms": sorted(self.acronyms),
                "avgdl": self.avgdl,
                "covered": self.covered,
            }
            (tmp / "state.json").write_text(json.dumps(state), encoding="utf-8")
            summary = {"covered": self.covered, "rows": len(self.ids)}
            (tmp / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
            if (folder / name).exists():  # another process saved this version first
                shutil.rmtree(tmp)
            else:
                tmp.rename(folder / name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._point(folder, {"format": FORMAT, "version": version, "base": name, "delta": None})

    @classmethod
    def save_delta(cls, folder: Path, version: str, rows: Rows, gone: list[str]) -> None:
        """Write the rows added since the base (and the documents it no longer holds) beside it."""
        current = _pointer(folder)
        assert current is not None
        name = f"delta-{version}.json"
        delta = {"rows": [[cid, text, meta.model_dump()] for cid, text, meta in rows], "gone": gone}
        _write_atomic(folder / name, json.dumps(delta))
        cls._point(folder, {**current, "version": version, "delta": name})

    @staticmethod
    def _point(folder: Path, current: dict[str, Any]) -> None:
        _write_atomic(folder / "CURRENT", json.dumps(current))
        keep = {current["base"], current.get("delta")}
        for old in folder.iterdir():  # earlier versions (a replica still reading one keeps its open files)
            if old.name not in keep and old.name.startswith(("base-", "delta-")):
                shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path, version: str) -> LexicalIndex | None:
        """The saved index (base and delta) if it describes this version of the store, else None."""
        current = _pointer(folder)
        if current is None:
            return None
        if current.get("version") != version:
            log.info("the saved lexical index in %s is of another store version; updating it", folder)
            return None
        try:
            base = folder / current["base"]
            state = json.loads((base / "state.json").read_text(encoding="utf-8"))
            bm25s = _bm25s()
            bm25 = bm25s.BM25.load(str(base / "bm25"), mmap=True, show_progress=False) if state["ids"] else None
            index = cls(
                state["ids"],
                state["texts"],
                [ChunkMeta.model_validate(m) for m in state["metas"]],
                state["df"],
                {d: set(t) for d, t in state["doc_tokens"].items()},
                set(state["acronyms"]),
                bm25,
                float(state["avgdl"]),
                dict(state["covered"]),
            )
            if current.get("delta"):
                delta = json.loads((folder / current["delta"]).read_text(encoding="utf-8"))
                rows = [(cid, text, ChunkMeta.model_validate(meta)) for cid, text, meta in delta["rows"]]
                index.apply_delta(rows, list(delta["gone"]))
            return index
        except (OSError, ValueError, KeyError, TypeError) as exc:  # half-copied, damaged or from another release
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
        """BM25 of every row (0 for rows of removed documents)."""
        out = np.zeros(len(self.ids), dtype=np.float32)
        q = [t for t in tokens(query) if t in self.df]
        if not q:
            return out
        base_vocab = self._bm25.vocab_dict if self._bm25 is not None else {}
        in_base = [t for t in q if t in base_vocab]
        if in_base:
            out[: self.base_rows] = self._bm25.get_scores(in_base)
        for i, tf in enumerate(self._delta_tf):  # a few documents: scored here, with the whole index's df
            norm = K1 * (1 - B + B * sum(tf.values()) / (self.avgdl or 1.0))
            out[self.base_rows + i] = sum(self.idf(t) * tf[t] / (tf[t] + norm) for t in q if t in tf)
        return out * self.live


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
