"""The error hierarchy shared by every ragqa package.

Messages say what went wrong *and* what to do about it; the CLI and the UI show
them as one line.
"""

from __future__ import annotations


class RagqaError(Exception):
    """Base of every error ragqa raises on purpose."""


class StoreError(RagqaError):
    """The vector store is unreachable, inconsistent or built with another model."""


class EmbeddingError(RagqaError):
    """The embedding model could not be loaded or called."""
