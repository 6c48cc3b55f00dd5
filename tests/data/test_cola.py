"""The CoLA loader on TSV files the tests write: both layouts, both tokenizers, and bad files refused."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import sgdnoise
from sgdnoise.data import load_dataset, write_cola_folder
from sgdnoise.data.cola import cola_files, generated_sentences, read_cola_tsv
from sgdnoise.data.text import train_wordpiece
from sgdnoise.errors import ConfigError, DataFileError

TRAIN = [
    ("gj04", 1, "", "Our friends won't buy this analysis, let alone the next one we propose."),
    ("gj04", 1, "", "One more pseudo generalization and I'm giving up."),
    ("gj04", 0, "*", "They drank the pub."),
    ("gj04", 1, "", 'The professor talked us into a "stupor".'),
    ("gj04", 0, "*", "The more we study verbs, the crazier they get get."),
]
IN_DEV = [("gj04", 1, "", "The sailors rode the breeze clear of the rocks."), ("gj04", 0, "*", "Bill ate the peach.s")]
OUT_DEV = [("clc95", 1, "", "Somebody just left - guess who."), ("clc95", 0, "*", "They claimed they had settled.on")]


def write_tsv(path, rows, header=None):
    lines = (["\t".join(header)] if header else []) + ["\t".join(str(c) for c in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def raw(tmp_path):
    folder = tmp_path / "cola_public" / "raw"
    folder.mkdir(parents=True)
    write_tsv(folder / "in_domain_train.tsv", TRAIN)
    write_tsv(folder / "in_domain_dev.tsv", IN_DEV)
    write_tsv(folder / "out_of_domain_dev.tsv", OUT_DEV)
    return tmp_path


def test_raw_layout_splits_labels_and_trained_wordpiece(raw):
    train = load_dataset("cola", root=str(raw))
    test = load_dataset("cola", root=str(raw), split="test")
    assert len(train) == 5 and len(test) == 4
    assert train.targets.tolist() == [1, 1, 0, 1, 0] and test.targets.tolist() == [1, 0, 1, 0]
    assert train.inputs.dtype == torch.int64 and train.inputs.shape[1] == test.inputs.shape[1]
    info = train.info
    assert info.num_classes == 2 and info.class_names == ("unacceptable", "acceptable")
    assert info.input_shape == (train.inputs.shape[1],) and info.pad_token_id == 0
    assert "trained at load time on the 5 training sentences" in info.tokenizer
    assert int(train.inputs.max()) < info.vocab_size == info.to_dict()["vocab_size"]
    # every row: [CLS] … [SEP] then padding; the longest sentence fills the row
    cls, sep = int(train.inputs[0, 0]), None
    for row in torch.cat([train.inputs, test.inputs]):
        ids = row.tolist()
        n = len(ids) - ids[::-1].index(next(i for i in ids[::-1] if i != 0))  # length without padding
        sep = ids[n - 1] if sep is None else sep
        assert ids[0] == cls and ids[n - 1] == sep and all(i == 0 for i in ids[n:])
    assert (torch.cat([train.inputs, test.inputs]) != 0).all(dim=1).any()  # the longest row fills L
    both = load_dataset("cola", root=str(raw), split="all")
    assert torch.equal(both.inputs, torch.cat([train.inputs, test.inputs]))
    only_in = load_dataset("cola", root=str(raw), split="test", dev="in_domain")
    assert only_in.targets.tolist() == [1, 0]


def test_max_length_cuts_and_the_vocabulary_is_the_same_in_another_process(raw):
    a = load_dataset("cola", root=str(raw), max_length=6)
    assert a.inputs.shape[1] == 6 and "cut to max_length=6" in a.info.tokenizer
    code = (
        "from sgdnoise.data import load_dataset; import sys; "
        "print(load_dataset('cola', root=sys.argv[1], split='all').inputs.tolist())"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(sgdnoise.__file__).parents[1])}
    other = subprocess.run([sys.executable, "-c", code, str(raw)], capture_output=True, text=True, env=env, check=True)
    here = load_dataset("cola", root=str(raw), split="all").inputs.tolist()
    assert other.stdout.strip() == str(here)


def test_glue_layout_with_and_without_header(tmp_path):
    plain = tmp_path / "plain" / "CoLA"
    plain.mkdir(parents=True)
    write_tsv(plain / "train.tsv", TRAIN)
    write_tsv(plain / "dev.tsv", IN_DEV + OUT_DEV)
    headed = tmp_path / "headed"
    headed.mkdir()
    header = ("sentence", "label", "idx")
    write_tsv(headed / "train.tsv", [(s, lab, i) for i, (_, lab, _, s) in enumerate(TRAIN)], header)
    write_tsv(headed / "dev.tsv", [(s, lab, i) for i, (_, lab, _, s) in enumerate(IN_DEV)], header)
    a = load_dataset("cola", root=str(tmp_path / "plain"))
    b = load_dataset("cola", root=str(headed))
    assert a.targets.tolist() == b.targets.tolist() == [1, 1, 0, 1, 0]
    assert torch.equal(a.inputs, b.inputs)  # same sentences, same trained vocabulary
    assert len(load_dataset("cola", root=str(tmp_path / "plain"), split="test")) == 4
    with pytest.raises(ConfigError, match="mixes in- and out-of-domain"):
        load_dataset("cola", root=str(headed), dev="in_domain")


def test_local_vocab_file_tokenizer(raw, tmp_path):
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "they", "drank", "the", "pub", "."]
    vocab = tmp_path / "bert" / "vocab.txt"
    vocab.parent.mkdir()
    vocab.write_text("\n".join(words) + "\n")
    data = load_dataset("cola", root=str(raw), tokenizer=str(vocab.parent))
    assert data.info.vocab_size == len(words) and f"local WordPiece vocabulary {vocab}" in data.info.tokenizer
    ids = data.inputs[2].tolist()  # "They drank the pub."
    assert ids[:7] == [2, 5, 6, 7, 8, 9, 3]
    assert data.inputs[0, 1].item() == 1  # "Our" is not in this vocabulary: [UNK]
    trained = train_wordpiece([row[3] for row in TRAIN], vocab_size=8000)
    (tmp_path / "json").mkdir()
    trained.save(str(tmp_path / "json" / "tokenizer.json"))  # the same vocabulary as a tokenizer.json: the same ids
    from_json = load_dataset("cola", root=str(raw), tokenizer=str(tmp_path / "json"), split="all")
    assert torch.equal(from_json.inputs, load_dataset("cola", root=str(raw), split="all").inputs)
    assert "local tokenizer" in from_json.info.tokenizer
    with pytest.raises(DataFileError, match=r"no tokenizer\.json or vocab\.txt"):
        load_dataset("cola", root=str(raw), tokenizer=str(tmp_path))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("gj04\t1\tThey drank the pub.\n", r"line 1: 3 column\(s\), expected 4"),
        ("gj04\t1\t\tFine.\ngj04\t1\t\tToo\tmany.\n", r"line 2: 5 column\(s\)"),
        ("gj04\t2\t\tThey drank the pub.\n", "label '2' is not 0 or 1"),
        ("gj04\tyes\t\tThey drank the pub.\n", "label 'yes' is not 0 or 1"),
        ("gj04\t1\t\t \n", "sentence .* is empty"),
        ("sentence\tlabel\n", "header but no sentences"),
        ("sentence\tlabel\nFine.\t1\textra\n", "line 2: 3 column"),
    ],
)
def test_bad_files_are_refused_with_the_line(tmp_path, content, message):
    path = tmp_path / "in_domain_train.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFileError, match=message):
        read_cola_tsv(path)


def test_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(DataFileError, match=r"put in_domain_train\.tsv, in_domain_dev\.tsv and out_of_domain_dev") as e:
        load_dataset("cola", root=str(tmp_path))
    assert str(tmp_path / "cola_public" / "raw") in str(e.value) and "cola_public_1.1.zip" in str(e.value)
    write_tsv(tmp_path / "in_domain_train.tsv", TRAIN)
    write_tsv(tmp_path / "in_domain_dev.tsv", IN_DEV)
    with pytest.raises(DataFileError, match=r"not out_of_domain_dev\.tsv.*or pass dev='in_domain'"):
        cola_files(tmp_path)
    assert cola_files(tmp_path, dev="in_domain")[1] == (tmp_path / "in_domain_dev.tsv",)
    with pytest.raises(ConfigError, match="does not take"):
        load_dataset("cola", root=str(tmp_path), nonsense=1)


def test_generated_stand_in_folder(tmp_path):
    rows = generated_sentences(200, seed=3)
    assert rows == generated_sentences(200, seed=3) and rows != generated_sentences(200, seed=4)
    share = np.mean([label for label, _ in rows])
    assert 0.55 < share < 0.85
    folder = write_cola_folder(tmp_path / "gen", train=60, dev=20, seed=3)
    data = load_dataset("cola", root=str(folder), split="all")
    assert len(data) == 80 and set(data.targets.tolist()) == {0, 1}
