"""`ragqa`: one console script, subcommands. Heavy imports live inside the handlers so
`ragqa --help` answers at once."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Nothing may reach the network: no hub look-ups, no telemetry.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

log = logging.getLogger("ragqa")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="data folder (RAGQA_DATA_DIR, default ./.ragqa)")
    p.add_argument("--collection", help="Chroma collection (RAGQA_COLLECTION)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks")


def _qa_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm", choices=["local", "openai", "extractive"], help="answer backend (RAGQA_LLM)")
    p.add_argument("--model", dest="local_model", help="bundled model of the local backend (RAGQA_LOCAL_MODEL)")
    p.add_argument("-k", type=int, dest="k", help="passages used for the answer (RAGQA_K)")
    p.add_argument(
        "--doc-type", action="append", choices=["news", "treaty", "law", "other"], help="only these document types"
    )
    p.add_argument("--source", action="append", help="only documents whose file name contains this")
    p.add_argument("--since", help="only documents dated on/after YYYY-MM-DD")
    p.add_argument("--until", help="only documents dated on/before YYYY-MM-DD")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ragqa", description="Question answering over news and treaty texts, with verified citations."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="add files or folders to the index (incremental)")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--prune", action="store_true", help="remove documents whose files are gone")
    p.add_argument("--rebuild", action="store_true", help="drop the index and ingest from scratch")
    p.add_argument("--chunk-size", type=int, help="target chunk size in characters (RAGQA_CHUNK_SIZE)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    _common(p)

    p = sub.add_parser("stats", help="what the index holds")
    p.add_argument("--json", action="store_true")
    _common(p)

    p = sub.add_parser("search", help="top passages for a query (retrieval only)")
    p.add_argument("query")
    p.add_argument("--json", action="store_true")
    _common(p)
    _qa_flags(p)

    p = sub.add_parser("ask", help="answer a question with citations")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    _common(p)
    _qa_flags(p)

    p = sub.add_parser("eval", help="run a question set and write a scored report")
    p.add_argument("question_set", type=Path)
    p.add_argument("--out", type=Path, default=Path("runs/latest"))
    p.add_argument("--compare", type=Path, help="a previous --out folder to compare with")
    p.add_argument("--baseline", choices=["naive"], help="run the textbook pipeline instead of ragqa")
    p.add_argument("--judge", action="store_true", help="LLM-judged faithfulness via the openai backend")
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="turn grounding off: the model's answer and its own citation (to measure what grounding earns)",
    )
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument(
        "--typed-as",
        choices=["asked", "lower", "keywords"],
        default="asked",
        help="retype the questions as users type: lower case without '?', or keywords only (yes/no left out)",
    )
    p.add_argument(
        "--docs", nargs="*", type=Path, default=[], help="ingest these first (incremental), e.g. the set's corpus"
    )
    _common(p)
    _qa_flags(p)

    p = sub.add_parser("serve", help="the browser chat")
    p.add_argument("--docs", nargs="*", type=Path, default=[], help="ingest these first (incremental)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--auth", help="USER:PASS required for the UI and the API")
    _common(p)
    _qa_flags(p)

    p = sub.add_parser("bench", help="measure speed against the textbook pipeline")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", type=Path, default=Path("bench-out"))
    p.add_argument("--scale", type=int, nargs="*", default=[], help="corpus multiples for the scale curve")
    p.add_argument(
        "--only", choices=["scale"], help="re-measure only this part; the rest of OUT/bench.json is kept in the report"
    )
    p.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    p.add_argument("--questions", type=Path, default=Path("../shared/eval/dev.jsonl"))
    p.add_argument("--load", type=float, default=0, help="also run the load test for this many seconds (20 clients)")
    _common(p)
    return parser


def load_settings(args: argparse.Namespace) -> Any:
    from settings import Settings

    flags = {
        "data_dir": getattr(args, "data_dir", None),
        "collection": getattr(args, "collection", None),
        "chunk_size": getattr(args, "chunk_size", None),
        "llm": getattr(args, "llm", None),
        "k": getattr(args, "k", None),
        "local_model": getattr(args, "local_model", None),
    }
    if getattr(args, "no_verify", False):
        flags["verify"] = False
    return Settings().override(**flags)


def build_store(settings: Any, create: bool = True) -> Any:
    from vectorstore import ChunkStore, make_embedder

    return ChunkStore(settings.store, make_embedder(settings.store), create=create)


def filters_from(args: argparse.Namespace) -> Any:
    from qa import Filters

    return Filters(doc_types=args.doc_type or [], sources=args.source or [], since=args.since, until=args.until)


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest import Ingestor

    settings = load_settings(args)
    store = build_store(settings)
    report = Ingestor(store, settings.ingest, settings.store.data_dir, progress=not args.json).run(
        args.paths, prune=args.prune, rebuild=args.rebuild
    )
    if report.chunks_added or report.chunks_deleted or args.rebuild:
        from qa.lexical import update_saved

        update_saved(store)  # saved now, so `serve` and `ask` start by loading it
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        for item in report.files_skipped:
            print(f"skipped {item.path}: {item.error}", file=sys.stderr)
        for item in report.warnings:
            print(f"warning {item.path}: {item.error}", file=sys.stderr)
        for item in report.files_failed:
            print(f"FAILED  {item.path}: {item.error}", file=sys.stderr)
        print(
            f"{report.files_seen} files: {report.files_ingested} ingested, {report.files_unchanged} unchanged, "
            f"{len(report.files_skipped)} skipped, {len(report.files_failed)} failed; "
            f"chunks +{report.chunks_added} -{report.chunks_deleted}; {report.seconds:.1f}s "
            f"({report.chunks_per_second:.1f} chunks/s)"
        )
    return 1 if report.files_failed else 0


def cmd_stats(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    store = build_store(settings, create=False)
    docs = store.documents()
    by_type: dict[str, int] = {}
    for d in docs:
        by_type[d.doc_type] = by_type.get(d.doc_type, 0) + 1
    dates = sorted(d.date for d in docs if d.date)
    stats = {
        "documents": len(docs),
        "chunks": store.count(),
        "by_doc_type": by_type,
        "date_range": [dates[0], dates[-1]] if dates else None,
        "embedding_model": store.embedder.name,
        "embedding_dim": store.embedder.dim,
        "store": f"{settings.store.chroma_host}:{settings.store.chroma_port}"
        if settings.store.chroma_host
        else str(settings.store.data_dir / "chroma"),
        "collection": settings.store.collection,
    }
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            print(f"{key:16} {value}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from qa import HybridRetriever

    settings = load_settings(args)
    store = build_store(settings, create=False)
    retriever = HybridRetriever(store, settings.qa)
    passages = retriever.retrieve(args.query, k=settings.qa.k, filters=filters_from(args))
    if args.json:
        print(json.dumps([p.model_dump() for p in passages], indent=2, ensure_ascii=False))
        return 0
    for i, p in enumerate(passages, 1):
        print(f"[{i}] {p.score:.3f}  {p.file_name}  {p.section}" + (f"  ({p.date})" if p.date else ""))
        print("    " + " ".join(p.text.split())[:300])
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from qa import Answerer

    settings = load_settings(args)
    store = build_store(settings, create=False)
    answer = Answerer(store, settings.qa).ask(args.question, filters=filters_from(args))
    if args.json:
        print(answer.model_dump_json(indent=2))
        return 0
    print(answer.answer)
    if answer.notice:
        print(f"({answer.notice})")
    if answer.citations:
        print()
    for c in answer.citations:
        when = f", {c.date}" if c.date else ""
        print(f"[{c.n}] {c.source}{when} — {c.section}\n    “{c.quote}”")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from eval import EvalRun, run_eval

    settings = load_settings(args)
    if args.docs:
        _ingest_docs(settings, args.docs)
    run = EvalRun(args.question_set, args.out, args.baseline, args.limit, args.compare, args.judge, args.typed_as)
    return run_eval(run, settings, build_store(settings, create=False), filters_from(args))


def _ingest_docs(settings: Any, paths: list[Path]) -> None:
    """Incremental ingest before answering (`serve --docs`, `eval --docs`)."""
    from ingest import Ingestor

    report = Ingestor(build_store(settings), settings.ingest, settings.store.data_dir, progress=True).run(paths)
    for item in report.files_failed:
        print(f"FAILED  {item.path}: {item.error}", file=sys.stderr)
    print(
        f"ingest: {report.files_ingested} new/changed, {report.files_unchanged} unchanged, {len(report.files_failed)} failed, "
        f"+{report.chunks_added} passages in {report.seconds:.1f}s",
        file=sys.stderr,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    import time

    import app

    started = time.perf_counter()
    settings = load_settings(args)
    auth = app.parse_auth(args.auth)
    if warning := app.bind_warning(args.host, auth):
        print(warning, file=sys.stderr)
    if args.docs:
        _ingest_docs(settings, args.docs)
    return app.serve(build_store(settings), settings, args.host, args.port, auth, started)


def cmd_bench(args: argparse.Namespace) -> int:
    import bench

    settings = load_settings(args)
    return bench.run(args, settings)


COMMANDS = {
    "ingest": cmd_ingest,
    "stats": cmd_stats,
    "search": cmd_search,
    "ask": cmd_ask,
    "eval": cmd_eval,
    "serve": cmd_serve,
    "bench": cmd_bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("chromadb", "httpx", "sentence_transformers", "urllib3", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if args.verbose else logging.ERROR)
    from vectorstore.errors import RagqaError

    try:
        return COMMANDS[args.command](args)
    except RagqaError as exc:
        if args.verbose:
            raise
        print(f"ragqa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ragqa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `ragqa ask … | head`: the reader has gone. End quietly, and point stdout at devnull
        # so the interpreter's last flush does not complain either (the Python docs' recipe).
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what `yes | head` reports


if __name__ == "__main__":
    sys.exit(main())
