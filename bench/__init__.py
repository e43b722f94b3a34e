"""`ragqa bench`: speed of ragqa against the textbook LangChain pipeline and against the
machine's raw embedding throughput, all measured in one run; written only under `--out`.

One module per measurement: `ingest`, `answers`, `cold` (start-up), `load`, `scale`, `server`
(Chroma server); `report` renders BENCHMARKS.md. Speeds are ratios within one run (the
machines are noisy); absolute figures are given beside them for context only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .answers import measure_answers
from .cold import measure_cold_starts
from .common import machine, question_texts
from .ingest import measure_ingest
from .load import load_test, measure_load
from .report import ratios, render
from .scale import measure_scale
from .server import measure_chroma_server

__all__ = ["load_test", "run"]


def run(args: argparse.Namespace, settings: Any) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ragqa-bench-"))
    questions = question_texts(args.questions)
    # --only scale: re-measure the scale curve (and the ingest it starts from), keep the rest of the last report.
    previous = out / "bench.json"
    results: dict[str, Any] = json.loads(previous.read_text()) if args.only and previous.exists() else {}
    results |= {"machine": machine(), "corpus": str(args.corpus), "questions": len(questions)}
    try:
        store, naive = measure_ingest(args, settings, work, results)
        if not args.only:
            measure_answers(settings, work, store, naive, questions, results)
            measure_cold_starts(args, settings, work, results)
            if args.load:
                measure_load(args, settings, work, questions, results)
        if args.scale:
            measure_scale(settings, work, questions, results, args.scale, out)
        if not args.only:
            measure_chroma_server(settings, work, questions, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratios(results)
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    (out / "BENCHMARKS.md").write_text(render(results))  # only under --out; `make bench` publishes it
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(render(results))
    return 0
