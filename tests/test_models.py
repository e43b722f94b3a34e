"""Assembling a split GGUF from its packages (size and SHA-256 checked, nothing half-written), and the llama.cpp build."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from qa.models import ModelError, ModelSpec, assemble


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """Three fake part packages on sys.path, as the PyPI packages lay them out."""
    blobs = [b"GGUF" + bytes([i]) * 1000 for i in range(1, 4)]
    for i, blob in enumerate(blobs, 1):
        pkg = tmp_path / "site" / f"fakemodel_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(blob)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for i in range(1, 4):
        sys.modules.pop(f"fakemodel_part{i}", None)
    return b"".join(blobs)


def spec(whole: bytes, **change: object) -> ModelSpec:
    fields = dict(name="fake", label="Fake", package="fakemodel_part", parts=3, size=len(whole))
    fields["sha256"] = hashlib.sha256(whole).hexdigest()
    return ModelSpec(**{**fields, **change})  # type: ignore[arg-type]


def test_parts_are_concatenated_in_order_once(parts: bytes, tmp_path: Path) -> None:
    path = assemble(spec(parts), tmp_path / "models")
    assert path.read_bytes() == parts
    mtime = path.stat().st_mtime_ns
    assert assemble(spec(parts), tmp_path / "models").stat().st_mtime_ns == mtime  # kept, not redone


def test_a_wrong_hash_is_refused_and_leaves_no_file(parts: bytes, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="reinstall"):
        assemble(spec(parts, sha256="0" * 64), tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_a_missing_part_says_what_to_install(parts: bytes, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="fakemodel-part4.*pip install"):
        assemble(spec(parts, parts=4), tmp_path / "models")


def test_llama_cpp_is_built_without_amx() -> None:
    """`make install` builds llama.cpp for this CPU but leaves AMX out: on a Sapphire Rapids VM here
    its AMX kernels stopped every answer with a general protection fault. A wheel built without
    our flags (pip's own cache, a plain `pip install`) says "AMX_INT8 = 1" here."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    assert "AMX" not in info, f"llama.cpp was built with AMX ({info.strip()}): run `make install` to rebuild it"
