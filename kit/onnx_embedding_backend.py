"""ONNX Runtime under sentence-transformers, for the two `Onnx…Embedder` components.

Why not sentence-transformers' own `backend="onnx"`: it loads the model through `optimum-onnx`, whose newest
release (0.1.0) requires `transformers<4.58`, while sentence-transformers 6.2 requires `transformers>=5`; with
transformers 5.24 installed, `optimum.onnxruntime` fails to import (`is_offline_mode` moved). So this module does
the one thing that backend does for us: it loads the SentenceTransformer as usual (tokenizer, 256-token window,
mean pooling, normalisation all stay sentence-transformers') and puts an ONNX Runtime session in place of the
PyTorch BERT inside its Transformer module. The YAML keeps sentence-transformers' vocabulary
(`backend: onnx`, `model_kwargs: {file_name: onnx/model_qint8.onnx}`), so when optimum-onnx supports
transformers 5 the stock embedder classes take the same YAML.

    backend = load_onnx_embedding_backend(model="sentence-transformers/all-MiniLM-L6-v2",
                                          model_kwargs={"file_name": "onnx/model_qint8.onnx"},
                                          tokenizer_kwargs={"model_max_length": 256})
    backend.embed(["a question"], normalize_embeddings=True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from haystack.utils.auth import Secret
from haystack_integrations.components.embedders.sentence_transformers.embedding_backend.backend import (
    _SentenceTransformersEmbeddingBackend,
)

# model_kwargs keys that configure the ONNX session; everything else goes to sentence-transformers.
ONNX_MODEL_KWARGS = ("file_name", "provider", "intra_op_num_threads")
DEFAULT_FILE_NAME = "onnx/model.onnx"


class OnnxRuntimeEncoder(torch.nn.Module):
    """Stands in for the Hugging Face encoder inside sentence-transformers' Transformer module.

    Takes the tokenizer's tensors and returns `last_hidden_state` (token embeddings), as the PyTorch model does;
    pooling and normalisation follow in sentence-transformers. A Module without parameters, so
    sentence-transformers' `.to()`/`.eval()` calls pass through.
    """

    def __init__(self, session: Any, config: Any) -> None:
        super().__init__()
        self.session = session
        self.config = config  # sentence-transformers reads e.g. config.output_hidden_states
        self.input_names = {item.name for item in session.get_inputs()}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids=None, **_: Any):
        feeds = {"input_ids": input_ids.cpu().numpy(), "attention_mask": attention_mask.cpu().numpy()}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = (
                token_type_ids.cpu().numpy() if token_type_ids is not None else np.zeros_like(feeds["input_ids"])
            )
        (hidden,) = self.session.run(["last_hidden_state"], feeds)
        return {"last_hidden_state": torch.from_numpy(hidden)}


def resolve_model_file(model: str, file_name: str, revision: str | None, local_files_only: bool) -> Path:
    """The ONNX file inside a local model folder or the cached hub snapshot (`file_name`, else `onnx/file_name`)."""
    candidates = [file_name] if "/" in file_name else [file_name, f"onnx/{file_name}"]
    if Path(model).is_dir():
        for candidate in candidates:
            if (Path(model) / candidate).is_file():
                return Path(model) / candidate
    else:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

        for candidate in candidates:
            try:
                return Path(hf_hub_download(model, candidate, revision=revision, local_files_only=local_files_only))
            except (EntryNotFoundError, LocalEntryNotFoundError):
                continue
    raise FileNotFoundError(
        f"no ONNX file {file_name!r} for {model!r} (tried {candidates}); run scripts/install_model.py to export it"
    )


def onnx_session(path: Path, provider: str | None, intra_op_num_threads: int):
    """An ONNX Runtime session; `intra_op_num_threads` 0 means ONNX Runtime's default (one per core)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = intra_op_num_threads
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads spinning for work would take CPU from the other requests on our 2 cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = [provider] if provider else ["CPUExecutionProvider"]
    return onnxruntime.InferenceSession(str(path), sess_options=options, providers=providers)


def load_onnx_embedding_backend(
    *,
    model: str,
    device: str | None = None,
    auth_token: Secret | None = None,
    trust_remote_code: bool = False,
    revision: str | None = None,
    local_files_only: bool = False,
    truncate_dim: int | None = None,
    model_kwargs: dict[str, Any] | None = None,
    tokenizer_kwargs: dict[str, Any] | None = None,
    config_kwargs: dict[str, Any] | None = None,
) -> _SentenceTransformersEmbeddingBackend:
    """The integration's embedding backend (its `embed()` as for PyTorch), computing with ONNX Runtime."""
    onnx_kwargs = {key: value for key, value in (model_kwargs or {}).items() if key in ONNX_MODEL_KWARGS}
    torch_kwargs = {key: value for key, value in (model_kwargs or {}).items() if key not in ONNX_MODEL_KWARGS}
    path = resolve_model_file(model, onnx_kwargs.get("file_name", DEFAULT_FILE_NAME), revision, local_files_only)
    backend = _SentenceTransformersEmbeddingBackend(
        model=model, device=device, auth_token=auth_token, trust_remote_code=trust_remote_code, revision=revision,
        local_files_only=local_files_only, truncate_dim=truncate_dim, model_kwargs=torch_kwargs or None,
        tokenizer_kwargs=tokenizer_kwargs, config_kwargs=config_kwargs, backend="torch",
    )
    transformer = backend.model[0]
    session = onnx_session(path, onnx_kwargs.get("provider"), int(onnx_kwargs.get("intra_op_num_threads", 1)))
    # The PyTorch weights are dropped here; only the tokenizer, config and pooling stay.
    transformer.model = OnnxRuntimeEncoder(session, transformer.model.config)
    backend.onnx_file = str(path)
    return backend


def onnx_backend_of(embedder: Any) -> _SentenceTransformersEmbeddingBackend:
    """The ONNX backend for a SentenceTransformers text or document embedder, from its own init parameters
    (what both `Onnx…Embedder.warm_up()` need), with the embedder's `model_max_length` as the window."""
    backend = load_onnx_embedding_backend(
        model=embedder.model, device=embedder.device.to_torch_str(), auth_token=embedder.token,
        trust_remote_code=embedder.trust_remote_code, revision=embedder.revision,
        local_files_only=embedder.local_files_only, truncate_dim=embedder.truncate_dim,
        model_kwargs=embedder.model_kwargs, tokenizer_kwargs=embedder.tokenizer_kwargs,
        config_kwargs=embedder.config_kwargs,
    )
    if embedder.tokenizer_kwargs and embedder.tokenizer_kwargs.get("model_max_length"):
        backend.model.max_seq_length = embedder.tokenizer_kwargs["model_max_length"]
    return backend
