"""build_model: names, published parameter counts, output shapes, errors."""

import itertools

import pytest
import torch

from sgdnoise.errors import ConfigError
from sgdnoise.models import build_model, model_names


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# He et al. (2016) Table 6 gives 0.27M/0.46M/0.66M/0.85M/1.7M; the exact counts of the option-A
# (zero-padding shortcut) networks are those printed by akamaster/pytorch_resnet_cifar10.
@pytest.mark.parametrize("depth, count", [(20, 269_722), (32, 464_154), (44, 658_586), (56, 853_018), (110, 1_727_962)])
def test_cifar_resnet_parameter_counts(depth, count):
    assert n_params(build_model(f"resnet{depth}", input_shape=(3, 32, 32), num_classes=10)) == count


# torchvision's ImageNet ResNets have 11_689_512 / 21_797_672 / 25_557_032 parameters (1000 classes).
# The 32×32 adaptation swaps the 7×7 stem (7·7·3·64) for a 3×3 one (3·3·3·64) and the 1000-way
# classifier (c·1000 + 1000) for a 10-way one (c·10 + 10), c = 512 (18/34) or 2048 (50).
@pytest.mark.parametrize(
    "depth, imagenet, width", [(18, 11_689_512, 512), (34, 21_797_672, 512), (50, 25_557_032, 2048)]
)
def test_imagenet_resnet_adapted_parameter_counts(depth, imagenet, width):
    expected = imagenet - 7 * 7 * 3 * 64 + 3 * 3 * 3 * 64 - (width * 1000 + 1000) + (width * 10 + 10)
    assert n_params(build_model(f"resnet{depth}", input_shape=(3, 32, 32), num_classes=10)) == expected


def test_mlp_parameter_count_formula():
    m = build_model("mlp", input_shape=(1, 8, 8), num_classes=10, depth=3, width=20)
    widths = [64, 20, 20, 20, 10]
    assert n_params(m) == sum((a + 1) * b for a, b in itertools.pairwise(widths))


@pytest.mark.parametrize(
    "name, shape, kw",
    [
        ("mlp", (13,), {"activation": "tanh"}),
        ("mlp", (1, 8, 8), {"depth": 0}),
        ("cnn", (1, 8, 8), {"batch_norm": True}),
        ("cnn", (3, 32, 32), {"channels": (4, 8, 8)}),
        ("resnet20", (3, 32, 32), {}),
        ("resnet20", (1, 8, 8), {}),
        ("resnet18", (3, 32, 32), {}),
    ],
)
def test_forward_and_backward_shapes(name, shape, kw):
    torch.manual_seed(0)
    model = build_model(name, input_shape=shape, num_classes=7, **kw)
    out = model(torch.randn(2, *shape))
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_resnet_downsampling_stages_without_training():
    # 32×32 → 8×8 after the two stride-2 stages of a CIFAR ResNet (checked through hooks).
    model = build_model("resnet56", input_shape=(3, 32, 32), num_classes=10)
    sizes = {}
    for name in ("layer1", "layer2", "layer3"):
        getattr(model, name).register_forward_hook(
            lambda m, i, o, name=name: sizes.__setitem__(name, tuple(o.shape[1:]))
        )
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, 32, 32))
    assert sizes == {"layer1": (16, 32, 32), "layer2": (32, 16, 16), "layer3": (64, 8, 8)}


def test_errors_name_the_problem():
    with pytest.raises(ConfigError) as err:
        build_model("vgg16", input_shape=(3, 32, 32), num_classes=10)
    assert all(n in str(err.value) for n in ("mlp", "cnn", "resnet20", "resnet110", "resnet50"))
    with pytest.raises(ConfigError, match="image inputs"):
        build_model("cnn", input_shape=(30,), num_classes=2)
    with pytest.raises(ConfigError, match="depth"):
        build_model("resnet20", input_shape=(3, 32, 32), num_classes=10, depth=3)
    with pytest.raises(ConfigError, match="activation"):
        build_model("mlp", input_shape=(3,), num_classes=2, activation="swishy")
    with pytest.raises(ConfigError, match="num_classes"):
        build_model("mlp", input_shape=(3,), num_classes=0)
    with pytest.raises(ConfigError, match=r"channels\[1\] must be an int ≥ 1; got 0"):
        build_model("cnn", input_shape=(1, 8, 8), num_classes=2, channels=(4, 0))
    with pytest.raises(ConfigError, match="MLP width must be an int ≥ 1; got 0"):
        build_model("mlp", input_shape=(3,), num_classes=2, width=0)
    assert set(model_names()) >= {
        "mlp",
        "cnn",
        "resnet20",
        "resnet32",
        "resnet44",
        "resnet56",
        "resnet110",
        "resnet18",
        "resnet34",
        "resnet50",
    }


def test_seeded_model_is_reproducible_and_leaves_the_global_rng_alone():
    import torch

    from sgdnoise.models import seeded_model

    before = torch.random.get_rng_state()
    a = seeded_model("mlp", input_shape=(4,), num_classes=3, seed=7)
    b = seeded_model("mlp", input_shape=(4,), num_classes=3, seed=7)
    c = seeded_model("mlp", input_shape=(4,), num_classes=3, seed=8)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))
