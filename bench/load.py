"""Load: 20 gradio_client users against one `ragqa serve` (extractive backend) for N seconds."""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from eval import percentile

from .common import ROOT, child_env, free_port, ready


def load_test(
    url: str, questions: list[str], clients: int = 20, seconds: float = 60, auth: tuple[str, str] | None = None
) -> dict[str, Any]:
    """`clients` gradio_client users asking questions for `seconds` against a running `ragqa serve`:
    latency, throughput and every error (an answer must be a well-formed `/ask` object)."""
    from gradio_client import Client

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def user(i: int) -> None:
        client = Client(url, auth=auth, verbose=False)
        n = i
        while time.monotonic() < stop_at:
            question = questions[n % len(questions)]
            n += 7
            t = time.perf_counter()
            try:
                r = client.predict(question, api_name="/ask")
                if not (
                    isinstance(r, dict)
                    and r.get("answer")
                    and isinstance(r.get("citations"), list)
                    and isinstance(r.get("abstained"), bool)
                ):
                    raise ValueError(f"malformed answer: {str(r)[:200]}")
                with lock:
                    latencies.append(time.perf_counter() - t)
            except Exception as exc:  # every failure is counted, none stops the run
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=user, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 300)
    elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "answers": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:3],
        "throughput_per_s": round(len(latencies) / elapsed, 2),
        "p50_s": round(percentile(latencies, 0.5), 2),
        "p95_s": round(percentile(latencies, 0.95), 2),
    }


def measure_load(args: argparse.Namespace, settings: Any, work: Path, questions: list[str], r: dict[str, Any]) -> None:
    env = child_env(settings, work / "cold", llm="extractive")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 300
        while not ready(port):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("ragqa serve did not start for the load test")
            time.sleep(1)
        r["load"] = load_test(f"http://127.0.0.1:{port}", questions, clients=20, seconds=args.load)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
