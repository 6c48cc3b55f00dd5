"""Section of the generative model's gradient noise (a VAE's ELBO, Battash et al.'s AISTATS version)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sgdnoise.report.document import Section, Table
from sgdnoise.report.sections import section_builder
from sgdnoise.report.sections.noise_fits import noise_figures, noise_reading


@section_builder("vae_noise")
def vae_noise_section(result: Any, folder: Path) -> Section:
    c, t = result.config, result.training
    return Section(
        key="vae_noise",
        title="Gradient noise of a generative model (a VAE's ELBO)",
        text=(
            f"A VAE (latent {c.latent_dim}, hidden {c.hidden}) trained {c.epochs} epochs on `{c.data}` with plain SGD "
            f"(lr {c.lr}, batch {c.train_batch_size}; mean ELBO per point {t['train_elbo']:.1f} nats on the training "
            f"split, {t['test_elbo']:.1f} on the test split). At the final weights the noise of the negative ELBO's "
            f"gradient over K = {c.num_batches} mini-batches of B = {c.batch_size} was collected for {c.per_layer} "
            "random entries of every parameter tensor, with the reparameterisation noise ε fixed per data point so "
            "that a mini-batch's gradient depends on the mini-batch alone, and fitted per entry like any other.",
        ),
        reading=noise_reading(result.summary, result.layers),
        tables=(
            Table(
                "table",
                "In the layout of the paper's tables: Gaussian and SαS SSE and Chi² (mean, std)",
                result.table(),
            ),
            Table("layers", "Tail index α per layer (sampled entries)", result.layers),
        ),
        figures=noise_figures(folder),
    )
