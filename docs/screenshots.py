"""Regenerate the README's screenshots: a desktop answer with its sources and the phone layout.

    python docs/screenshots.py                 # starts `ragqa serve --docs ../shared/corpus`
    python docs/screenshots.py --url http://127.0.0.1:7860   # or uses a running one

Debian's Chromium through Playwright (`apt-get install chromium`); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "When was the US exit date from the INF treaty?"


def _serve(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "RAGQA_DATA_DIR": tempfile.mkdtemp(prefix="ragqa-shots-"), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "cli", "serve", "--docs", str(ROOT.parent / "shared" / "corpus"), "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("ragqa serve did not come up")


def shoot(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--headless"])
        for name, width, height in (("desktop", 1400, 900), ("phone", 420, 900)):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url)
            page.locator("#question textarea").fill(QUESTION)
            page.locator("#ask").click()
            page.get_by_text("Sources: [1]", exact=False).last.wait_for(timeout=180_000)
            page.locator("#sources mark").first.wait_for(timeout=30_000)
            page.screenshot(path=str(out / f"screenshot-{name}.png"), full_page=name == "phone")
            page.close()
        browser.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="a running ragqa serve (default: start one on the shared corpus)")
    p.add_argument("--out", type=Path, default=ROOT / "docs")
    args = p.parse_args()
    proc = None
    url = args.url
    if url is None:
        port = 7871
        proc = _serve(port)
        url = f"http://127.0.0.1:{port}"
    try:
        shoot(url, args.out)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"wrote {args.out}/screenshot-desktop.png and screenshot-phone.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
