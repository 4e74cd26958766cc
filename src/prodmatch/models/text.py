"""Text encoder: Hugging Face transformer -> attention-masked mean pooling -> neck -> L2-normalised embedding.

Titles go through :func:`prodmatch.data.clean_title` and are truncated to ``max_length`` tokens.

``freeze_layers = N > 0`` freezes the token embeddings and the first N transformer layers (kept in eval
mode, so they are deterministic). Their output for a title never changes, so the training loop can
compute it once (:meth:`TextEncoder.prefix`) and train on the cache (``forward(hidden_states=...)``), which
makes CPU fine-tuning of the top layers several times faster. Freezing needs a BERT-style
``model.encoder.layer`` list (BERT, RoBERTa, XLM-R, MiniLM, IndoBERT...).

The cache holds the frozen output in float16 (half the memory of float32). :meth:`TextEncoder.prefix`
rounds to float16 on every path, cached or not, so a title gets the same embedding at test time as the
top layers saw in training.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from prodmatch.compat import import_transformers
from prodmatch.data import clean_title
from prodmatch.errors import ArgumentError
from prodmatch.models.layers import Neck, l2n, masked_mean
from prodmatch.models.pretrained import create_text_backbone

FROZEN_CACHE_DTYPE = torch.float16  # the frozen-layer output, cached or computed on the fly


@dataclass
class TextEncoderSpec:
    """Everything needed to rebuild a :class:`TextEncoder` besides the Hugging Face config/tokenizer files."""

    backbone: str = "indobenchmark/indobert-base-p2"
    embedding_dim: int = 512
    neck: str = "linear_bn"
    dropout: float = 0.0
    max_length: int = 64
    freeze_layers: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


class TextEncoder(nn.Module):
    kind = "text"

    def __init__(self, transformer: nn.Module, tokenizer, spec: TextEncoderSpec):
        super().__init__()
        self.spec = spec
        self.transformer = transformer
        self.tokenizer = tokenizer
        if getattr(transformer, "pooler", None) is not None:
            transformer.pooler = None  # unused by mean pooling (and unused parameters upset DDP)
        hidden = int(transformer.config.hidden_size)
        self.neck = Neck(hidden, spec.embedding_dim, spec.neck, spec.dropout)
        self.embedding_dim = self.neck.out_features
        self.freeze_layers = int(spec.freeze_layers)
        if self.freeze_layers:
            layers = self.layers()
            if not 0 < self.freeze_layers <= len(layers):
                raise ArgumentError(f"--freeze-layers {self.freeze_layers}: freeze_layers must be in 1..{len(layers)} "
                                    f"for {spec.backbone} (its transformer layers)")
            for module in self.frozen_modules():
                module.requires_grad_(False)
                module.eval()

    # ----------------------------------------------------------------------------------- construction
    @classmethod
    def create(cls, spec: TextEncoderSpec, pretrained: str = "auto", allow_download: bool = False) -> TextEncoder:
        model, tokenizer, _ = create_text_backbone(spec.backbone, pretrained, allow_download)
        return cls(model, tokenizer, spec)

    def hf_files(self) -> dict[str, bytes]:
        """The Hugging Face config and tokenizer files (no weights), to rebuild without the original source."""
        with tempfile.TemporaryDirectory() as tmp:
            self.transformer.config.save_pretrained(tmp)
            self.tokenizer.save_pretrained(tmp)
            return {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}

    @classmethod
    def from_hf_files(cls, files: dict[str, bytes], spec: TextEncoderSpec) -> TextEncoder:
        """An encoder with random weights built from :meth:`hf_files` (load a state dict into it next)."""
        transformers = import_transformers()
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in files.items():
                (Path(tmp) / Path(name).name).write_bytes(data)
            config = transformers.AutoConfig.from_pretrained(tmp, local_files_only=True)
            tokenizer = transformers.AutoTokenizer.from_pretrained(tmp, local_files_only=True)
        model = transformers.AutoModel.from_config(config)
        return cls(model, tokenizer, spec)

    # ----------------------------------------------------------------------------------------- layers
    def layers(self) -> nn.ModuleList:
        encoder = getattr(self.transformer, "encoder", None)
        layers = getattr(encoder, "layer", None)
        if not isinstance(layers, nn.ModuleList):
            raise ArgumentError(f"--freeze-layers: {type(self.transformer).__name__} has no encoder.layer list; "
                                "freeze_layers needs a BERT-style encoder")
        return layers

    def frozen_modules(self) -> list[nn.Module]:
        if not self.freeze_layers:
            return []
        return [self.transformer.embeddings, *list(self.layers())[: self.freeze_layers]]

    def train(self, mode: bool = True) -> TextEncoder:
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        return self

    def head_parameters(self):
        """(backbone parameters that train, neck parameters) for optimiser groups."""
        return [p for p in self.transformer.parameters() if p.requires_grad], list(self.neck.parameters())

    # ------------------------------------------------------------------------------------------ input
    def tokenize(self, titles) -> list[list[int]]:
        """Token ids (special tokens included, truncated to max_length) of cleaned titles."""
        cleaned = [clean_title(t) for t in titles]
        return self.tokenizer(cleaned, truncation=True, max_length=self.spec.max_length)["input_ids"]

    def pad(self, ids: list[list[int]]) -> dict[str, torch.Tensor]:
        pad_id = self.tokenizer.pad_token_id or 0
        width = max(1, max(len(x) for x in ids))
        input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for i, x in enumerate(ids):
            input_ids[i, : len(x)] = torch.as_tensor(x, dtype=torch.long)
            mask[i, : len(x)] = 1
        return {"input_ids": input_ids, "attention_mask": mask}

    # ---------------------------------------------------------------------------------------- forward
    def _layer_mask(self, hidden: torch.Tensor, attention_mask: torch.Tensor):
        try:
            from transformers.masking_utils import create_bidirectional_mask
        except ImportError:  # transformers 4.x
            return self.transformer.get_extended_attention_mask(attention_mask, attention_mask.shape)
        # positional: transformers 5.0 (Kaggle's image) names the second argument input_embeds, later inputs_embeds
        return create_bidirectional_mask(self.transformer.config, hidden, attention_mask)

    def _run_layers(self, hidden, attention_mask, layers) -> torch.Tensor:
        mask = self._layer_mask(hidden, attention_mask)
        for layer in layers:
            out = layer(hidden, mask)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    @torch.no_grad()
    def prefix(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Hidden states after the frozen part (embeddings + first freeze_layers layers), in the cache's
        precision (``FROZEN_CACHE_DTYPE``) whether or not they are cached."""
        if not self.freeze_layers:
            raise ValueError("prefix() needs freeze_layers > 0")
        hidden = self.transformer.embeddings(input_ids=input_ids)
        hidden = self._run_layers(hidden, attention_mask, list(self.layers())[: self.freeze_layers])
        return hidden.to(FROZEN_CACHE_DTYPE)

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                hidden_states: torch.Tensor | None = None) -> torch.Tensor:
        if attention_mask is None:
            raise ValueError("attention_mask is required")
        if hidden_states is not None and not self.freeze_layers:
            raise ValueError("hidden_states input needs freeze_layers > 0")
        if self.freeze_layers:
            if hidden_states is None:
                hidden_states = self.prefix(input_ids, attention_mask)
            hidden = self._run_layers(hidden_states.to(self.neck_dtype()), attention_mask,
                                      list(self.layers())[self.freeze_layers:])
        else:
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return l2n(self.neck(masked_mean(hidden, attention_mask)))

    def neck_dtype(self) -> torch.dtype:
        return next(self.transformer.parameters()).dtype
