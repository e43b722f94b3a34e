"""Ingest: read files, split them along their structure, embed and store them."""

from .chunking import Chunk, chunk_document, embed_text, infer_doc_type
from .config import IngestConfig
from .errors import IngestError
from .loaders import SUPPORTED, LoadedDoc, decode_text, load_file
from .lock import ingest_lock
from .pipeline import FileError, Ingestor, IngestReport

__all__ = [
    "SUPPORTED",
    "Chunk",
    "FileError",
    "IngestConfig",
    "IngestError",
    "IngestReport",
    "Ingestor",
    "LoadedDoc",
    "chunk_document",
    "decode_text",
    "embed_text",
    "infer_doc_type",
    "ingest_lock",
    "load_file",
]
