"""The optional tiny BERT (needs transformers), and its error when transformers is missing."""

import sys

import pytest
import torch

from sgdnoise.errors import ConfigError
from sgdnoise.models import build_model


def test_tiny_bert_classifies_token_sequences():
    pytest.importorskip("transformers", reason="tiny_bert is an optional extra: pip install transformers")
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
