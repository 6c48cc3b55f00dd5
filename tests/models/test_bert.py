"""The BERT classifiers (optional transformers): sizes, padding mask, local pretrained folders,
sizing from text data, lazy import, and the error when transformers is missing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import sgdnoise
from sgdnoise.data import DatasetInfo
from sgdnoise.errors import ConfigError, DataFileError
from sgdnoise.experiments.networks import network_for
from sgdnoise.models import BERT_SIZES, build_model, seeded_model


def test_tiny_bert_classifies_token_sequences():
    model = build_model(
        "tiny_bert", input_shape=(12,), num_classes=2, num_layers=1, hidden_size=32, num_heads=2, intermediate_size=64
    )
    again = build_model(
        "tiny_bert", input_shape=(12,), num_classes=2, num_layers=1, hidden_size=32, num_heads=2, intermediate_size=64
    )
    ids = torch.randint(0, 1000, (3, 12), generator=torch.Generator().manual_seed(0))
    out = model(ids)
    assert out.shape == (3, 2)
    torch.testing.assert_close(out, again(ids))  # seeded initialisation, no dropout
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_missing_transformers_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` fail
    with pytest.raises(ConfigError, match="pip install transformers"):
        build_model("tiny_bert", input_shape=(12,), num_classes=2)


def test_named_sizes_from_their_configs_on_the_meta_device():
    """BERT-base has its 110M parameters (Devlin et al.: 110M); -Small and -Mini Turc et al.'s sizes.
    Built on the meta device: the same config and modules, no memory for the weights."""
    counts = {}
    for name in ("bert_base", "bert_small", "bert_mini"):
        with torch.device("meta"):
            model = build_model(name, input_shape=(128,), num_classes=2)
        counts[name] = sum(p.numel() for p in model.parameters())
        bert = model.bert.config
        assert (bert.num_hidden_layers, bert.hidden_size) == BERT_SIZES[name]
        assert bert.num_attention_heads == bert.hidden_size // 64 and bert.intermediate_size == 4 * bert.hidden_size
    assert counts == {"bert_base": 109_483_778, "bert_small": 28_764_674, "bert_mini": 11_171_074}


def test_padding_is_masked_and_dropout_only_in_training():
    model = build_model("bert_mini", input_shape=(10,), num_classes=3, vocab_size=40).eval()
    ids = torch.tensor([[2, 7, 9, 11, 3, 0, 0, 0, 0, 0]])
    short = model(ids[:, :6])  # the same sentence with less padding
    torch.testing.assert_close(model(ids), short, atol=1e-5, rtol=1e-5)
    assert model(ids.double()).shape == (1, 3)  # float token ids are read as integers
    unmasked = build_model("bert_mini", input_shape=(10,), num_classes=3, vocab_size=40, pad_token_id=None).eval()
    unmasked.load_state_dict(model.state_dict())
    assert not torch.allclose(unmasked(ids), short, atol=1e-4)
    model.train()
    assert not torch.allclose(model(ids), model(ids))  # dropout 0.1 in training mode


def test_pretrained_local_folder(tmp_path):
    source = seeded_model("bert_mini", input_shape=(10,), num_classes=2, vocab_size=50, seed=1)
    source.bert.save_pretrained(tmp_path / "mini")
    loaded = build_model("bert_mini", input_shape=(10,), num_classes=2, checkpoint=str(tmp_path / "mini"))
    for (name, a), b in zip(source.state_dict().items(), loaded.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=name)
    three = build_model("bert_mini", input_shape=(10,), num_classes=3, checkpoint=str(tmp_path / "mini"))
    assert three.bert.classifier.out_features == 3  # a new head; the encoder is the checkpoint's
    torch.testing.assert_close(three.bert.bert.pooler.dense.weight, source.bert.bert.pooler.dense.weight)
    with pytest.raises(ConfigError, match=r"4 layers of width 256, not bert_small's.*build it as 'bert_mini'"):
        build_model("bert_small", input_shape=(10,), num_classes=2, checkpoint=str(tmp_path / "mini"))
    with pytest.raises(ConfigError, match=r"tokenizer has 60 tokens but .* embeds 50"):
        build_model("bert_mini", input_shape=(10,), num_classes=2, vocab_size=60, checkpoint=str(tmp_path / "mini"))
    with pytest.raises(DataFileError, match=r"no pretrained BERT at .*nothing is downloaded"):
        build_model("bert_mini", input_shape=(10,), num_classes=2, checkpoint=str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="do not fit its 512 positions"):
        build_model("bert_mini", input_shape=(600,), num_classes=2)


def test_network_for_takes_vocabulary_and_padding_from_text_data(tmp_path):
    info = DatasetInfo("cola", "classification", (9,), 2, 5, "train", "test", vocab_size=77, pad_token_id=4)
    model = network_for(info, "bert_mini", seed=0)
    assert model.bert.config.vocab_size == 77 and model.pad_token_id == 4
    assert network_for(info, "tiny_bert", seed=0, options={"vocab_size": 90}).bert.config.vocab_size == 90
    source = network_for(info, "bert_mini", seed=2)
    source.bert.save_pretrained(tmp_path / "ckpt")
    again = network_for(info, "bert_mini", seed=0, checkpoint=tmp_path / "ckpt")  # a folder: from_pretrained
    torch.testing.assert_close(again.bert.classifier.weight, source.bert.classifier.weight)


def test_importing_the_models_does_not_import_transformers():
    code = "import sys, sgdnoise.models, sgdnoise.data; "
    code += "print('transformers' in sys.modules, 'tokenizers' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(Path(sgdnoise.__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["False", "False"]
