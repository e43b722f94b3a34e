"""`ragqa eval`: run a question set through the Answerer (or the naive baseline), resumable,
and write predictions, report.json, report.md and plots."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vectorstore import ChunkStore

from .dataset import Question, TypedAs, load_questions, typed_as
from .metrics import judge_row, summarize
from .report import passed, write_json, write_markdown, write_plots

log = logging.getLogger(__name__)
Asker = Callable[[str, Sequence[str]], dict[str, Any]]  # (question, earlier turns) -> prediction row


def _answer_row(answer: Any) -> dict[str, Any]:
    data = answer.model_dump(exclude={"passages"})
    data["retrieved"] = [
        {"source": p.file_name, "rank": i + 1, "section": p.section, "score": p.score}
        for i, p in enumerate(answer.passages)
    ]
    return data


@dataclass
class EvalRun:
    """What to run: a question set, where to write, and how (the CLI fills it from its flags)."""

    question_set: Path
    out: Path
    baseline: str | None = None
    limit: int | None = None
    compare: Path | None = None
    judge: bool = False
    typed_as: TypedAs = "asked"  # or retyped as users type: "lower", "keywords" (eval.dataset.typed_as)


def _fingerprints(store: ChunkStore, settings: Any, backend: str) -> dict[str, str]:
    docs = sorted(d.content_hash for d in store.documents())
    local = f"{settings.qa.local_model} q4_k_m (llama.cpp)"
    llm = {
        "local": local,
        "naive": local,
        "openai": f"openai:{settings.qa.openai_model}",
        "extractive": "none",
    }.get(backend, backend)
    return {
        "corpus": hashlib.sha256("".join(docs).encode()).hexdigest()[:16],
        "documents": str(len(docs)),
        "embedding_model": store.embedder.name,
        "llm": llm,
    }


def run_eval(run: EvalRun, settings: Any, store: ChunkStore, filters: Any = None) -> int:
    from tqdm import tqdm

    args = run
    questions, errors = load_questions(args.question_set)
    for err in errors:
        print(f"skipped {err}", file=sys.stderr)
    questions = typed_as(questions, args.typed_as)
    if args.limit:
        questions = questions[: args.limit]
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    backend = "naive" if args.baseline else settings.qa.llm
    run_key = {
        "question_set": str(args.question_set.resolve()),
        "backend": backend,
        "k": settings.qa.k,
        "verify": settings.qa.verify,
        "typed_as": args.typed_as,
    }
    done = _resume(out, run_key)
    ask = _make_asker(args, settings, store, out, filters)
    todo = [q for q in questions if q.id not in done]
    if done:
        print(f"resuming: {len(done)} done, {len(todo)} to go", file=sys.stderr)
    with (out / "predictions.jsonl").open("a", encoding="utf-8") as handle:
        for q in tqdm(todo, desc=f"eval {backend}", unit="q", file=sys.stderr):
            row = _predict(ask, q)
            done[q.id] = row
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
    rows = [done[q.id] for q in questions if q.id in done]
    for q in questions:  # re-judged, so a resumed or re-scored run uses the current metrics
        if q.id in done:
            done[q.id]["verdict"] = judge_row(done[q.id], q.model_dump())
    report = _report(args, settings, store, backend, questions, rows)
    previous = _load_previous(args.compare, rows) if args.compare else None
    if previous:
        report["compare"] = {
            "previous": str(args.compare),
            "metrics": previous["metrics"],
            "flipped": previous["flipped"],
        }
    write_json(out / "report.json", report)
    write_markdown(out / "report.md", report, rows, report.get("compare"))
    write_plots(out, report, rows)
    m = report["metrics"]
    print(
        f"{backend}: accuracy {m['accuracy']} ({m['correct']}/{m['answerable']}), citation precision {m['citation_precision']}, "
        f"refused unanswerable {m['refused_unanswerable']}/{m['unanswerable']}, refused answerable {m['refused_answerable']}, "
        f"latency p50 {m.get('latency_total_p50_ms')} ms -> {out / 'report.md'}"
    )
    return 0


def _make_asker(args: EvalRun, settings: Any, store: ChunkStore, out: Path, filters: Any) -> Asker:
    if args.baseline:
        from .naive import NaivePipeline, baseline_llm

        try:
            llm = baseline_llm(settings, store)
        except Exception as exc:  # the baseline still gives retrieval metrics without a model
            print(f"note: no local model for the baseline ({exc}); retrieval metrics only", file=sys.stderr)
            llm = None
        pipeline = NaivePipeline(store, out / "naive-index", llm)
        pipeline.build()
        pipeline.ask("warm up")
        return lambda question, history: pipeline.ask(question)  # the textbook chain keeps no conversation
    from qa import Answerer

    answerer = Answerer(store, settings.qa)
    answerer.warm_up("When was the US exit date from the INF treaty?")  # model loads are not latency

    def ask(question: str, history: Sequence[str]) -> dict[str, Any]:
        """The question as the chat asks it: after its conversation's earlier turns (their
        time is not the question's latency)."""
        turns: list[tuple[str, str]] = []
        cited: list[str] = []
        for earlier in history:
            said = answerer.ask(earlier, turns, filters=filters, last_cited=cited)
            turns.append(said.turn())
            cited = [c.source for c in said.citations]
        return _answer_row(answerer.ask(question, turns, filters=filters, last_cited=cited))

    return ask


