"""Seeds and generators."""

import numpy as np
import torch

from sgdnoise.rng import as_generator, derived_seed


def test_derived_seed_is_the_seed_sequence_state_of_its_keys():
    assert derived_seed(5) == int(np.random.SeedSequence(5).generate_state(1)[0])
    assert derived_seed(5, 1) == int(np.random.SeedSequence([5, 1]).generate_state(1)[0])
    assert derived_seed(5, 1) == derived_seed(5, 1) != derived_seed(5, 2)
    assert 0 <= derived_seed(2**40) < 2**32


def test_an_int_seed_gives_the_generator_of_manual_seed():
    expected = torch.rand(3, generator=torch.Generator().manual_seed(7))
    assert torch.equal(torch.rand(3, generator=as_generator(7)), expected)
