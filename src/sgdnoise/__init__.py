"""sgdnoise: measure, model and simulate the noise of stochastic gradient descent.

Layers (lower never imports higher)::

    cli / experiments / report / monitor
    dynamics   curvature   gradients
    theory     stable
    models  data  store  parallel

Start with :mod:`sgdnoise.stable` (symmetric alpha-stable sampling, densities, fits and
goodness of fit).
"""

from sgdnoise.errors import SgdNoiseError

__version__ = "0.1.0"

__all__ = ["SgdNoiseError", "__version__"]
