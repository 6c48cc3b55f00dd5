"""A noise monitor for training: α, scale and β per layer, and the gradient noise scale, while the
network trains (issue 18).

- :class:`NoiseMonitor` (:mod:`.monitor`): measures on a :class:`MonitorSchedule`
  (:mod:`.schedule`) and logs to ``monitor.parquet`` (:mod:`.table`) and TensorBoard
  (:mod:`.tensorboard_log`); a hook for a plain PyTorch loop (``monitor.step``) or an optimizer
  (``monitor.attach``).
- :func:`measure_noise` (:mod:`.estimate`): one measurement, K extra mini-batches at the current
  weights measured exactly with :func:`sgdnoise.gradients.collect_noise`, fitted per entry.
- :func:`simple_noise_scale` (:mod:`.noise_scale`): McCandlish et al.'s ``Tr Σ₁/‖G‖²``.
- :mod:`sgdnoise.monitor.lightning` and :mod:`sgdnoise.monitor.huggingface`: callbacks for a
  PyTorch Lightning ``Trainer`` and a Hugging Face ``Trainer``. Lightning, transformers and
  tensorboard are optional (``pip install 'sgdnoise[monitor]'``) and imported only by the module
  that needs them, never by this package.
"""

from sgdnoise.monitor.estimate import ENTRY_COLUMNS, LAYER_COLUMNS, NoiseSnapshot, measure_noise
from sgdnoise.monitor.monitor import ENTRIES_FILE, LAYERS_FILE, TENSORBOARD_DIR, NoiseMonitor
from sgdnoise.monitor.noise_scale import simple_noise_scale
from sgdnoise.monitor.schedule import DEFAULT_EVERY, MonitorSchedule

__all__ = [
    "DEFAULT_EVERY",
    "ENTRIES_FILE",
    "ENTRY_COLUMNS",
    "LAYERS_FILE",
    "LAYER_COLUMNS",
    "TENSORBOARD_DIR",
    "MonitorSchedule",
    "NoiseMonitor",
    "NoiseSnapshot",
    "measure_noise",
    "simple_noise_scale",
]
