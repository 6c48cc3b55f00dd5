"""The entries engine: mini-batch gradients from per-sample factors, each distinct sample once.

A chunk of ``Kc`` mini-batches draws ``Kc·B`` samples, many of them more than once when ``Kc·B``
approaches the data size ``D``. Each *distinct* sample ``n`` goes through the model once (eval
mode, so samples are independent), and one backward pass gives each owner module's input
``a_n`` and output gradient ``δ_n = (1/B)·∂ℓ_n/∂z_n`` (:mod:`.factors`). Per-sample contributions
are products of these factors, and summing those of ``Ω_k`` gives exactly the entries of ``g_k``
(eq. 1). The forward, the input-gradient half of the backward, and per-sample weight gradients
are thus paid once per distinct sample instead of once per draw; per draw only additions remain
(or, for weights with few output positions, a matrix multiply per mini-batch).

One file per idea:

- :mod:`.support` — which models and entries it takes, decided before running;
- :mod:`.factors` — hooks and the one backward pass of a piece of samples;
- :mod:`.paths` — which way each computed tensor takes (the rules the planner sizes memory by);
- :mod:`.products` — per-sample products of single entries, and of tensors off the weight paths;
- :mod:`.counts` — the sparse count matrix that sums per-sample rows into mini-batches;
- :mod:`.joined` — factors kept for all samples of a chunk, for weights summed per mini-batch;
- :mod:`.linear` — a whole Linear weight, per sample or per mini-batch;
- :mod:`.conv` — a whole Conv2d weight, per sample or per mini-batch, as grouped convolutions;
- :mod:`.folded` — a Conv2d weight on maps smaller than its kernel, per mini-batch from outer products;
- :mod:`.padding` — a conv's zero padding as explicit widths;
- :mod:`.gradients` — one chunk, all of the above together (:func:`entry_gradients`);
- :mod:`.memory` — the memory rule of a chunk;
- :mod:`.check` — the first mini-batch against autograd;
- :mod:`.engine` — the engine as the planner and the collection see it (:data:`ENTRIES`).
"""

from sgdnoise.gradients.engines.entries.engine import ENTRIES, EntriesEngine
from sgdnoise.gradients.engines.entries.gradients import entry_gradients

__all__ = ["ENTRIES", "EntriesEngine", "entry_gradients"]
