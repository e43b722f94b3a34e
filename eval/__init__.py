"""Evaluation: question sets -> predictions -> metrics -> report."""

from .dataset import Question, load_questions
from .metrics import (
    citation_precision,
    contains,
    crag_score,
    evidence_found,
    is_abstention,
    is_correct,
    judge_row,
    percentile,
    summarize,
)
from .runner import EvalRun, run_eval

__all__ = [
    "EvalRun",
    "Question",
    "citation_precision",
    "contains",
    "crag_score",
    "evidence_found",
    "is_abstention",
    "is_correct",
    "judge_row",
    "load_questions",
    "percentile",
    "run_eval",
    "summarize",
]
