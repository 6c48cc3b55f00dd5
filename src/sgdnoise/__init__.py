"""sgdnoise: measure, model and simulate the noise of stochastic gradient descent.

Layers (lower never imports higher; docs/architecture.md)::

    cli / experiments / report
    dynamics   curvature   gradients   training
    theory     stable
    models  data  store  parallel  plumbing

Ways in: :func:`sgdnoise.gradients.collect_noise` (the noise of a network's mini-batches),
:mod:`sgdnoise.stable` (α-stable fits and goodness of fit), :mod:`sgdnoise.curvature`
(Hessian and noise geometry), :mod:`sgdnoise.dynamics` and :mod:`sgdnoise.theory` (escape from
minima, simulated and predicted), and the recipes in :mod:`sgdnoise.experiments`.
"""

from sgdnoise.errors import SgdNoiseError

__version__ = "0.1.0"

__all__ = ["SgdNoiseError", "__version__"]
