"""Question answering, one module per stage:

rewrite (follow-ups) -> search (hybrid dense + BM25 retrieval in `retrieval`, scoped per part)
-> part_reader (the instruct LLM in `reader` over compact passages, and its retries) ->
verifier (the answer's facts in a passage sentence, via `grounding`: the citation) ->
abstention (support threshold). `answerer` runs the pipeline; `generators` and `models` hold
the LLM backends and the bundled model files; `extractive` is the no-LLM fast path and the
fallback.
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
