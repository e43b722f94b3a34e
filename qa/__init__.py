"""Question answering, one module per stage:

rewrite (follow-ups) -> retrieval (hybrid dense + BM25) -> reader (instruct LLM over compact
passages) -> grounding (the answer's facts in a passage sentence: the citation) -> abstention
(support threshold). `answerer` runs the pipeline; `generators` and `models` hold the LLM
backends and the bundled model files; `extractive` is the no-LLM fast path and the fallback.
"""

from .answerer import ABSTAIN, Answerer
from .config import QAConfig
from .generators import Generator
from .retrieval import HybridRetriever, LexicalIndex, Retriever
from .types import Answer, Citation, Filters, Passage, Status

__all__ = [
    "ABSTAIN",
    "Answer",
    "Answerer",
    "Citation",
    "Filters",
    "Generator",
    "HybridRetriever",
    "LexicalIndex",
    "Passage",
    "QAConfig",
    "Retriever",
    "Status",
]
