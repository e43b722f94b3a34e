"""Ingest errors: one per file, shown as one line, never fatal for the run."""

from __future__ import annotations

from vectorstore import RagqaError


class IngestError(RagqaError):
    """A file could not be turned into a document; the message says why and what to do."""
