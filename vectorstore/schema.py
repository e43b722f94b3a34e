"""The one data contract between ingest and retrieval: chunk and document metadata."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

DOC_TYPES = ("news", "treaty", "law", "other")


class ChunkMeta(BaseModel):
    """Metadata stored with every chunk (flat, so Chroma can filter on it)."""

    doc_id: str = Field(description="Stable id of the document (hash of its resolved path).")
    source: str = Field(description="Resolved path of the source file.")
    file_name: str
    title: str
    doc_type: str = Field(description="news, treaty, law or other.")
    date: str = Field("", description="Publication date YYYY-MM-DD, empty when unknown.")
    date_num: int = Field(0, description="The date as YYYYMMDD for range filters, 0 when unknown.")
    section: str = Field(description="Readable section path, e.g. 'Treaty on Open Skies › Article XV › 2'.")
    start: int = Field(description="Offset of the chunk's first character in the document text.")
    end: int = Field(description="Offset one past the chunk's last character.")
    content_hash: str = Field(description="Hash of the whole document text; chunks of one version share it.")
    chunk_index: int

    def to_chroma(self) -> dict[str, Any]:
        return self.model_dump()

    @classmethod
    def from_chroma(cls, meta: dict[str, Any]) -> ChunkMeta:
        return cls.model_validate(meta)


class DocRecord(BaseModel):
    """One committed document: written only after all its chunks are stored."""

    doc_id: str
    source: str
    file_name: str
    title: str
    doc_type: str
    date: str = ""
    content_hash: str
    chunks: int
    chars: int
    text: str = Field("", description="The full document text, so citations can be checked against it.")


def date_num(date: str) -> int:
    """'2019-01-16' -> 20190116; '' -> 0."""
    digits = date.replace("-", "")
    return int(digits) if digits.isdigit() and len(digits) == 8 else 0
