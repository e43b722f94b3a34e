"""Question answering: retrieve, answer, cite, verify."""

from .answerer import ABSTAIN, Answerer
from .config import QAConfig
from .retrieval import HybridRetriever, LexicalIndex, Retriever
from .types import Answer, Citation, Filters, Passage

__all__ = [
    "ABSTAIN",
    "Answer",
    "Answerer",
    "Citation",
    "Filters",
    "HybridRetriever",
    "LexicalIndex",
    "Passage",
    "QAConfig",
    "Retriever",
]
