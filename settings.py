"""One Settings object, composed of each package's config; read from RAGQA_* env and .env."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ingest.config import IngestConfig
from qa.config import QAConfig
from vectorstore.config import StoreConfig


class Settings(BaseModel):
    store: StoreConfig = Field(default_factory=StoreConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    qa: QAConfig = Field(default_factory=QAConfig)

    def override(self, **flags: Any) -> Settings:
        """Apply CLI flags (None means 'not given') to whichever section owns the field."""
        updates: dict[str, dict[str, Any]] = {"store": {}, "ingest": {}, "qa": {}}
        for key, value in flags.items():
            if value is None:
                continue
            for section in updates:
                if key in type(getattr(self, section)).model_fields:
                    updates[section][key] = value
                    break
            else:
                raise KeyError(key)
        # Re-validate so flags get the same coercion as env values (str -> Path, ...).
        return Settings(
            store=_validated(self.store, updates["store"]),
            ingest=_validated(self.ingest, updates["ingest"]),
            qa=_validated(self.qa, updates["qa"]),
        )


def _validated(model: Any, update: dict[str, Any]) -> Any:
    if not update:
        return model
    return type(model).model_validate({**model.model_dump(), **update})


def config_table() -> list[tuple[str, str, str]]:
    """(env var, default, description) for every setting: the README's configuration table."""
    rows = []
    for model in (StoreConfig, IngestConfig, QAConfig):
        for name, field in model.model_fields.items():
            default = field.default
            rows.append((f"RAGQA_{name.upper()}", "" if default is None else str(default), field.description or ""))
    return rows
