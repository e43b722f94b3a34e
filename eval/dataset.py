"""Question sets: JSONL (the format of shared/eval/README.md) or CSV with the same columns."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from qa.text import STOP, WORD
from vectorstore import RagqaError

TypedAs = Literal["asked", "lower", "keywords"]


class Question(BaseModel):
    id: str
    question: str
    answer: str = ""
    aliases: list[str] = Field(default_factory=list)
    must: list[list[str]] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    evidence: str = ""
    type: str = ""
    # Earlier turns of the same conversation, asked first in order: `question` is a follow-up to them.
    history: list[str] = Field(default_factory=list)

    @field_validator("question")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("empty question")
        return v


def _csv_list(value: str) -> list[str]:
    value = (value or "").strip()
    if not value:
        return []
    if value.startswith("["):
        return list(json.loads(value))
    return [v.strip() for v in value.split("|") if v.strip()]


def _csv_must(value: str) -> list[list[str]]:
    """JSON ('[["a","b"],["c"]]') or 'a|b;c' (groups by ';', alternatives by '|')."""
    value = (value or "").strip()
    if not value:
        return []
    if value.startswith("["):
        return [list(g) for g in json.loads(value)]
    return [[a.strip() for a in g.split("|") if a.strip()] for g in value.split(";") if g.strip()]


def load_questions(path: Path) -> tuple[list[Question], list[str]]:
    """All valid questions, plus one message per malformed line (with its line number)."""
    if not path.exists():
        raise RagqaError(f"question set {path} not found")
    questions: list[Question] = []
    errors: list[str] = []
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for n, row in enumerate(csv.DictReader(handle), 2):
                try:
                    questions.append(
                        Question(
                            id=row.get("id") or f"q{n - 1}",
                            question=row.get("question", ""),
                            answer=row.get("answer", ""),
                            aliases=_csv_list(row.get("aliases", "")),
                            must=_csv_must(row.get("must", "")),
                            sources=_csv_list(row.get("sources", "")),
                            evidence=row.get("evidence", ""),
                            type=row.get("type", ""),
                            history=_csv_list(row.get("history", "")),
                        )
                    )
                except (ValidationError, json.JSONDecodeError, TypeError) as exc:
                    errors.append(f"{path}:{n}: {_short(exc)}")
    else:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                data.setdefault("id", f"q{n}")
                questions.append(Question.model_validate(data))
            except (ValidationError, json.JSONDecodeError, AttributeError) as exc:
                errors.append(f"{path}:{n}: {_short(exc)}")
    seen: set[str] = set()
    unique = []
    for q in questions:
        if q.id in seen:
            errors.append(f"{path}: duplicate id {q.id}; kept the first")
            continue
        seen.add(q.id)
        unique.append(q)
    return unique, errors


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}"
    return str(exc).split("\n")[0]


def typed_as(questions: list[Question], style: TypedAs) -> list[Question]:
    """A question set retyped the way users type, to measure that style on sets nobody here wrote:
    `lower` is lower case without the final "?"; `keywords` also drops the words search ignores
    (`qa.text.STOP`: "when was the US exit date from the INF treaty?" -> "us exit date inf treaty").
    Yes/no questions are left out of `keywords`: without their verb they no longer ask yes or no."""
    if style == "asked":
        return questions
    out = []
    for q in questions:
        text = re.sub(r"[?\s]+$", "", q.question.lower())
        if style == "keywords":
            if q.type == "yes-no":
                continue
            text = " ".join(w for w in WORD.findall(text) if w not in STOP)
        out.append(q.model_copy(update={"question": text or q.question}))
    return out
