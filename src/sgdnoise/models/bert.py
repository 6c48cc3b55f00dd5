"""BERT sequence classifiers through Hugging Face ``transformers`` (optional extra, imported only
when a BERT is built).

``BertForSequenceClassification`` (Devlin et al. 2019): token, position and segment embeddings,
``L`` Transformer encoder layers of width ``H`` with ``H/64`` attention heads and a ``4H``
feed-forward layer, a tanh pooler on ``[CLS]`` and a linear classifier; it returns plain logits
``(N, num_outputs)`` so every sgdnoise routine can take it. Input: token ids ``(N, seq_len)``
(``input_shape = (seq_len,)``, int64, or floats holding integers); positions holding
``pad_token_id`` are masked out of attention (the attention mask is ``ids != pad_token_id``), so a
sentence's logits do not depend on how much padding follows it, and with ``pad_token_id=None``
nothing is masked.

=============  ==  ====  ================================  ==============================
name           L   H     parameters (vocab 30 522, 2 out)  source
=============  ==  ====  ================================  ==============================
bert_base      12  768   109.5 M                           Devlin et al. 2019
bert_small     4   512   28.8 M                            Turc et al. 2019 (BERT-Small)
bert_mini      4   256   11.2 M                            Turc et al. 2019 (BERT-Mini)
tiny_bert      2   64    0.14 M (vocab 1000)               a small random stand-in
=============  ==  ====  ================================  ==============================

The named sizes are randomly initialised from their ``BertConfig`` (no download), or, with
``checkpoint=DIR``, loaded from a local pretrained folder (``config.json`` and weights, as
``save_pretrained`` writes them) with ``from_pretrained(DIR, local_files_only=True)``; the
classifier is then new (randomly initialised) unless the folder holds one with ``num_outputs``
classes. A model built on a data set passes the data's ``vocab_size`` (the embedding table's
height) and ``pad_token_id`` (:func:`sgdnoise.experiments.networks.network_for` does it); a
pretrained model needs its own tokenizer (``load_dataset("cola", tokenizer=DIR)``).

Dropout (``dropout``, BERT's 0.1 for the named sizes) acts in training mode only; the noise is
measured in eval mode, where a sample's loss is a function of the weights and that sample alone.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from sgdnoise.errors import ConfigError, DataFileError

#: (layers L, hidden size H) of the named sizes; heads H/64 and feed-forward 4H (Turc et al. 2019).
BERT_SIZES = {"bert_base": (12, 768), "bert_small": (4, 512), "bert_mini": (4, 256)}
BERT_VOCAB_SIZE = 30522  # the uncased English WordPiece vocabulary of Devlin et al.
BERT_MAX_POSITIONS = 512


def _transformers():
    try:
        import transformers
    except ImportError as exc:
        raise ConfigError(
            "BERT models need the optional package transformers: pip install transformers (or sgdnoise[bert])"
        ) from exc
    return transformers


def _sequence_length(input_shape: tuple[int, ...], name: str, max_positions: int) -> int:
    if len(input_shape) != 1:
        raise ConfigError(f"{name} takes token-id sequences, input_shape=(seq_len,); got {tuple(input_shape)}")
    if not 1 <= int(input_shape[0]) <= max_positions:
        raise ConfigError(
            f"{name}: sequences of {input_shape[0]} tokens do not fit its {max_positions} positions; "
            "load the data with a smaller max_length"
        )
    return int(input_shape[0])


class BertClassifier(nn.Module):
    """A ``BertForSequenceClassification`` (attribute :attr:`bert`) that takes token ids and
    returns logits; see the module docstring."""

    def __init__(self, bert: nn.Module, pad_token_id: int | None):
        super().__init__()
        self.bert = bert
        self.pad_token_id = None if pad_token_id is None else int(pad_token_id)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(N, num_outputs)`` of token ids ``(N, seq_len)``; ``attention_mask`` (1 =
        attend) defaults to ``input_ids != pad_token_id``."""
        ids = input_ids.long()
        if attention_mask is None and self.pad_token_id is not None:
            attention_mask = (ids != self.pad_token_id).long()
        return self.bert(input_ids=ids, attention_mask=attention_mask).logits