def _predict(ask: Asker, q: Question) -> dict[str, Any]:
    try:
        data = ask(q.question, q.history)
        error = ""
    except Exception as exc:  # one failing question must not stop the run
        log.exception("question %s failed", q.id)
        data, error = (
            {"answer": "", "abstained": False, "citations": [], "retrieved": [], "timings_ms": {}},
            f"{type(exc).__name__}: {exc}",
        )
    row = {
        "id": q.id,
        "question": q.question,
        "type": q.type,
        "expected": q.answer,
        "gold_sources": q.sources,
        "answer": data.get("answer", ""),
        "abstained": data.get("abstained"),
        "citations": data.get("citations", []),
        "retrieved": data.get("retrieved", []),
        "latency_ms": data.get("timings_ms", {}),
        "fallback": data.get("fallback", False),
        "notice": data.get("notice", ""),
        "support": data.get("support"),
        "rewritten_question": data.get("rewritten_question", q.question),
        "error": error,
    }
    row["verdict"] = judge_row(row, q.model_dump())
    row["abstained"] = row["verdict"]["abstained"]
    return row


def _resume(out: Path, run_key: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Rows of an interrupted run with the same settings; otherwise a fresh start."""
    meta, preds = out / "run.json", out / "predictions.jsonl"
    if meta.exists() and preds.exists() and json.loads(meta.read_text()) == run_key:
        rows = {}
        for line in preds.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                rows[row["id"]] = row
            except (json.JSONDecodeError, KeyError):
                continue  # a line cut by the interruption
        return rows
    preds.write_text("", encoding="utf-8")
    meta.write_text(json.dumps(run_key), encoding="utf-8")
    return {}


def _report(
    args: EvalRun,
    settings: Any,
    store: ChunkStore,
    backend: str,
    questions: list[Question],
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    verdicts = [r["verdict"] for r in rows]
    metrics = summarize(verdicts, [r["latency_ms"] for r in rows if r.get("latency_ms")])
    metrics["fallbacks"] = sum(1 for r in rows if r.get("fallback"))
    metrics["errors"] = sum(1 for r in rows if r.get("error"))
    by_type: dict[str, Any] = {}
    for qtype in sorted({r.get("type") or "untyped" for r in rows}):
        sub = [r for r in rows if (r.get("type") or "untyped") == qtype]
        by_type[qtype] = summarize([r["verdict"] for r in sub], [r["latency_ms"] for r in sub if r.get("latency_ms")])
    report: dict[str, Any] = {
        "question_set": str(args.question_set),
        "typed_as": args.typed_as,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": {
            "backend": backend,
            "k": settings.qa.k,
            "verify": settings.qa.verify,
            "chunk_size": settings.ingest.chunk_size,
            "candidates": settings.qa.candidates,
            "per_source": settings.qa.per_source,
            "abstain_threshold": settings.qa.abstain_threshold,
        },
        "fingerprints": _fingerprints(store, settings, backend),
        "metrics": metrics,
        "by_type": by_type,
    }
    if args.judge:
        report["judge"] = _judge(settings, rows)
    return report


def _judge(settings: Any, rows: list[dict[str, Any]]) -> str:
    """LLM-judged faithfulness through the OpenAI-compatible backend, when configured."""
    if not settings.qa.openai_base_url:
        return "skipped: no OpenAI-compatible backend configured (set RAGQA_OPENAI_BASE_URL)"
    import prompts
    from qa.generators import OpenAIGenerator, complete

    gen = OpenAIGenerator(settings.qa)
    answered = [r for r in rows if not r["verdict"]["abstained"] and r.get("citations")]
    yes = 0
    for r in answered:
        sources = "\n".join(f"[{c['n']}] {c.get('passage') or c.get('quote', '')}" for c in r["citations"])
        try:
            prompt = prompts.load("judge").format(sources=sources, answer=r["answer"])
            verdict = complete(gen, [{"role": "user", "content": prompt}], 8)
        except Exception as exc:
            return f"failed: {exc}"
        yes += verdict.strip().lower().startswith("yes")
    return (
        f"{yes}/{len(answered)} answers judged fully supported ({yes / len(answered):.2f})"
        if answered
        else "no answered questions"
    )


def _load_previous(prev_dir: Path, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    report_path, preds_path = prev_dir / "report.json", prev_dir / "predictions.jsonl"
    if not report_path.exists():
        print(f"note: no report.json in {prev_dir}; nothing to compare", file=sys.stderr)
        return None
    previous = json.loads(report_path.read_text(encoding="utf-8"))
    before = {}
    if preds_path.exists():
        for line in preds_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                before[row["id"]] = passed(row)
    flipped = [
        {
            "id": r["id"],
            "question": r["question"],
            "was": "pass" if before[r["id"]] else "fail",
            "now": "pass" if passed(r) else "fail",
        }
        for r in rows
        if r["id"] in before and before[r["id"]] != passed(r)
    ]
    return {"metrics": previous["metrics"], "flipped": flipped}
