"""The exit-direction projection against dense algebra."""

import pytest
import torch

from sgdnoise.dynamics import project_displacements
from sgdnoise.errors import InvalidInputError


def test_projection_shares_match_dense_projector():
    gen = torch.Generator().manual_seed(1)
    d = torch.randn(20, 50, generator=gen, dtype=torch.float64)
    V, _ = torch.linalg.qr(torch.randn(50, 4, generator=gen, dtype=torch.float64))
    shares = project_displacements(d, V)
    P = V @ V.T  # dense orthogonal projector onto span(V)
    dense = ((d @ P) ** 2).sum(1) / (d**2).sum(1)
    torch.testing.assert_close(shares.share_top, dense, rtol=1e-12, atol=0)
    torch.testing.assert_close(
        shares.share_top + shares.share_rest, torch.ones(20, dtype=torch.float64), rtol=0, atol=1e-15
    )
    torch.testing.assert_close(shares.share_each.sum(1), shares.share_top)
    with pytest.raises(InvalidInputError, match="orthonormal"):
        project_displacements(d, 2 * V)
