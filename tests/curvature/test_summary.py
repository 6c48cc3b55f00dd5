"""curvature_summary end to end on small inputs."""

import json

import pytest
import torch

from sgdnoise.curvature.summary import curvature_summary


def test_summary_parts_agree_with_the_exact_hessian(mlp_ce):
    model, loss_fn, data, h_exact = mlp_ce
    s = curvature_summary(
        model,
        loss_fn,
        data,
        k=4,
        batch_size=8,
        n_products=30,
        tol=1e-6,
        max_products=None,
        density_probes=2,
        density_iter=20,
    )
    lam, _ = torch.linalg.eigh(h_exact)
    assert torch.allclose(s.eigen.eigenvalues, lam.flip(0)[:4], rtol=1e-6)
    assert abs(s.trace.estimate - float(h_exact.trace())) < 4 * s.trace.stderr
    x, y = data
    rows = []
    for i in range(len(x)):  # reference per-sample gradients: a loop of backward calls
        model.zero_grad()
        loss_fn(model(x[i : i + 1]), y[i : i + 1]).backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    grads = torch.stack(rows)
    centred = grads - grads.mean(0)
    sigma1 = centred.T @ centred / len(grads)
    top = s.eigen.eigenvectors
    assert torch.allclose(s.eigen_noise, (top * (sigma1 @ top)).sum(0), rtol=1e-8)
    assert s.anisotropy.trace_h_sigma == pytest.approx(float((h_exact @ sigma1).trace()) / 8, rel=1e-8)
    json.dumps(s.to_dict())
