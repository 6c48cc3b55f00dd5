"""Train networks the way the papers do: plain SGD, step schedules, checkpoints, resume.

from sgdnoise.data import load_dataset
from sgdnoise.models import build_model
from sgdnoise.training import TrainConfig, train

data = load_dataset("digits")
model = build_model("mlp", input_shape=data.info.input_shape, num_classes=data.info.num_outputs)
result = train(model, data, TrainConfig(epochs=30, lr=0.1, batch_size=32, lr_milestones=(20,), checkpoint_dir="run"))
result.history                      # one row per epoch: lr, batch_size, train/test loss and accuracy
"""

from sgdnoise.training.config import TrainConfig
from sgdnoise.training.loop import StepInfo, evaluate, train
from sgdnoise.training.result import HISTORY_COLUMNS, TrainResult

__all__ = [
    "HISTORY_COLUMNS",
    "StepInfo",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "train",
]
