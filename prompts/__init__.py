"""Prompt templates as data: one `.txt` file per template, loaded by name."""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["load"]


@cache
def load(name: str) -> str:
    """The text of `prompts/<name>.txt`."""
    return resources.files(__package__).joinpath(f"{name}.txt").read_text(encoding="utf-8")
