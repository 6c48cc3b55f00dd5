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

__all__ = ["SgdNoiseError", "__version__", "study"]


def study(model, loss_fn, data, config=None, *, out=None):
    """Run the analyses ``config`` chooses (a dict, a :class:`sgdnoise.studies.config.StudyConfig`
    or ``None`` for the defaults) on ``model`` with ``loss_fn`` over ``data`` (a Dataset, an
    ``(X, y)`` pair or a DataLoader); return a :class:`sgdnoise.studies.study.Study` whose
    ``results`` are the analyses' result dataclasses and whose ``write(dir)`` writes
    ``dir/index.html``. With ``out``, every analysis is a resumable step there and the report is
    written at the end. Imported on call, so ``import sgdnoise`` stays light."""
    from sgdnoise.studies.study import run_study

    return run_study(model, loss_fn, data, config, out=out)
