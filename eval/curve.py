"""The abstention curve: coverage against accuracy as the support threshold rises.

Input: predictions of runs made with `RAGQA_ABSTAIN_THRESHOLD=0` (every grounded answer is
kept with its support score). A threshold t answers a question iff it was answered at 0 and
(it is an extractive fallback, which has its own threshold, or its support is >= t). The chosen
threshold maximises the CRAG score (+1 correct, 0 refused, -1 wrong or answered when
unanswerable) summed over all sets, so a refusal is worth more than a wrong answer.

    python -m eval.curve runs/dev-t0 runs/rgb-t0 runs/near-miss-t0 --out docs/abstention.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .dataset import load_questions
from .metrics import judge_row


def load(run: Path) -> list[dict[str, Any]]:
    """A run's predictions, judged again with the current metrics against its question set."""
    questions, _ = load_questions(Path(json.loads((run / "run.json").read_text())["question_set"]))
    by_id = {q.id: q.model_dump() for q in questions}
    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    for row in rows:
        row["verdict"] = judge_row(row, by_id[row["id"]])
    return rows


def answered(row: dict[str, Any], t: float) -> bool:
    return not row["verdict"]["abstained"] and (row.get("fallback") or (row.get("support") or 0.0) >= t)


def point(rows: list[dict[str, Any]], t: float) -> dict[str, float]:
    """Coverage, accuracy of what is answered, unanswerable refused, CRAG at threshold t."""
    ans = [r for r in rows if r["verdict"]["answerable"]]
    una = [r for r in rows if not r["verdict"]["answerable"]]
    kept = [r for r in ans if answered(r, t)]
    correct = sum(1 for r in kept if r["verdict"]["correct"])
    wrong_una = sum(1 for r in una if answered(r, t))
    return {
        "threshold": t,
        "coverage": len(kept) / len(ans) if ans else 0.0,
        "accuracy_answered": correct / len(kept) if kept else 0.0,
        "accuracy": correct / len(ans) if ans else 0.0,
        "refused_unanswerable": (len(una) - wrong_una) / len(una) if una else 1.0,
        "crag": correct - (len(kept) - correct) - wrong_una,
    }


def curve(rows: list[dict[str, Any]], steps: int = 201) -> list[dict[str, float]]:
    return [point(rows, i / (steps - 1)) for i in range(steps)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="eval --out folders made with RAGQA_ABSTAIN_THRESHOLD=0")
    p.add_argument("--out", type=Path, help="write the plot here (PNG)")
    args = p.parse_args(argv)
    sets = {run.name: load(run) for run in args.runs}
    pooled = curve([r for rows in sets.values() for r in rows])
    best = max(pooled, key=lambda c: (c["crag"], -c["threshold"]))
    print("| threshold | coverage | accuracy (answered) | accuracy (all answerable) | unanswerable refused | CRAG |")
    print("| --- | --- | --- | --- | --- | --- |")
    for c in pooled[::20] + ([best] if best not in pooled[::20] else []):
        mark = " ← chosen" if c is best else ""
        print(
            f"| {c['threshold']:.3f}{mark} | {c['coverage']:.2f} | {c['accuracy_answered']:.2f} | {c['accuracy']:.2f} "
            f"| {c['refused_unanswerable']:.2f} | {c['crag']:+.0f} |"
        )
    for name, rows in sets.items():
        c = point(rows, best["threshold"])
        print(
            f"{name}: accuracy {c['accuracy']:.3f}, coverage {c['coverage']:.2f}, refused {c['refused_unanswerable']:.2f}"
        )
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for name, rows in sets.items():
            pts = curve(rows)
            ax.plot([c["threshold"] for c in pts], [c["accuracy"] for c in pts], label=f"{name}: accuracy")
            if any(not r["verdict"]["answerable"] for r in rows):
                ax.plot(
                    [c["threshold"] for c in pts],
                    [c["refused_unanswerable"] for c in pts],
                    "--",
                    label=f"{name}: unanswerable refused",
                )
        ax.axvline(best["threshold"], color="grey", lw=0.8)
        ax.set_xlabel("support threshold")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7)
        fig.tight_layout()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.out, dpi=110)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
