"""The ratios and BENCHMARKS.md."""

from __future__ import annotations

from typing import Any


def ratios(r: dict[str, Any]) -> None:
    ing = r["ingest"]
    ratios = {
        "ingest_speedup_vs_textbook": round(ing["ragqa_first_chars_per_s"] / ing["textbook_chars_per_s"], 2),
        "ingest_vs_raw_embedding": round(ing["ragqa_first_chars_per_s"] / ing["raw_embedding_chars_per_s"], 2),
        "reingest_speedup": round(ing["ragqa_first_s"] / max(ing["ragqa_reingest_s"], 1e-6), 1),
    }
    if "other_first_chars_per_s" in ing:
        ratios[f"{ing['other_precision']}_ingest_speedup_vs_textbook"] = round(
            ing["other_first_chars_per_s"] / ing["textbook_chars_per_s"], 2
        )
    answers = r.get("answers", {})
    default = answers.get(r.get("default_backend", "extractive"), {})
    textbook = answers.get("textbook", {})
    if "p50_ms" in default and "p50_ms" in textbook:
        ratios["answer_latency_speedup_vs_textbook"] = round(textbook["p50_ms"] / default["p50_ms"], 1)
    if "p50_ms" in answers.get("local", {}) and "p50_ms" in textbook:
        ratios["local_answer_latency_speedup_vs_textbook"] = round(textbook["p50_ms"] / answers["local"]["p50_ms"], 1)
    r["ratios"] = ratios
    r.update({k: v for k, v in ratios.items()})


