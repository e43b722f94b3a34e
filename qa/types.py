"""The answer contract shared by the CLI (`--json`), the UI and eval."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Filters(BaseModel):
    """Metadata filters for retrieval."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field fails loudly instead of vanishing

    doc_types: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list, description="Substrings of file names.")
    since: str | None = Field(None, description="YYYY-MM-DD, inclusive.")
    until: str | None = Field(None, description="YYYY-MM-DD, inclusive.")

    def is_empty(self) -> bool:
        return not (self.doc_types or self.sources or self.since or self.until)


class Passage(BaseModel):
    """A retrieved chunk with its provenance."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field fails loudly instead of vanishing

    id: str
    text: str
    source: str
    file_name: str
    title: str
    doc_type: str
    date: str = ""
    section: str
    start: int
    end: int
    score: float = Field(description="Fused retrieval score (higher is better).")
    dense: float = Field(0.0, description="Cosine similarity to the question.")

    @property
    def doc_id(self) -> str:
        """The id of the passage's document (a chunk id is '<document>-<version>-<number>')."""
        return self.id.rsplit("-", 2)[0]


class Citation(BaseModel):
    """What an inline marker [n] points at: a document, its section and the exact quote."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field fails loudly instead of vanishing

    n: int
    source: str = Field(description="File name of the document.")
    source_path: str = Field("", description="Full path of the document.")
    title: str
    date: str = ""
    doc_type: str = ""
    section: str
    quote: str = Field(description="The supporting sentence, verbatim.")
    start: int = Field(description="Offset of the quote in the document text.")
    end: int
    score: float
    passage: str = Field("", description="The whole passage the quote comes from.")


class Status(BaseModel):
    """What the answer step is doing while no words stream (a part begins, the model reads again),
    so the chat can say so instead of showing a reply that is about to be replaced."""

    model_config = ConfigDict(extra="forbid")

    text: str


class Answer(BaseModel):
    """An answer, or an abstention, with the passages it stands on."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field fails loudly instead of vanishing

    question: str
    rewritten_question: str
    answer: str
    abstained: bool
    backend: str
    citations: list[Citation] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list, description="The closest passages (shown when abstaining).")
    searched_in: list[str] = Field(
        default_factory=list,
        description="Files a follow-up was searched in (the last answer's sources); empty when all were searched.",
    )
    notice: str = Field("", description="E.g. 'the LLM answer failed verification; extractive answer shown'.")
    fallback: bool = Field(False, description="True when the generated answer was replaced by the extractive one.")
    support: float = Field(
        0.0, description="Lowest support score of the answer's parts (abstention compares it with the threshold)."
    )
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def turn(self) -> tuple[str, str]:
        """This answer as a turn of the conversation that later follow-ups are rewritten against:
        the question as it was searched ("who announced it?" is "Who announced the US exit from
        the INF treaty?"), so that the next follow-up finds the subject spelt out."""
        return self.rewritten_question or self.question, self.answer
