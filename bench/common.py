"""What every measurement shares: child processes and their memory, ports, latencies, the machine."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from eval import load_questions, percentile

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_of(
    cmd: list[str], env: dict[str, str], until: Any = None, timeout: float = 300
) -> tuple[float, float, int]:
    """Run a command; return (seconds, peak RSS in MB over its process tree, exit code).
    `until(proc)` may end the run early (for servers) by returning True."""
    import psutil

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    peak = 0.0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                p = psutil.Process(proc.pid)
                rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
                peak = max(peak, rss / 1e6)
            except psutil.Error:
                pass
            time.sleep(0.05)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    code = 0
    try:
        while True:
            if until is not None and until(proc):
                seconds = time.perf_counter() - started
                proc.terminate()
                proc.wait(timeout=30)
                break
            if proc.poll() is not None:
                seconds = time.perf_counter() - started
                code = proc.returncode
                break
            if time.perf_counter() - started > timeout:
                proc.kill()
                raise TimeoutError(" ".join(cmd))
            time.sleep(0.1)
    finally:
        done.set()
        thread.join()
    return seconds, peak, code


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ready(port: int) -> bool:
    """True once `ragqa serve` on this port answers a question through its /ask API."""
    try:
        from gradio_client import Client

        result = Client(f"http://127.0.0.1:{port}", verbose=False).predict(
            "When was the US exit date from the INF treaty?", api_name="/ask"
        )
        return bool(result.get("answer"))
    except Exception:
        return False


def child_env(settings: Any, data_dir: Path, llm: str | None = None) -> dict[str, str]:
    """Environment of a child `ragqa` on a bench data dir, sharing the exported model;
    `llm` pins the answer backend (the load and scale runs measure the store, not the model)."""
    env = {**os.environ, "RAGQA_DATA_DIR": str(data_dir), "RAGQA_MODEL_CACHE": str(settings.store.models_dir)}
    return env | ({"RAGQA_LLM": llm} if llm else {})


def latency(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(values, 0.5) * 1000, 1), "p95_ms": round(percentile(values, 0.95) * 1000, 1)}


def question_texts(path: Path) -> list[str]:
    qs, _ = load_questions(path)
    return [q.question for q in qs]


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 1e9, 1)
    except ImportError:
        pass
    try:
        flags = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(
            (line.split(":", 1)[1].strip() for line in flags.splitlines() if line.startswith("model name")), ""
        )
        info["avx2"] = " avx2" in flags
    except OSError:
        pass
    return info


def chroma_server(path: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`chroma run` on loopback over the files in `path` (telemetry off); the caller terminates it."""
    port = free_port()
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    proc = subprocess.Popen(
        [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    return proc, port
