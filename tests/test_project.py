"""Promises about the project itself: README stays true, the CLI starts fast, APIs are explicit."""

from __future__ import annotations

import subprocess
import sys

from settings import config_table
from tests.conftest import ROOT


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    for var, default, _ in config_table():
        assert f"| `{var}` | {default or '(unset)'} |" in readme, (
            f"{var} missing or its default wrong in README's table"
        )


def test_help_does_not_import_heavy_libraries() -> None:
    code = "import sys; from cli import build_parser; build_parser(); print(sorted(m for m in ('torch','chromadb','gradio','llama_cpp','sentence_transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_packages_declare_their_public_api() -> None:
    import eval as ev
    import ingest
    import prompts
    import qa
    import vectorstore

    for module in (ev, ingest, prompts, qa, vectorstore):
        assert module.__all__ and all(hasattr(module, name) for name in module.__all__)
