"""The config of ``sgdnoise study`` (a TOML file, or a dict from Python), validated up front.

Every key is checked before anything runs or is written: an unknown key, a wrong type, an
impossible value or a missing file raises :class:`~sgdnoise.errors.ConfigError` naming the key
(``noise_fits.batches``) and saying what to write instead. :data:`EXAMPLE` is the commented
config that ``sgdnoise study --example-config`` prints; it parses to the defaults.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FilePath, StrictInt, ValidationError, field_validator

from sgdnoise.errors import ConfigError

ANALYSES = ("noise_fits", "alpha_vs_batch", "curvature")
Method = Literal["cf", "quantile", "tail", "mle"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainSettings(_Strict):
    """Plain SGD before the analyses (``epochs = 0``: analyse the weights as given)."""

    epochs: int = Field(0, ge=0, strict=True)
    lr: float = Field(0.05, gt=0)
    batch_size: int = Field(32, ge=1, strict=True)


class NoiseSettings(_Strict):
    batch_size: int = Field(32, ge=1, strict=True)
    batches: int = Field(1000, ge=20, strict=True)
    per_layer: int = Field(16, ge=1, strict=True)
    method: Method = "cf"


class AlphaBatchSettings(_Strict):
    batch_sizes: tuple[StrictInt, ...] = Field((8, 32, 128), min_length=2)
    batches: int = Field(300, ge=20, strict=True)
    per_layer: int = Field(8, ge=1, strict=True)
    n_boot: int = Field(100, ge=1, strict=True)

    @field_validator("batch_sizes")
    @classmethod
    def _distinct_positive(cls, sizes: tuple[int, ...]) -> tuple[int, ...]:
        if any(b < 1 for b in sizes) or len(set(sizes)) != len(sizes):
            raise ValueError("needs distinct positive batch sizes, e.g. [8, 32, 128]")
        return sizes


class CurvatureSettings(_Strict):
    k: int = Field(10, ge=1, strict=True)
    tol: float = Field(1e-3, gt=0, lt=1)
    batch_size: int = Field(32, ge=1, strict=True)
    max_samples: int = Field(512, ge=2, strict=True)
    trace_products: int = Field(99, ge=1, strict=True)


class StudyConfig(_Strict):
    """Which analyses to run and how large; ``model``/``data``/``loss``/``checkpoint`` may also be
    given here (the command line's options win)."""

    analyses: tuple[Literal["noise_fits", "alpha_vs_batch", "curvature"], ...] = Field(
        ("noise_fits", "curvature"), min_length=1
    )
    seed: int = Field(0, ge=0, strict=True)
    model: str | None = None
    data: str | None = None
    loss: str | None = None
    checkpoint: FilePath | None = None
    train: TrainSettings = TrainSettings()
    noise_fits: NoiseSettings = NoiseSettings()
    alpha_vs_batch: AlphaBatchSettings = AlphaBatchSettings()
    curvature: CurvatureSettings = CurvatureSettings()

    @field_validator("analyses")
    @classmethod
    def _once_each(cls, analyses: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(analyses)) != len(analyses):
            raise ValueError("names an analysis twice; list each once")
        return analyses


EXAMPLE = """\
# sgdnoise study config (TOML). Every key is optional; these are the defaults.

# The analyses to run, in the report's order: any of "noise_fits", "alpha_vs_batch", "curvature".
analyses = ["noise_fits", "curvature"]
seed = 0                      # seeds the sampled entries, the mini-batches and the probes

# model = "mypkg.nets:make_model"     # or a registry name (mlp, cnn, resnet20, ...); --model wins
# data = "mypkg.data:load"            # a function returning a Dataset, an (X, y) pair or a DataLoader; --data wins
# loss = "cross-entropy"              # or "mse", or "mypkg.losses:my_loss"; default from the targets
# checkpoint = "runs/model.pt"        # weights to load into the model (a state_dict)

[train]                       # plain SGD before the analyses; epochs = 0 analyses the weights as given
epochs = 0
lr = 0.05
batch_size = 32

[noise_fits]                  # Gaussian vs SαS per sampled parameter (Battash et al. Table 1)
batch_size = 32               # B of the noise mini-batches
batches = 1000                # K mini-batches (at least 20)
per_layer = 16                # random entries of every parameter tensor
method = "cf"                 # SαS estimator: cf, quantile, tail or mle

[alpha_vs_batch]              # α, β and the better law of the same entries at several batch sizes
batch_sizes = [8, 32, 128]
batches = 300                 # K mini-batches at each size
per_layer = 8                 # random entries of every parameter tensor
n_boot = 100                  # bootstrap resamplings for the intervals of α

[curvature]                   # Hessian spectrum, trace and noise geometry (Zhu et al., Wang & Wu)
k = 10                        # top eigenvalues
tol = 1e-3                    # relative residual of each eigenvalue
batch_size = 32               # B of SGD's noise covariance
max_samples = 512             # random training points used
trace_products = 99           # Hessian-vector products for the Hutch++ trace
"""


def read_config(path: str | Path | None) -> StudyConfig:
    """The config in the TOML file ``path`` (``None``: the defaults), validated."""
    if path is None:
        return parse_config({})
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no config file {path}; write one with `sgdnoise study --example-config > {path.name}`")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; compare with `sgdnoise study --example-config`") from exc
    return parse_config(data, source=str(path))


def parse_config(data: dict[str, Any] | StudyConfig, *, source: str = "the study config") -> StudyConfig:
    """Validate ``data``; :class:`ConfigError` naming every bad key and what to do."""
    if isinstance(data, StudyConfig):
        return data
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise ConfigError(f"{source}: {problems}") from None


def _problem(error: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"])
    kind, given = error["type"], error.get("input")
    if kind == "extra_forbidden":
        section = error["loc"][:-1]
        model: Any = StudyConfig
        for part in section:
            model = model.model_fields[str(part)].annotation
        allowed = ", ".join(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else ""
        return f"unknown key `{key}`; remove it or use one of: {allowed}"
    if kind == "path_not_file":
        return f"`{key}`: no such file {given!r}; give the path of a saved state_dict (e.g. from `sgdnoise train`)"
    message = error["msg"].replace("Value error, ", "")
    return f"`{key}` {message[0].lower()}{message[1:]} (got {given!r}); fix it or see `sgdnoise study --example-config`"
