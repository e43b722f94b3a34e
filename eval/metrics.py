"""Answer, citation, abstention and retrieval metrics. None of them needs an LLM judge."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

ABSTAIN_PATTERNS = re.compile(
    r"documents don'?t (say|contain)|not in the documents|don'?t know|cannot be answered|no answer", re.I
)


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


def contains(answer: str, alternative: str) -> bool:
    """Case-insensitive whole-word (or whole-number) containment; '1,500' also matches '1500'."""
    a, alt = _norm(answer), _norm(alternative)
    if not alt:
        return False
    variants = {alt, alt.replace(",", "")}
    for v in variants:
        for text in (a, a.replace(",", "") if re.search(r"\d", v) else a):
            if re.search(rf"(?<![\w]){re.escape(v)}(?![\w])", text):
                return True
    return False


def is_correct(answer: str, must: Sequence[Sequence[str]], gold: str = "", aliases: Sequence[str] = ()) -> bool:
    """Every `must` group matched by one of its alternatives; without `must`, answer/alias containment."""
    if must:
        return all(any(contains(answer, alt) for alt in group) for group in must)
    return any(contains(answer, g) for g in [gold, *aliases] if g)


QUOTE = re.compile(r"\s*(?:—\s*)?“[^”]*”?")


def short_answer(answer: str) -> str:
    """The answer without its supporting quotes: what is scored ('February 2, 2019 [1]' of
    'February 2, 2019 [1] — “…exit the treaty from February 2.”'), so a quote that happens to
    contain the gold words does not make a wrong answer right."""
    return " ".join(QUOTE.sub(" ", answer).split())


def is_abstention(answer: str, abstained: bool | None = None) -> bool:
    return bool(abstained) if abstained is not None else bool(ABSTAIN_PATTERNS.search(answer))


def citation_precision(cited: Sequence[str], gold: Sequence[str]) -> float | None:
    """Share of cited sources that are gold sources (None when nothing is cited)."""
    if not cited:
        return None
    return sum(1 for c in cited if c in set(gold)) / len(cited)


def evidence_found(evidence: str, passages: Sequence[str]) -> bool | None:
    """Every part of a gold evidence span (parts joined by ' ... ') appears in some passage
    (first 60 normalised characters of each part); None without evidence."""
    parts = [_norm(p)[:60] for p in evidence.split(" ... ") if p.strip()]
    if not parts:
        return None
    texts = [_norm(t) for t in passages]
    return all(any(part in t for t in texts) for part in parts)


def reciprocal_rank(retrieved: Sequence[str], gold: Sequence[str]) -> float:
    for rank, source in enumerate(retrieved, 1):
        if source in set(gold):
            return 1.0 / rank
    return 0.0


def crag_score(answerable: bool, abstained: bool, correct: bool) -> int:
    """+1 correct, 0 abstained, -1 wrong or answered when unanswerable."""
    if abstained:
        return 0
    if not answerable:
        return -1
    return 1 if correct else -1


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def judge_row(row: dict[str, Any], q: dict[str, Any]) -> dict[str, Any]:
    """Per-question verdicts from a prediction row and its question."""
    answerable = q.get("type") != "unanswerable" and bool(
        q.get("sources") or q.get("must") or (q.get("answer") and q.get("answer") != "unanswerable")
    )
    abstained = is_abstention(row.get("answer", ""), row.get("abstained"))
    gold_sources = q.get("sources") or []
    cited = [c.get("source", "") for c in row.get("citations", [])]
    gold = (q.get("must") or [], q.get("answer", ""), q.get("aliases") or [])
    correct = (not abstained) and answerable and is_correct(short_answer(row.get("answer", "")), *gold)
    with_quote = (not abstained) and answerable and is_correct(row.get("answer", ""), *gold)
    retrieved = [r["source"] for r in row.get("retrieved", [])]
    return {
        "answerable": answerable,
        "abstained": abstained,
        "correct": correct,
        "correct_with_quote": with_quote,
        "citation_precision": citation_precision(cited, gold_sources) if gold_sources and not abstained else None,
        "cites_gold": bool(set(cited) & set(gold_sources)) if gold_sources and not abstained else None,
        "retrieval_hit": bool(set(retrieved) & set(gold_sources)) if gold_sources else None,
        "rr": reciprocal_rank(retrieved, gold_sources) if gold_sources else None,
        "crag": crag_score(answerable, abstained, correct),
    }


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarize(verdicts: Sequence[dict[str, Any]], latencies: Sequence[dict[str, float]] = ()) -> dict[str, Any]:
    """Aggregate verdicts into the headline metrics."""
    answerable = [v for v in verdicts if v["answerable"]]
    unanswerable = [v for v in verdicts if not v["answerable"]]
    cp = [v["citation_precision"] for v in verdicts if v["citation_precision"] is not None]
    cg = [1.0 if v["cites_gold"] else 0.0 for v in answerable if v["cites_gold"] is not None]
    out: dict[str, Any] = {
        "questions": len(verdicts),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "accuracy": _mean([1.0 if v["correct"] else 0.0 for v in answerable]),
        "correct": sum(1 for v in answerable if v["correct"]),
        "accuracy_with_quote": _mean([1.0 if v.get("correct_with_quote") else 0.0 for v in answerable]),
        "citation_precision": _mean(cp),
        "citation_recall": _mean(cg),
        "abstention_rate_unanswerable": _mean([1.0 if v["abstained"] else 0.0 for v in unanswerable]),
        "refused_unanswerable": sum(1 for v in unanswerable if v["abstained"]),
        "false_refusal_rate": _mean([1.0 if v["abstained"] else 0.0 for v in answerable]),
        "refused_answerable": sum(1 for v in answerable if v["abstained"]),
        "crag_score": _mean([float(v["crag"]) for v in verdicts]),
        "recall_at_k": _mean([1.0 if v["retrieval_hit"] else 0.0 for v in verdicts if v["retrieval_hit"] is not None]),
        "mrr": _mean([v["rr"] for v in verdicts if v["rr"] is not None]),
    }
    for stage in ("retrieve", "generate", "total"):
        values = [t[stage] for t in latencies if stage in t]
        if values:
            out[f"latency_{stage}_p50_ms"] = round(percentile(values, 0.5), 1)
            out[f"latency_{stage}_p95_ms"] = round(percentile(values, 0.95), 1)
    return out
