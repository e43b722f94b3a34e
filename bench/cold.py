"""Cold start: fresh `ragqa --help`, `ragqa ask` and `ragqa serve` (until it answers), with peak RSS."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .common import child_env, free_port, peak_rss_of, ready


def measure_cold_starts(args: argparse.Namespace, settings: Any, work: Path, r: dict[str, Any]) -> None:
    env = child_env(settings, work / "cold")
    ragqa = [sys.executable, "-m", "cli"]
    help_s, help_mb, _ = peak_rss_of([*ragqa, "--help"], env)
    ask_s, ask_mb, code = peak_rss_of([*ragqa, "ask", "When was the US exit date from the INF treaty?", "--json"], env)
    port = free_port()
    serve_s, serve_mb, _ = peak_rss_of(
        [*ragqa, "serve", "--port", str(port)], env, until=lambda proc: ready(port), timeout=600
    )
    r["cold"] = {
        "help_s": round(help_s, 2),
        "help_peak_mb": round(help_mb),
        "ask_s": round(ask_s, 2),
        "ask_peak_mb": round(ask_mb),
        "ask_exit_code": code,
        "serve_to_first_answer_s": round(serve_s, 2),
        "serve_peak_mb": round(serve_mb),
    }
