"""A variational auto-encoder (Kingma & Welling 2014) whose negative ELBO is a per-sample mean loss.

Model (their Appendix C.2, one tanh hidden layer each way): a Gaussian encoder
``q(z|x) = N(μ(x), diag σ²(x))`` and a Bernoulli decoder ``p(x|z) = Π_j Bern(x_j; sigmoid(f_j(z)))``
over ``D`` pixels in ``[0, 1]``, latent prior ``N(0, I_d)``. With one reparameterised draw
``z = μ + σ ⊙ ε``, ``ε ~ N(0, I_d)``, the per-sample loss is the negative of their eq. 10
(the SGVB estimator with ``L = 1``, KL term in closed form, their Appendix B):

    ℓ(x, ε) = −Σ_j [x_j log y_j + (1 − x_j) log(1 − y_j)] − ½ Σ_i (1 + log σ_i² − μ_i² − σ_i²),
    y = sigmoid(f(μ + σ ⊙ ε)),

and :func:`negative_elbo` is ``(1/n) Σ_n ℓ(x_n, ε_n)`` over a batch, the mean loss every
sgdnoise routine takes.

The draw ε is part of the input. A row is ``[x_1 … x_D, ε_1 … ε_d]`` (``input_shape = (D + d,)``,
``num_outputs = D``; :func:`vae_inputs` appends ε drawn from a seed), and:

- in **eval** mode the model uses the row's ε. Each point keeps one fixed ε for a whole noise
  measurement, so the ELBO gradient of a mini-batch is a function of the mini-batch alone and the
  measured noise is the mini-batch noise of eq. 1 of the ELBO ``(1/D) Σ_ℓ ℓ(x_ℓ, ε_ℓ)`` — the
  reparameterisation's own randomness is frozen, not mixed in (that is the choice; fresh draws
  per mini-batch would add the Monte-Carlo noise of the ELBO estimator to the sampling noise);
- in **training** mode it draws a fresh ε from torch's global generator at every call (the
  usual SGVB training, seeded by :func:`sgdnoise.training.train`), like dropout.

Output: ``(N, D + 2d)`` = decoder logits ``f(z)``, ``μ`` and ``log σ²``; :func:`negative_elbo`
splits it by the width of its target ``x`` ``(N, D)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sgdnoise.errors import ConfigError, InvalidInputError
from sgdnoise.plumbing.checks import positive_int
from sgdnoise.rng import Seed, as_generator


class VAE(nn.Module):
    """Encoder ``x → tanh → (μ, log σ²)``, decoder ``z → tanh → logits`` (see the module docstring).

    ``input_shape = (D + latent_dim,)`` and ``num_outputs = D`` (the pixels, which are also the
    regression targets of the VAE's data set).
    """

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, *, latent_dim: int = 16, hidden: int = 256):
        super().__init__()
        positive_int(latent_dim, "latent_dim", error=ConfigError)
        positive_int(hidden, "hidden", error=ConfigError)
        if len(input_shape) != 1 or int(input_shape[0]) != int(num_outputs) + int(latent_dim):
            raise ConfigError(
                f"vae takes rows [x (num_outputs={num_outputs} pixels), ε (latent_dim={latent_dim})], "
                f"input_shape=({int(num_outputs) + int(latent_dim)},); got {tuple(input_shape)}. "
                "Make them with sgdnoise.models.vae.vae_inputs (or sgdnoise.experiments.generative.vae_dataset)"
            )
        self.data_dim, self.latent_dim = int(num_outputs), int(latent_dim)
        self.encoder = nn.Sequential(nn.Linear(self.data_dim, hidden), nn.Tanh())
        self.mean = nn.Linear(hidden, self.latent_dim)
        self.log_var = nn.Linear(hidden, self.latent_dim)
        self.decoder = nn.Sequential(nn.Linear(self.latent_dim, hidden), nn.Tanh(), nn.Linear(hidden, self.data_dim))

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """``(N, D + 2d)``: logits, μ, log σ² of rows ``(N, D + d)`` (ε fresh in training mode)."""
        x, eps = rows[:, : self.data_dim], rows[:, self.data_dim :]
        if self.training:
            eps = torch.randn_like(eps)
        h = self.encoder(x)
        mu, log_var = self.mean(h), self.log_var(h)
        z = mu + torch.exp(0.5 * log_var) * eps
        return torch.cat([self.decoder(z), mu, log_var], dim=1)


def negative_elbo(outputs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean negative ELBO ``(1/n) Σ_n ℓ(x_n, ε_n)`` (module docstring) of :class:`VAE` outputs
    ``(n, D + 2d)`` against pixels ``x`` ``(n, D)`` in ``[0, 1]``."""
    if x.ndim != 2 or outputs.ndim != 2 or (outputs.shape[1] - x.shape[1]) % 2 or outputs.shape[1] <= x.shape[1]:
        raise InvalidInputError(
            f"negative_elbo takes VAE outputs (n, D + 2d) and pixels (n, D); got {tuple(outputs.shape)} and "
            f"{tuple(x.shape)}"
        )
    d_x = x.shape[1]
    d_z = (outputs.shape[1] - d_x) // 2
    logits, mu, log_var = outputs[:, :d_x], outputs[:, d_x : d_x + d_z], outputs[:, d_x + d_z :]
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
    kl = -0.5 * (1 + log_var - mu.square() - log_var.exp()).sum(1)
    return (reconstruction + kl).mean()


def vae_inputs(pixels: torch.Tensor, latent_dim: int, *, seed: Seed = 0) -> torch.Tensor:
    """Rows ``[x, ε]`` ``(N, D + latent_dim)`` of pixels ``(N, D)`` (or images ``(N, C, H, W)``,
    flattened) in ``[0, 1]``, with ``ε ~ N(0, I)`` drawn from ``seed``, one fixed draw per point."""
    flat = pixels.reshape(len(pixels), -1)
    if not flat.is_floating_point() or bool((flat < 0).any() | (flat > 1).any()):
        raise InvalidInputError("VAE pixels must be floats in [0, 1] (Bernoulli means); divide 8-bit images by 255")
    eps = torch.randn(len(flat), int(latent_dim), generator=as_generator(seed), dtype=torch.float64)
    return torch.cat([flat, eps.to(flat.dtype)], dim=1)
