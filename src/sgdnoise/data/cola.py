"""CoLA, the Corpus of Linguistic Acceptability (Warstadt, Singh & Bowman 2019), from its TSV files.

Each sentence is labelled 1 (acceptable) or 0 (unacceptable); Battash et al. fine-tune BERT-base on
it (their Table 2). Two layouts are read, found in ``root`` or in its sub-folder ``CoLA``,
``cola_public/raw`` or ``glue_data/CoLA``:

- CoLA's own files (``cola_public/raw`` of https://nyu-mll.github.io/CoLA/cola_public_1.1.zip):
  ``in_domain_train.tsv`` (train), ``in_domain_dev.tsv`` and ``out_of_domain_dev.tsv`` (test);
  tab-separated, no header, four columns: source code, label (0/1), the original author's mark
  (``*`` or empty), sentence.
- GLUE's ``CoLA/train.tsv`` and ``CoLA/dev.tsv`` (https://gluebenchmark.com/tasks): the same four
  columns without a header, or a header row naming at least ``label`` and ``sentence`` columns
  (as exports of the GLUE data set have).

``split="train"`` is the training file and ``split="test"`` the development set (GLUE's test
labels are not public): both dev files by default, as GLUE's ``dev.tsv`` holds, or only one of
them with ``dev="in_domain"``/``"out_of_domain"``. ``split="all"`` is train then test.

Sentences become int64 token ids ``(N, L)`` (:mod:`sgdnoise.data.text`): with a local tokenizer
(``tokenizer=path``, e.g. a pretrained BERT's folder) or else a WordPiece vocabulary trained on
the training sentences at load time; ``info.tokenizer`` says which. ``L`` is the longest encoded
sentence of train and dev together (at most ``max_length``), so both splits share it.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from sgdnoise.data.dataset import DatasetInfo, Split, TensorData, check_split_args
from sgdnoise.errors import ConfigError, DataFileError
from sgdnoise.rng import as_generator

COLA_URL = "https://nyu-mll.github.io/CoLA/cola_public_1.1.zip"
GLUE_URL = "https://gluebenchmark.com/tasks"
RAW_FILES = {"train": "in_domain_train.tsv", "in_domain": "in_domain_dev.tsv", "out_of_domain": "out_of_domain_dev.tsv"}
GLUE_FILES = {"train": "train.tsv", "dev": "dev.tsv"}
SUBFOLDERS = ("", "CoLA", "cola_public/raw", "glue_data/CoLA")
DEV_CHOICES = ("all", "in_domain", "out_of_domain")
CLASS_NAMES = ("unacceptable", "acceptable")
_RAW_COLUMNS = 4


def cola_files(root: str | Path, dev: str = "all") -> tuple[Path, tuple[Path, ...]]:
    """The training file and the development file(s) under ``root`` (see the module docstring).

    Raises :class:`DataFileError` naming the folders searched and the files to put there.
    """
    if dev not in DEV_CHOICES:
        raise ConfigError(f"dev must be one of {DEV_CHOICES}; got {dev!r}")
    root = Path(root).expanduser()
    folders = [root / sub if sub else root for sub in SUBFOLDERS]
    for folder in folders:
        if (folder / RAW_FILES["train"]).is_file():
            wanted = ("in_domain", "out_of_domain") if dev == "all" else (dev,)
            missing = [RAW_FILES[k] for k in wanted if not (folder / RAW_FILES[k]).is_file()]
            if missing:
                raise DataFileError(
                    f"{folder} holds {RAW_FILES['train']} but not {', '.join(missing)}: copy "
                    f"{', '.join(missing)} from cola_public/raw of {COLA_URL} beside it"
                    + (", or pass dev='in_domain'" if dev == "all" and len(missing) == 1 else "")
                )
            return folder / RAW_FILES["train"], tuple(folder / RAW_FILES[k] for k in wanted)
        if (folder / GLUE_FILES["train"]).is_file():
            if dev != "all":
                raise ConfigError(
                    f"{folder} has GLUE's dev.tsv, which mixes in- and out-of-domain sentences; dev={dev!r} needs "
                    f"CoLA's own {RAW_FILES['in_domain']} / {RAW_FILES['out_of_domain']} ({COLA_URL})"
                )
            if not (folder / GLUE_FILES["dev"]).is_file():
                raise DataFileError(f"{folder} holds train.tsv but not dev.tsv: copy GLUE's CoLA/dev.tsv beside it")
            return folder / GLUE_FILES["train"], (folder / GLUE_FILES["dev"],)
    raise DataFileError(
        f"no CoLA files in {', '.join(str(f) for f in folders)}: put {RAW_FILES['train']}, {RAW_FILES['in_domain']} "
        f"and {RAW_FILES['out_of_domain']} (folder cola_public/raw of {COLA_URL}) or GLUE's CoLA/train.tsv and "
        f"dev.tsv ({GLUE_URL}) in {root}, or pass root=<the folder holding them>"
    )


def read_cola_tsv(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Sentences and int64 labels (0/1) of one CoLA/GLUE TSV file.

    Raises :class:`DataFileError` for a file that is empty, has a row with the wrong number of
    columns, a label other than 0/1 or an empty sentence (naming the line).
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = [(n, row) for n, row in enumerate(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE), 1) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataFileError(f"cannot read {path} as a CoLA TSV file (UTF-8, tab-separated): {exc}") from exc
    if not rows:
        raise DataFileError(f"{path} is empty: it must hold one sentence per line (source, label, mark, sentence)")
    header = [c.strip().lower() for c in rows[0][1]]
    if "sentence" in header and "label" in header:
        width, label_col, sentence_col = len(header), header.index("label"), header.index("sentence")
        rows = rows[1:]
        layout = f"the {width} columns of its header {rows and header}"
        if not rows:
            raise DataFileError(f"{path} has a header but no sentences")
    else:
        width, label_col, sentence_col = _RAW_COLUMNS, 1, 3
        layout = "4 tab-separated columns (source, label, original mark, sentence) and no header"
    sentences, labels = [], []
    for line, row in rows:
        if len(row) != width:
            raise DataFileError(
                f"{path}, line {line}: {len(row)} column(s), expected {layout}; is it a CoLA file "
                "(a sentence containing a tab must be fixed by hand)?"
            )
        label, sentence = row[label_col].strip(), row[sentence_col].strip()
        if label not in ("0", "1"):
            raise DataFileError(
                f"{path}, line {line}: label {label!r} is not 0 or 1 (column {label_col + 1} holds CoLA's "
                "acceptability label); the unlabelled GLUE test.tsv cannot be used"
            )
        if not sentence:
            raise DataFileError(f"{path}, line {line}: the sentence (column {sentence_col + 1}) is empty")
        sentences.append(sentence)
        labels.append(int(label))
    return sentences, np.asarray(labels, dtype=np.int64)


def load_cola(
    root: str | Path,
    *,
    split: Split = "train",
    tokenizer: str | Path | None = None,
    max_length: int = 64,
    vocab_size: int = 8000,
    lowercase: bool | None = None,
    dev: str = "all",
    test_fraction: float = 0.2,
    seed: int = 0,
    standardize: bool = True,
) -> TensorData:
    """CoLA under ``root`` as :class:`TensorData`: int64 token ids ``(N, L)``, int64 labels
    (1 = acceptable), ``info.vocab_size``, ``info.pad_token_id`` and ``info.tokenizer`` set.

    ``tokenizer``: a local tokenizer file or folder, else a WordPiece vocabulary of at most
    ``vocab_size`` tokens is trained on the training sentences; ``max_length`` caps the tokens
    per sentence (``[CLS]`` and ``[SEP]`` included); ``lowercase`` overrides the tokenizer's
    casing. ``test_fraction``, ``seed`` and ``standardize`` are accepted for a uniform signature
    and unused: the files define the split, and token ids are not standardised.
    """
    check_split_args(split, test_fraction)
    train_file, dev_files = cola_files(root, dev)
    key = tuple((str(f.resolve()), f.stat().st_mtime_ns, f.stat().st_size) for f in (train_file, *dev_files))
    tokenizer_key = None if tokenizer is None else str(Path(tokenizer).expanduser().resolve())
    ids, labels, vocab, pad, described = _encoded(key, tokenizer_key, int(max_length), int(vocab_size), lowercase)
    parts = {"train": (0,), "test": (1,), "all": (0, 1)}[split]
    x = torch.from_numpy(np.concatenate([ids[i] for i in parts]))
    y = torch.from_numpy(np.concatenate([labels[i] for i in parts]))
    info = DatasetInfo(
        name="cola",
        task="classification",
        input_shape=(int(x.shape[1]),),
        num_classes=2,
        num_samples=len(x),
        split=split,
        source=f"CoLA {train_file.name} (train) and {', '.join(f.name for f in dev_files)} (test) in "
        f"{train_file.parent}",
        class_names=CLASS_NAMES,
        vocab_size=vocab,
        pad_token_id=pad,
        tokenizer=described,
    )
    return TensorData(x, y, info)


@functools.lru_cache(maxsize=4)
def _encoded(
    files: tuple[tuple[str, int, int], ...], tokenizer: str | None, max_length: int, vocab_size: int, lowercase
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], int, int, str]:
    """Token ids and labels of (train, dev), cached per file version and options: ``train`` and
    ``test`` loads of one run tokenise (and train the vocabulary) once."""
    train_sentences, train_labels = read_cola_tsv(files[0][0])
    dev = [read_cola_tsv(f[0]) for f in files[1:]]
    dev_sentences = [s for sentences, _ in dev for s in sentences]
    dev_labels = np.concatenate([labels for _, labels in dev])
    from sgdnoise.data.text import encode_sentences

    encoded = encode_sentences(
        [train_sentences, dev_sentences],
        tokenizer=tokenizer,
        vocab_size=vocab_size,
        max_length=max_length,
        lowercase=lowercase,
    )
    described = encoded.description + (
        f"; {encoded.truncated} sentence(s) cut to max_length={max_length}" if encoded.truncated else ""
    )
    for array in (*encoded.ids, train_labels, dev_labels):
        array.setflags(write=False)
    return encoded.ids, (train_labels, dev_labels), encoded.vocab_size, encoded.pad_token_id, described


_DETERMINERS = ("the", "a", "every", "some", "this")
_ADJECTIVES = ("small", "old", "green", "quiet", "happy", "tall", "brave")
_NOUNS = ("dog", "cat", "teacher", "child", "bird", "farmer", "student", "river", "house", "book")
_VERBS = ("sees", "likes", "chases", "finds", "reads", "helps", "watches", "follows")


def generated_sentences(n: int, *, seed: int = 0, acceptable_share: float = 0.7) -> list[tuple[int, str]]:
    """``n`` ``(label, sentence)`` pairs from a toy grammar, a stand-in for CoLA when its files are
    absent: an acceptable sentence is ``Det (Adj) Noun Verb Det Noun .``; an unacceptable one is
    such a sentence with its words shuffled or its verb stripped of its agreement ``s``.
    About ``acceptable_share`` of them are acceptable (CoLA: 70 %)."""
    g = as_generator(seed)

    def pick(words: Sequence[str]) -> str:
        return words[int(torch.randint(len(words), (1,), generator=g))]

    out = []
    for _ in range(int(n)):
        words = [pick(_DETERMINERS)]
        if float(torch.rand((), generator=g)) < 0.5:
            words.append(pick(_ADJECTIVES))
        words += [pick(_NOUNS), pick(_VERBS), pick(_DETERMINERS), pick(_NOUNS)]
        label = int(float(torch.rand((), generator=g)) < acceptable_share)
        if not label:
            if float(torch.rand((), generator=g)) < 0.5:
                words = [words[i] for i in torch.randperm(len(words), generator=g).tolist()]
            else:
                verb = next(i for i, w in enumerate(words) if w in _VERBS)
                words[verb] = words[verb][:-1]
        out.append((label, " ".join(words).capitalize() + "."))
    return out


def write_cola_folder(folder: str | Path, *, train: int = 400, dev: int = 100, seed: int = 0) -> Path:
    """Write generated sentences (:func:`generated_sentences`) in CoLA's own layout into ``folder``
    (``in_domain_train.tsv``, ``in_domain_dev.tsv``, ``out_of_domain_dev.tsv``) and return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = generated_sentences(train + dev, seed=seed)
    half = train + dev // 2
    for name, part in (
        (RAW_FILES["train"], rows[:train]),
        (RAW_FILES["in_domain"], rows[train:half]),
        (RAW_FILES["out_of_domain"], rows[half:]),
    ):
        lines = [f"gen{seed}\t{label}\t{'' if label else '*'}\t{sentence}\n" for label, sentence in part]
        (folder / name).write_text("".join(lines), encoding="utf-8")
    return folder
