"""A tiny BERT classifier through Hugging Face ``transformers`` (optional extra).

Randomly initialised (no download): ``BertForSequenceClassification`` with a small
``BertConfig``. Input: token ids ``(N, seq_len)`` int64 (``input_shape = (seq_len,)``);
output: logits ``(N, num_outputs)``. Install with ``pip install transformers`` (it does not
pull torch). Dropout is off by default so gradients are deterministic at fixed weights.
"""

from __future__ import annotations

import torch
from torch import nn

from sgdnoise.errors import ConfigError


class TinyBert(nn.Module):
    """``BertForSequenceClassification`` returning plain logits, for any sgdnoise routine."""

    def __init__(
        self,
        input_shape: tuple[int, ...],
        num_outputs: int,
        *,
        vocab_size: int = 1000,
        hidden_size: int = 64,
        num_layers: int = 2,
        num_heads: int = 2,
        intermediate_size: int = 128,
        dropout: float = 0.0,
        seed: int = 0,
    ):
        super().__init__()
        try:
            from transformers import BertConfig, BertForSequenceClassification
        except ImportError as exc:
            raise ConfigError(
                "the tiny_bert model needs the optional package transformers: pip install transformers"
            ) from exc
        if len(input_shape) != 1:
            raise ConfigError(f"tiny_bert takes token-id sequences, input_shape=(seq_len,); got {tuple(input_shape)}")
        config = BertConfig(
            vocab_size=vocab_size,
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=num_heads,
            intermediate_size=intermediate_size,
            max_position_embeddings=max(int(input_shape[0]), 8),
            hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout,
            num_labels=num_outputs,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.bert = BertForSequenceClassification(config)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.bert(input_ids=input_ids.long()).logits