def render(r: dict[str, Any]) -> str:
    m, ing, ratios = r["machine"], r["ingest"], r["ratios"]
    lines = [
        "# BENCHMARKS",
        "",
        "Written by `ragqa bench` (do not edit by hand). One run, one machine; compare the ratios, not the seconds.",
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cpus')} cores, {m.get('memory_gb', '?')} GB, AVX2 {m.get('avx2')}, Python {m.get('python')}. "
        f"Corpus: `{r['corpus']}` ({ing['corpus_chars']:,} characters), {r['questions']} questions.",
        "",
        "## Ratios",
        "",
        "| ratio | value |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {v} |" for k, v in ratios.items()]
    lines += [
        "",
        "## Ingest (corpus characters per second; model load excluded)",
        "",
        "| pipeline | chunks | seconds | chars/s |",
        "| --- | --- | --- | --- |",
        f"| raw embedding throughput of the model (the limit) | {ing['ragqa_chunks']} | – | {ing['raw_embedding_chars_per_s']:,} |",
        f"| ragqa first ingest ({r['embedding']}) | {ing['ragqa_chunks']} | {ing['ragqa_first_s']} | {ing['ragqa_first_chars_per_s']:,} |",
        f"| ragqa first ingest, {ing.get('other_precision')} model (`RAGQA_EMBEDDING_PRECISION={ing.get('other_precision')}`) | {ing['ragqa_chunks']} | {ing.get('other_first_s', '–')} | {ing.get('other_first_chars_per_s', 0):,} |",
        f"| ragqa re-ingest (unchanged) | 0 | {ing['ragqa_reingest_s']} | – |",
        f"| textbook LangChain (1000/200 splitter, Chroma.from_documents) | {ing['textbook_chunks']} | {ing['textbook_s']} | {ing['textbook_chars_per_s']:,} |",
        "",
        f"Model load: {r['model_load_s']} s. Retrieval quality, gold evidence found in the top 6 passages: "
        + ", ".join(f"{p} {v}" for p, v in r.get("evidence_recall_at_6", {}).items())
        + ".",
        "",
        "## Query latency",
        "",
        "| what | p50 ms | p95 ms |",
        "| --- | --- | --- |",
        f"| retrieval (hybrid BM25 + dense, fused) | {r['retrieval']['p50_ms']} | {r['retrieval']['p95_ms']} |",
    ]
    for name, lat in r.get("answers", {}).items():
        label = (
            "textbook pipeline answer (top-4, stuff prompt, the same local model)"
            if name == "textbook"
            else f"ragqa answer, `{name}` backend"
        )
        lines.append(f"| {label} | {lat.get('p50_ms', lat.get('error', '–'))} | {lat.get('p95_ms', '–')} |")
    if "cold" in r:
        c = r["cold"]
        lines += [
            "",
            "## Cold start and memory (fresh processes, index ready, default backend: the local 1.5B model is loaded)",
            "",
            "| command | seconds | peak RSS MB |",
            "| --- | --- | --- |",
            f"| `ragqa --help` | {c['help_s']} | {c['help_peak_mb']} |",
            f"| `ragqa ask ...` | {c['ask_s']} | {c['ask_peak_mb']} |",
            f"| `ragqa serve` until it answers | {c['serve_to_first_answer_s']} | {c['serve_peak_mb']} |",
        ]
    if "load" in r:
        ld = r["load"]
        lines += [
            "",
            "## Load (`ragqa serve`, extractive backend, one answer at a time by design)",
            "",
            f"{ld['clients']} gradio_client users for {ld['seconds']} s on loopback: {ld['answers']} answers, {ld['errors']} errors, "
            f"{ld['throughput_per_s']} answers/s, latency p50 {ld['p50_s']} s, p95 {ld['p95_s']} s (queueing included).",
        ]
    if "scale" in r:
        lines += [
            "",
            "## Scale (corpus replicated into one growing store; embedded Chroma, extractive backend)",
            "",
            "Store writes are the copies added since the previous row. Retrieval p50 / p95 in ms over the questions, "
            "twice each. `serve`: a fresh `ragqa serve` until its `/ask` API answers, peak RSS of its process tree.",
            "",
            "| × | chunks | store writes s | BM25 build + save s | BM25 load s | dense ms | BM25 ms | fused ms "
            "| ingest 1 doc s | disk MB | serve first answer s | serve peak RSS MB |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {c['scale']} | {c['chunks']:,} | {c['store_write_s']} | {c['index_build_s']} | {c['index_load_s']} "
            f"| {c['dense_p50_ms']} / {c['dense_p95_ms']} | {c['bm25_p50_ms']} / {c['bm25_p95_ms']} "
            f"| {c['fused_p50_ms']} / {c['fused_p95_ms']} | {c['ingest_one_doc_s']} | {c['disk_mb']:,} "
            f"| {c['serve_to_first_answer_s']} | {c['serve_peak_mb']:,} |"
            for c in r["scale"]
        ]
        if "scale_server" in r:
            sv = r["scale_server"]
            lines += [
                "",
                f"The {sv['chunks']:,}-chunk store served by `chroma run` instead (same files; `ragqa serve` with "
                f"`RAGQA_CHROMA_HOST` and the shared `RAGQA_LEXICAL_DIR`): the server's first query (loading the "
                f"vectors) took {sv['server_first_query_s']} s and it then holds {sv['server_rss_mb']:,} MB; "
                f"`ragqa serve` answered first after {sv['serve_to_first_answer_s']} s at a peak RSS of "
                f"{sv['serve_peak_mb']:,} MB."
                + (
                    f" Retrieval through the server: dense {sv['dense_p50_ms']} / {sv['dense_p95_ms']} ms, "
                    f"fused {sv['fused_p50_ms']} / {sv['fused_p95_ms']} ms (p50 / p95)."
                    if "fused_p95_ms" in sv
                    else ""
                ),
            ]
        lines += ["", "![scale](docs/scale.png)"]
    if "chroma_server" in r:
        cs = r["chroma_server"]
        lines += [
            "",
            "## Chroma server (`chroma run` on loopback)",
            "",
            f"Ingest {cs['chunks']} chunks in {cs['ingest_s']} s; retrieval p50 {cs['retrieval']['p50_ms']} ms, p95 {cs['retrieval']['p95_ms']} ms.",
        ]
    return "\n".join(lines) + "\n"
