"""train(): exact SGD updates, schedules, resume after interruption, errors."""

import math

import pytest
import torch
from torch import nn

from sgdnoise.data import gaussian_mixture, load_dataset, teacher_student
from sgdnoise.errors import ConfigError, ConvergenceError, DataFileError, InvalidInputError
from sgdnoise.models import build_model, load_checkpoint
from sgdnoise.training import HISTORY_COLUMNS, TrainConfig, evaluate, train
from sgdnoise.training.state import LAST


def _mlp(seed=0, **kw):
    torch.manual_seed(seed)
    return build_model("mlp", input_shape=(2,), num_classes=3, depth=1, width=8, **kw)


def _data(n=60):
    return gaussian_mixture(n, num_classes=3, dim=2, seed=1, split="all")


def _manual_sgd(model, x, y, config):
    """Reference: the same permutations, explicit w ← w − η ∇(mean loss) with autograd."""
    gen = torch.Generator().manual_seed(config.seed)
    for epoch in range(config.epochs):
        lr, b = config.lr_at(epoch), config.batch_size_at(epoch)
        order = torch.randperm(len(x), generator=gen)
        for step in range(len(x) // b):
            idx = order[step * b : (step + 1) * b]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            grads = torch.autograd.grad(loss, list(model.parameters()))
            with torch.no_grad():
                for p, g in zip(model.parameters(), grads):
                    p -= lr * g
    return model


def test_updates_equal_plain_sgd_with_schedules():
    data = _data()
    config = TrainConfig(
        epochs=4, lr=0.3, batch_size=7, lr_milestones=(2,), lr_factor=0.2, batch_milestones=(3,), batch_factor=2, seed=5
    )
    trained = train(_mlp(), data, config).model
    reference = _manual_sgd(_mlp(), data.inputs, data.targets, config)
    for a, b in zip(trained.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_history_columns_and_values():
    data = _data()
    config = TrainConfig(epochs=3, lr=0.1, batch_size=16, lr_milestones=(1,), batch_milestones=(2,), batch_factor=2)
    result = train(_mlp(), data, config, eval_data=data)
    h = result.history
    assert tuple(h.columns) == HISTORY_COLUMNS and h["epoch"].tolist() == [1, 2, 3]
    assert h["lr"].tolist() == pytest.approx([0.1, 0.01, 0.01]) and h["batch_size"].tolist() == [16, 16, 32]
    assert h["steps"].tolist() == [3, 3, 1]  # 60 // 16, 60 // 16, 60 // 32 (drop_last)
    # test_* are a full pass after the epoch: compare with a direct evaluation of the final model.
    with torch.no_grad():
        logits = result.model(data.inputs)
    assert h["test_loss"].iloc[-1] == pytest.approx(float(nn.functional.cross_entropy(logits, data.targets)), rel=1e-5)
    assert h["test_accuracy"].iloc[-1] == pytest.approx(float((logits.argmax(1) == data.targets).float().mean()))
    assert result.final["epoch"] == 3 and result.to_dict()["history"][0]["epoch"] == 1


def test_learns_a_real_dataset():
    train_set, test_set = load_dataset("digits"), load_dataset("digits", split="test")
    torch.manual_seed(0)
    model = build_model("mlp", input_shape=train_set.info.input_shape, num_classes=10, width=64)
    result = train(model, train_set, TrainConfig(epochs=4, lr=0.1, batch_size=32), eval_data=test_set)
    assert result.final["test_accuracy"] > 0.9  # a 64-unit MLP reaches ≈0.95 on digits in a few epochs


def test_regression_uses_mean_squared_error():
    data = teacher_student(64, dim=3, hidden=0, noise=0.0, seed=0, split="all")
    torch.manual_seed(0)
    model = build_model("mlp", input_shape=(3,), num_classes=1, depth=0)
    h = train(model, data, TrainConfig(epochs=30, lr=0.1, batch_size=16)).history
    assert math.isnan(h["train_accuracy"].iloc[0]) and h["train_loss"].iloc[-1] < 0.01 * h["train_loss"].iloc[0]


class _Interrupt(Exception):
    pass


def _stop_at(epoch, step):
    def on_step(info):
        if (info.epoch, info.step) == (epoch, step):
            raise _Interrupt

    return on_step


@pytest.mark.parametrize("model_name", ["mlp_dropout", "cnn_bn"])
def test_interrupted_run_resumes_to_identical_result(tmp_path, model_name):
    if model_name == "mlp_dropout":
        data = _data(200)

        def make():
            torch.manual_seed(0)
            return nn.Sequential(
                nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3)
            )  # dropout uses the global RNG

    else:
        data = load_dataset("digits", split="test")  # 359 images: small and real

        def make():
            torch.manual_seed(0)
            return build_model("cnn", input_shape=(1, 8, 8), num_classes=10, channels=(4,), batch_norm=True)

    config = dict(epochs=4, lr=0.05, batch_size=32, lr_milestones=(2,), batch_milestones=(3,), batch_factor=2, seed=3)
    straight = train(make(), data, TrainConfig(**config, checkpoint_dir=str(tmp_path / "a")))
    with pytest.raises(_Interrupt):
        train(make(), data, TrainConfig(**config, checkpoint_dir=str(tmp_path / "b")), on_step=_stop_at(3, 2))
    torch.manual_seed(123)  # a different global RNG state and a fresh model: all must come from the checkpoint
    resumed = train(make(), data, TrainConfig(**config, checkpoint_dir=str(tmp_path / "b")))
    assert resumed.resumed_from_epoch == 2
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k
    cols = [c for c in HISTORY_COLUMNS if c != "seconds"]
    assert straight.history[cols].equals(resumed.history[cols])


def test_finished_run_can_be_extended_and_checkpoints_kept(tmp_path):
    data = _data()
    base = dict(lr=0.1, batch_size=10, checkpoint_dir=str(tmp_path), keep_checkpoints="all")
    train(_mlp(), data, TrainConfig(epochs=2, **base))
    longer = train(_mlp(seed=9), data, TrainConfig(epochs=3, **base))
    straight = train(_mlp(), data, TrainConfig(epochs=3, lr=0.1, batch_size=10))
    assert longer.resumed_from_epoch == 2 and len(longer.history) == 3
    torch.testing.assert_close(longer.model[1].weight, straight.model[1].weight, rtol=0, atol=0)
    assert sorted(p.name for p in tmp_path.glob("epoch_*.pt")) == ["epoch_0001.pt", "epoch_0002.pt", "epoch_0003.pt"]
    after_one = load_checkpoint(_mlp(), tmp_path / "epoch_0001.pt")
    assert not torch.equal(after_one[1].weight, longer.model[1].weight)
    assert {"last.pt", "model.pt", "metrics.csv", "manifest.json"} <= {p.name for p in tmp_path.iterdir()}


def test_resume_with_other_settings_is_refused(tmp_path):
    data = _data()
    train(_mlp(), data, TrainConfig(epochs=2, lr=0.1, batch_size=10, checkpoint_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match=r"lr: checkpoint 0.1 vs now 0.2"):
        train(_mlp(), data, TrainConfig(epochs=3, lr=0.2, batch_size=10, checkpoint_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match="already at epoch 2"):
        train(_mlp(), data, TrainConfig(epochs=1, lr=0.1, batch_size=10, checkpoint_dir=str(tmp_path)))
    with pytest.raises(DataFileError, match="wrong shape"):
        train(
            build_model("mlp", input_shape=(2,), num_classes=3, depth=1, width=5),
            data,
            TrainConfig(epochs=3, lr=0.1, batch_size=10, checkpoint_dir=str(tmp_path)),
        )


def test_nan_loss_names_epoch_and_step_and_keeps_checkpoint(tmp_path):
    data = _data()
    config = TrainConfig(epochs=3, lr=0.1, batch_size=10, checkpoint_dir=str(tmp_path))

    def poison(info):
        if (info.epoch, info.step) == (2, 3):
            with torch.no_grad():
                model[1].weight.fill_(float("nan"))

    model = _mlp()
    with pytest.raises(ConvergenceError, match=r"nan at epoch 2, step 4 .*last finished epoch \(1\)"):
        train(model, data, config, on_step=poison)
    assert load_checkpoint(_mlp(), tmp_path / LAST)[1].weight.isfinite().all()


def test_bad_inputs():
    data = _data()
    with pytest.raises(InvalidInputError, match="batch size 61"):
        train(_mlp(), data, TrainConfig(epochs=1, lr=0.1, batch_size=61))
    with pytest.raises(InvalidInputError, match="batch size 80 \\(epoch 3\\)"):
        train(_mlp(), data, TrainConfig(epochs=3, lr=0.1, batch_size=8, batch_milestones=(2,), batch_factor=10))
    wrong_outputs = build_model("mlp", input_shape=(2,), num_classes=2)
    with pytest.raises(InvalidInputError, match=r"outputs of shape \(10, 2\)"):
        train(wrong_outputs, data, TrainConfig(epochs=1, lr=0.1, batch_size=10))
    with pytest.raises(InvalidInputError, match="TrainConfig"):
        train(_mlp(), data, {"epochs": 1})


def test_accepts_tensor_pairs_and_plain_datasets():
    data = _data()

    class Plain(torch.utils.data.Dataset):
        def __len__(self):
            return len(data)

        def __getitem__(self, i):
            return data.inputs[i], int(data.targets[i])

    config = TrainConfig(epochs=2, lr=0.1, batch_size=10)
    a = train(_mlp(), (data.inputs, data.targets), config).model
    b = train(_mlp(), Plain(), config).model
    assert torch.equal(a[1].weight, b[1].weight)


def test_caller_global_rng_is_untouched():
    model = _mlp()
    torch.manual_seed(42)
    state = torch.get_rng_state()
    train(model, _data(), TrainConfig(epochs=1, lr=0.1, batch_size=10))
    assert torch.equal(torch.get_rng_state(), state)


def test_progress_bar_runs(capsys):
    train(_mlp(), _data(), TrainConfig(epochs=2, lr=0.1, batch_size=10, progress=True))
    assert "epochs" in capsys.readouterr().out


def test_model_without_parameters_is_refused():
    with pytest.raises(InvalidInputError, match="no trainable parameters"):
        train(nn.Flatten(), _data(), TrainConfig(epochs=1, lr=0.1, batch_size=10))


def test_keeping_the_last_partial_batch():
    data = _data()
    config = TrainConfig(epochs=1, lr=0.1, batch_size=16, drop_last=False)
    seen = []
    result = train(_mlp(), data, config, on_step=lambda info: seen.append(info.loss))
    assert result.history["steps"].tolist() == [4]  # ceil(60 / 16)
    # The epoch loss weights each step by its batch size: 16, 16, 16 and the last 12 points.
    assert result.history["train_loss"].iloc[0] == pytest.approx((16 * sum(seen[:3]) + 12 * seen[3]) / 60)


def _frozen_norm_model():
    """A model in train mode whose BatchNorm is frozen in eval mode (its own mode)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 3))
    model.train()
    model[1].eval()
    return model


def _flags(model):
    return [m.training for m in model.modules()]


def test_epochs_run_in_train_mode_and_the_model_comes_back_as_given():
    model = _frozen_norm_model()
    given = _flags(model)
    seen = []
    train(
        model,
        _data(),
        TrainConfig(epochs=2, lr=0.1, batch_size=10),
        eval_data=_data(),
        on_step=lambda _: seen.append(_flags(model)),
    )
    assert all(all(flags) for flags in seen)  # every module, the frozen BatchNorm too, trains in train mode
    assert _flags(model) == given and not model[1].training


def test_evaluate_runs_in_eval_mode_and_gives_every_mode_back():
    model = _frozen_norm_model()
    given = _flags(model)
    seen = []

    def loss_fn(out, y):
        seen.append(_flags(model))
        return nn.functional.cross_entropy(out, y)

    evaluate(model, loss_fn, _data().inputs, _data().targets, batch_size=25)
    assert len(seen) == 3 and not any(any(flags) for flags in seen)
    assert _flags(model) == given


def test_modes_come_back_when_training_or_evaluation_raises():
    def failing_loss(out, y):
        raise _Interrupt

    model = _frozen_norm_model()
    given = _flags(model)
    with pytest.raises(_Interrupt):
        train(model, _data(), TrainConfig(epochs=2, lr=0.1, batch_size=10), on_step=_stop_at(1, 2))
    assert _flags(model) == given

    def poison(info):
        with torch.no_grad():
            model[0].weight.fill_(float("nan"))

    with pytest.raises(ConvergenceError, match="nan"):
        train(model, _data(), TrainConfig(epochs=1, lr=0.1, batch_size=10), on_step=poison)
    assert _flags(model) == given
    with pytest.raises(_Interrupt):
        evaluate(model, failing_loss, _data().inputs, _data().targets)
    assert _flags(model) == given


def test_a_model_given_in_eval_mode_comes_back_in_eval_mode():
    model = _mlp().eval()
    train(model, _data(), TrainConfig(epochs=1, lr=0.1, batch_size=10))
    assert not any(_flags(model))


def test_data_loaders_and_bad_data_are_named():
    data = _data()
    config = TrainConfig(epochs=2, lr=0.1, batch_size=10)
    loader = torch.utils.data.DataLoader(data, batch_size=7, shuffle=True)
    a = train(_mlp(), data, config).model
    b = train(_mlp(), loader, config).model  # the loader's dataset is read as tensors, in order
    assert torch.equal(a[1].weight, b[1].weight)
    with pytest.raises(InvalidInputError, match=r"^eval_data: .*pair of tensors"):
        train(_mlp(), data, config, eval_data="test.csv")
    with pytest.raises(InvalidInputError, match=r"^data: .*same leading"):
        train(_mlp(), (data.inputs, data.targets[:5]), config)
