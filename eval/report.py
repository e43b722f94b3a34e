"""report.md, report.json and the plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HEADLINE = [
    ("accuracy", "Answer accuracy (answerable; the short answer, quotes left out)"),
    ("accuracy_with_quote", "Answer accuracy counting the quote"),
    ("citation_precision", "Citation precision"),
    ("citation_recall", "Citation recall"),
    ("abstention_rate_unanswerable", "Unanswerable refused"),
    ("false_refusal_rate", "Answerable wrongly refused"),
    ("crag_score", "CRAG score (+1/0/−1)"),
    ("recall_at_k", "Retrieval recall@k"),
    ("mrr", "Retrieval MRR"),
    ("latency_total_p50_ms", "Latency p50 (ms)"),
    ("latency_total_p95_ms", "Latency p95 (ms)"),
]


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) <= 1 else f"{value:.0f}"
    return str(value)


def write_markdown(
    path: Path, report: dict[str, Any], rows: list[dict[str, Any]], compare: dict[str, Any] | None
) -> None:
    m = report["metrics"]
    lines = [
        f"# ragqa eval — {report['question_set']}"
        + (f" (typed as {report['typed_as']})" if report.get("typed_as", "asked") != "asked" else ""),
        "",
        f"{report['date']} · backend `{report['config']['backend']}` · k={report['config']['k']} · "
        f"{m['questions']} questions ({m['answerable']} answerable, {m['unanswerable']} unanswerable)",
        "",
        "| metric | value |" + (" previous | Δ |" if compare else ""),
        "| --- | --- |" + (" --- | --- |" if compare else ""),
    ]
    for key, label in HEADLINE:
        row = f"| {label} | {_fmt(m.get(key))} |"
        if compare:
            prev = compare["metrics"].get(key)
            delta = (
                m.get(key) - prev if isinstance(m.get(key), (int, float)) and isinstance(prev, (int, float)) else None
            )
            row += f" {_fmt(prev)} | {'' if delta is None else f'{delta:+.3f}'} |"
        lines.append(row)
    lines += [
        "",
        f"Correct {m['correct']}/{m['answerable']}; refused {m['refused_unanswerable']}/{m['unanswerable']} unanswerable "
        f"and {m['refused_answerable']} answerable; LLM answers replaced by the extractive one: {m.get('fallbacks', 0)}.",
    ]
    if report.get("judge"):
        lines += ["", f"LLM-judged faithfulness: {report['judge']}"]
    lines += [
        "",
        "## By question type",
        "",
        "| type | n | accuracy | refused | citation precision | recall@k |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for qtype, t in sorted(report["by_type"].items()):
        refused = t["abstention_rate_unanswerable"] if qtype == "unanswerable" else t["false_refusal_rate"]
        lines.append(
            f"| {qtype} | {t['questions']} | {_fmt(t['accuracy'])} | {_fmt(refused)} | {_fmt(t['citation_precision'])} | {_fmt(t['recall_at_k'])} |"
        )
    if compare and compare.get("flipped"):
        lines += ["", "## Flipped since the previous run", ""]
        lines += [f"- `{f['id']}` {f['was']} → {f['now']}: {f['question']}" for f in compare["flipped"]]
    failures = [r for r in rows if not _passed(r)]
    lines += ["", f"## Failures ({len(failures)})", ""]
    for r in failures:
        cited = ", ".join(sorted({c["source"] for c in r.get("citations", [])})) or "—"
        lines += [
            f"### `{r['id']}` ({r.get('type') or 'untyped'})",
            f"- **Q:** {r['question']}",
            f"- **Expected:** {r.get('expected') or '—'} (sources: {', '.join(r.get('gold_sources') or []) or '—'})",
            f"- **Got:** {' '.join(r['answer'].split()) if not r.get('error') else 'ERROR ' + r['error']}",  # one list item
            f"- **Cited:** {cited}",
            "",
        ]
    lines += ["## Plots", "", "![accuracy by type](accuracy_by_type.png)", "", "![latency](latency.png)", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def _passed(row: dict[str, Any]) -> bool:
    v = row["verdict"]
    return bool(v["correct"] if v["answerable"] else v["abstained"])


def passed(row: dict[str, Any]) -> bool:
    return _passed(row)


def write_plots(out: Path, report: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    types = sorted(report["by_type"])
    scores = [
        (
            report["by_type"][t]["abstention_rate_unanswerable"]
            if t == "unanswerable"
            else report["by_type"][t]["accuracy"]
        )
        or 0.0
        for t in types
    ]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(types, scores, color="#3b7dd8")
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy (unanswerable: refused)")
    ax.set_title(f"Accuracy by question type — {report['config']['backend']}")
    fig.tight_layout()
    fig.savefig(out / "accuracy_by_type.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    totals = [r["latency_ms"].get("total", 0) for r in rows if r.get("latency_ms")]
    ax.hist(totals, bins=min(20, max(5, len(totals) // 2)), color="#d8843b")
    ax.set_xlabel("total latency per question (ms)")
    ax.set_ylabel("questions")
    ax.set_title("Latency distribution")
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    plt.close(fig)


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