def named_bert(
    size: str,
    input_shape: tuple[int, ...],
    num_outputs: int,
    *,
    vocab_size: int | None = None,
    pad_token_id: int | None = 0,
    dropout: float = 0.1,
    checkpoint: str | Path | None = None,
) -> BertClassifier:
    """BERT of size ``size`` (a key of :data:`BERT_SIZES`) for ``num_outputs`` classes, random or
    from the local pretrained folder ``checkpoint``. ``vocab_size``: the embedding table's height
    (default: BERT's 30 522; with a checkpoint, the data's ids must stay below the checkpoint's)."""
    transformers = _transformers()
    layers, hidden = BERT_SIZES[size]
    _sequence_length(input_shape, size, BERT_MAX_POSITIONS)
    if checkpoint is not None:
        bert = _pretrained(transformers, size, Path(checkpoint).expanduser(), num_outputs, dropout)
        if vocab_size is not None and int(vocab_size) > bert.config.vocab_size:
            raise ConfigError(
                f"the data's tokenizer has {vocab_size} tokens but {checkpoint} embeds {bert.config.vocab_size}; "
                f"load the data with that checkpoint's tokenizer (tokenizer={checkpoint})"
            )
        return BertClassifier(bert, pad_token_id)
    config = transformers.BertConfig(
        vocab_size=BERT_VOCAB_SIZE if vocab_size is None else int(vocab_size),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        intermediate_size=4 * hidden,
        max_position_embeddings=BERT_MAX_POSITIONS,
        hidden_dropout_prob=float(dropout),
        attention_probs_dropout_prob=float(dropout),
        pad_token_id=0 if pad_token_id is None else int(pad_token_id),
        num_labels=int(num_outputs),
    )
    return BertClassifier(transformers.BertForSequenceClassification(config), pad_token_id)


def _pretrained(transformers, size: str, folder: Path, num_outputs: int, dropout: float) -> nn.Module:
    if not (folder / "config.json").is_file():
        raise DataFileError(
            f"no pretrained BERT at {folder}: checkpoint= must be a local folder with config.json and the weights "
            "(model.safetensors or pytorch_model.bin), e.g. as save_pretrained writes it or a copy of "
            "bert-base-uncased; nothing is downloaded"
        )
    try:
        bert = transformers.BertForSequenceClassification.from_pretrained(
            str(folder),
            local_files_only=True,
            num_labels=int(num_outputs),
            ignore_mismatched_sizes=True,
            hidden_dropout_prob=float(dropout),
            attention_probs_dropout_prob=float(dropout),
        )
    except (OSError, ValueError, RuntimeError) as exc:
        raise DataFileError(f"cannot load the pretrained BERT in {folder}: {exc}") from exc
    found = (bert.config.num_hidden_layers, bert.config.hidden_size)
    if found != BERT_SIZES[size]:
        named = {v: k for k, v in BERT_SIZES.items()}.get(found)
        raise ConfigError(
            f"{folder} holds a BERT with {found[0]} layers of width {found[1]}, not {size}'s "
            f"{BERT_SIZES[size][0]} × {BERT_SIZES[size][1]}" + (f"; build it as {named!r}" if named else "")
        )
    return bert


def _named(size: str):
    def build(
        input_shape: tuple[int, ...],
        num_outputs: int,
        *,
        vocab_size: int | None = None,
        pad_token_id: int | None = 0,
        dropout: float = 0.1,
        checkpoint: str | None = None,
    ) -> BertClassifier:
        return named_bert(
            size,
            input_shape,
            num_outputs,
            vocab_size=vocab_size,
            pad_token_id=pad_token_id,
            dropout=dropout,
            checkpoint=checkpoint,
        )

    build.__name__ = build.__qualname__ = size
    build.__doc__ = f"{size}: BERT with {BERT_SIZES[size][0]} layers of width {BERT_SIZES[size][1]} (see module)."
    return build


bert_base, bert_small, bert_mini = (_named(size) for size in BERT_SIZES)


class TinyBert(BertClassifier):
    """A small random ``BertForSequenceClassification`` (sizes as options), no dropout by
    default so gradients are deterministic at fixed weights."""

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
        pad_token_id: int | None = 0,
        seed: int = 0,
    ):
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
            pad_token_id=0 if pad_token_id is None else int(pad_token_id),
            num_labels=num_outputs,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            bert = BertForSequenceClassification(config)
        super().__init__(bert, pad_token_id)
