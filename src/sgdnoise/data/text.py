"""Sentences to token ids: a local tokenizer, or a WordPiece vocabulary trained on the sentences.

A language model reads a sentence as integer token ids ``[CLS] t_1 … t_n [SEP]`` (Devlin et al.
2019, §3), cut to ``max_length`` tokens and padded with the ``[PAD]`` id up to a common length
``L`` (the longest encoded sentence, at most ``max_length``), so a set of sentences is one int64
tensor ``(N, L)``. Two ways to get the tokenizer, both offline, both through the ``tokenizers``
package (imported only here, only when called):

- ``tokenizer=path``: a local tokenizer — a ``tokenizer.json`` file, a WordPiece ``vocab.txt``
  file, or a folder holding one of them (a pretrained BERT's folder). A ``vocab.txt`` lower-cases
  unless the folder's ``tokenizer_config.json`` says ``"do_lower_case": false``.
- no tokenizer: a BERT WordPiece vocabulary (Wu et al. 2016; lower-cased, ``[PAD]`` = 0,
  ``[UNK]``, ``[CLS]``, ``[SEP]``, ``[MASK]``) of at most ``vocab_size`` tokens is learnt from the
  *training* sentences at load time (:func:`train_wordpiece`: characters and the most frequent
  words, the same ids in every process); other sentences are cut into its word pieces (unknown
  characters become ``[UNK]``). Such ids mean nothing to a pretrained checkpoint: a model built on
  them is trained from scratch.

:class:`EncodedText` says which of the two made the ids (``description``), for the dataset's
``info.tokenizer``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sgdnoise.errors import ConfigError, DataFileError

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_TOKEN = "[PAD]"


@dataclass(frozen=True)
class EncodedText:
    """Token ids of several lists of sentences, padded to one length.

    ``ids[i]``: int64 ``(n_i, length)`` for the i-th list; ``vocab_size``: the tokenizer's
    vocabulary size (every id is below it); ``pad_token_id``: the id filling each row after its
    ``[SEP]``; ``truncated``: sentences cut to ``max_length``; ``description``: which tokenizer.
    """

    ids: tuple[np.ndarray, ...]
    vocab_size: int
    pad_token_id: int
    length: int
    truncated: int
    description: str


def _tokenizers():
    try:
        import tokenizers
    except ImportError as exc:
        raise ConfigError(
            "text datasets need the optional package tokenizers: pip install tokenizers (or sgdnoise[bert])"
        ) from exc
    return tokenizers


def train_wordpiece(sentences: Sequence[str], *, vocab_size: int, lowercase: bool = True):
    """A BERT WordPiece ``tokenizers`` tokenizer whose vocabulary is learnt from ``sentences``.

    Words are what BERT's normaliser and pre-tokeniser make of the sentences (lower-cased,
    accents stripped, punctuation split off). The vocabulary is the special tokens (``[PAD]`` = 0),
    every character seen, word-initial and as a ``##`` continuation, then the most frequent words
    (ties in spelling order), up to ``vocab_size`` tokens; a word outside it is cut greedily into
    the longest pieces that are in it (WordPiece's longest-match-first). It is built here and not
    by the package's ``WordPieceTrainer``, which breaks ties between equally frequent merges in a
    hash order that changes from process to process, so the same sentences would get other token
    ids in another run (and a checkpoint trained on them would read the wrong ids).
    """
    tokenizers = _tokenizers()
    normalizer = tokenizers.normalizers.BertNormalizer(lowercase=lowercase)
    pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    counts = Counter(word for s in sentences for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(s)))
    chars = sorted({c for word in counts for c in word})
    pieces = [*SPECIAL_TOKENS, *chars, *(f"##{c}" for c in chars)]
    if int(vocab_size) < len(pieces):
        raise ConfigError(
            f"vocab_size={vocab_size} is too small: the special tokens and the {len(chars)} characters of the "
            f"training sentences (word-initial and continued) need {len(pieces)}"
        )
    taken = set(pieces)
    words = sorted((w for w in counts if w not in taken), key=lambda w: (-counts[w], w))
    vocab = pieces + words[: int(vocab_size) - len(pieces)]
    return tokenizers.BertWordPieceTokenizer({t: i for i, t in enumerate(vocab)}, lowercase=lowercase)


def load_tokenizer(path: str | Path, *, lowercase: bool | None = None):
    """The local tokenizer at ``path`` (see the module docstring) and a one-line description."""
    tokenizers = _tokenizers()
    path = Path(path).expanduser()
    folder = path if path.is_dir() else path.parent
    if path.is_dir():
        found = next((path / f for f in ("tokenizer.json", "vocab.txt") if (path / f).is_file()), None)
        if found is None:
            raise DataFileError(
                f"no tokenizer.json or vocab.txt in {path}: give the folder of a pretrained BERT (it holds vocab.txt) "
                "or the path of a tokenizer file, or leave tokenizer unset to train a WordPiece vocabulary"
            )
        path = found
    if not path.is_file():
        raise DataFileError(
            f"no tokenizer at {path}: give a tokenizer.json or vocab.txt file or a folder holding one, "
            "or leave tokenizer unset to train a WordPiece vocabulary on the training sentences"
        )
    try:
        if path.suffix == ".json":
            return tokenizers.Tokenizer.from_file(str(path)), f"local tokenizer {path}"
        if lowercase is None:
            lowercase = _config_lowercase(folder / "tokenizer_config.json")
        tok = tokenizers.BertWordPieceTokenizer(str(path), lowercase=lowercase)
    except Exception as exc:
        raise DataFileError(f"cannot read the tokenizer {path}: {exc}") from exc
    return tok, f"local WordPiece vocabulary {path} ({'lower-cased' if lowercase else 'cased'})"


def _config_lowercase(config: Path) -> bool:
    if config.is_file():
        try:
            return bool(json.loads(config.read_text()).get("do_lower_case", True))
        except (OSError, ValueError):
            return True
    return True


def encode_sentences(
    groups: Sequence[Sequence[str]],
    *,
    tokenizer: str | Path | None = None,
    vocab_size: int = 8000,
    max_length: int = 64,
    lowercase: bool | None = None,
) -> EncodedText:
    """Token ids of every list in ``groups``; with no ``tokenizer`` a WordPiece vocabulary is
    trained on ``groups[0]`` (the training sentences). All lists share one padded length ``L``:
    the longest encoded sentence of any list, at most ``max_length`` (which counts ``[CLS]`` and
    ``[SEP]``)."""
    if int(max_length) < 3:
        raise ConfigError(f"max_length must be at least 3 ([CLS], one token, [SEP]); got {max_length}")
    if tokenizer is None:
        tok = train_wordpiece(groups[0], vocab_size=vocab_size, lowercase=True if lowercase is None else lowercase)
        described = (
            f"WordPiece vocabulary of {tok.get_vocab_size()} tokens (at most {vocab_size}: characters and the most "
            f"frequent words) trained at load time on the {len(groups[0])} training sentences "
            f"(tokenizers {_tokenizers().__version__})"
        )
    else:
        tok, described = load_tokenizer(tokenizer, lowercase=lowercase)
    pad = tok.token_to_id(PAD_TOKEN)
    if pad is None:
        raise DataFileError(f"the tokenizer {tokenizer} has no {PAD_TOKEN} token; use a BERT tokenizer")
    tok.no_padding()
    tok.enable_truncation(int(max_length))
    encodings = [tok.encode_batch(list(group)) for group in groups]
    truncated = sum(len(e.overflowing) > 0 for group in encodings for e in group)
    encoded = [[e.ids for e in group] for group in encodings]
    length = max((len(ids) for group in encoded for ids in group), default=1)
    arrays = []
    for group in encoded:
        out = np.full((len(group), length), pad, dtype=np.int64)
        for row, ids in enumerate(group):
            out[row, : len(ids)] = ids
        arrays.append(out)
    return EncodedText(tuple(arrays), int(tok.get_vocab_size()), int(pad), int(length), int(truncated), described)
