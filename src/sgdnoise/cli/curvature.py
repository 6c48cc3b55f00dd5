"""``sgdnoise curvature``: Hessian spectrum, trace and noise geometry of a (trained) model.

    sgdnoise curvature --model mlp --data digits --checkpoint runs/mlp/model.pt --k 10 --out runs/mlp/curv

Measures on a uniform random subset of ``--max-samples`` training points (the model in eval
mode: dropout off, BatchNorm running statistics), prints the top-k eigenvalues with their
residuals, Tr H ± stderr, the outliers (n, h*), Zhu's Tr(HΣ) vs isotropic noise, the gradient
noise scales and the noise variance along each top eigenvector. With ``--out`` it writes
``summary.json`` and ``density.csv`` (the SLQ spectral density on a grid).
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "curvature",
        help="Hessian spectrum, trace and noise geometry of a model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="model name (mlp, cnn, resnet20, …)")
    p.add_argument("--data", required=True, help="dataset name (digits, mnist_5k, cifar10, …) or a path")
    p.add_argument(
        "--checkpoint", help="weights to load (sgdnoise train's model.pt or a state_dict); default: fresh init"
    )
    p.add_argument("--model-opt", action="append", default=[], metavar="KEY=VALUE", help="model option (repeatable)")
    p.add_argument("--data-opt", action="append", default=[], metavar="KEY=VALUE", help="dataset option (repeatable)")
    p.add_argument("--k", type=int, default=10, help="number of top Hessian eigenvalues")
    p.add_argument("--tol", type=float, default=1e-3, help="relative residual tolerance of the eigenvalues")
    p.add_argument("--batch-size", type=int, default=32, help="SGD batch size B of the noise covariance Σ")
    p.add_argument("--max-samples", type=int, default=512, help="training points used (random subset)")
    p.add_argument("--trace-products", type=int, default=99, help="HVPs for the Hutch++ trace")
    p.add_argument("--params", nargs="*", help="parameter name globs to restrict to (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="folder for summary.json and density.csv")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd
    import torch
    from rich.table import Table

    from sgdnoise.cli.options import parse_options
    from sgdnoise.curvature.summary import curvature_summary
    from sgdnoise.data import load_dataset
    from sgdnoise.errors import ConfigError
    from sgdnoise.models import build_model, load_checkpoint
    from sgdnoise.plumbing import default_loss
    from sgdnoise.report import figures
    from sgdnoise.report.tables import console as report_console
    from sgdnoise.store import manifest, write_json, write_table

    if args.max_samples < 2 or args.k < 1:
        raise ConfigError("--max-samples must be >= 2 and --k >= 1")
    data = load_dataset(args.data, split="train", **parse_options(args.data_opt, "--data-opt"))
    model = build_model(
        args.model,
        input_shape=data.info.input_shape,
        num_classes=data.info.num_outputs,
        **parse_options(args.model_opt, "--model-opt"),
    )
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint)
    x, y = data.tensors
    pick = torch.randperm(len(x), generator=torch.Generator().manual_seed(args.seed))[: args.max_samples]
    loss_fn = default_loss(y)
    s = curvature_summary(
        model,
        loss_fn,
        (x[pick], y[pick]),
        k=args.k,
        batch_size=args.batch_size,
        n_products=args.trace_products,
        tol=args.tol,
        params=args.params,
        seed=args.seed,
    )

    console = report_console()
    table = Table(
        title=f"{args.model} on {data.info.name}: top-{args.k} Hessian eigenvalues (D = {s.dim}, "
        f"N = {s.n_samples}, L = {s.loss:.4g})"
    )
    for col in ("i", "λ_i", "residual", "v_iᵀΣ₁v_i", "v_iᵀΣ₁v_i / (2L·λ_i)"):
        table.add_column(col, justify="right")
    for i, (lam, res, noise) in enumerate(
        zip(s.eigen.eigenvalues.tolist(), s.eigen.residuals.tolist(), s.eigen_noise.tolist()), 1
    ):
        table.add_row(str(i), f"{lam:.5g}", f"{res:.1e}", f"{noise:.4g}", f"{noise / (2 * s.loss * lam):.3g}")
    console.print(table)
    a, g, o, m = s.anisotropy, s.noise_scale, s.outliers, s.strength
    facts = Table(show_header=False, title="trace, outliers and noise geometry")
    facts.add_column("quantity")
    facts.add_column("value", justify="right")
    for name, value in [
        ("Tr H (Hutch++)", f"{s.trace.estimate:.5g} ± {s.trace.stderr:.2g}"),
        (
            f"outliers n, h* (gap ≥ {o.min_gap:g})",
            f"{o.n}, {o.h_star:.4g}" + (" (gap at edge: raise --k)" if o.at_edge else ""),
        ),
        (f"Tr(HΣ), B = {s.batch_size}", f"{a.trace_h_sigma:.4g} ± {a.trace_h_sigma_stderr:.2g}"),
        ("isotropic Tr H·TrΣ/D", f"{a.isotropic:.4g} ± {a.isotropic_stderr:.2g}"),
        ("anisotropy ratio (Zhu)", f"{a.ratio:.4g} ± {a.ratio_stderr:.2g}"),
        ("B_simple = TrΣ₁/‖G‖²", f"{g.b_simple:.4g}"),
        ("B_noise = Tr(HΣ₁)/GᵀHG", f"{g.b_noise:.4g} ± {g.b_noise_stderr:.2g}"),
        ("noise strength 𝒩, 𝒩/L", f"{m.strength:.4g}, {m.ratio:.4g}"),
        ("𝒩/(2L·Tr H) (Mori: ≈ 1)", f"{m.mori_ratio:.4g}" if m.mori_ratio is not None else "n/a"),
    ]:
        facts.add_row(name, value)
    console.print(facts)
    if args.out:
        from pathlib import Path

        out = Path(args.out)
        lo, hi = float(s.density.nodes.min()), float(s.density.nodes.max())
        pad = 0.05 * (hi - lo) + 1e-12
        grid = torch.linspace(lo - pad, hi + pad, 400, dtype=s.density.nodes.dtype)
        width = max((hi - lo) / 100, 1e-12)
        write_table(
            pd.DataFrame({"eigenvalue": grid.numpy(), "density": s.density.density(grid, width).numpy()}),
            out / "density.csv",
        )
        write_json(
            {
                "summary": s.to_dict(),
                "manifest": manifest({k: v for k, v in vars(args).items() if k != "func"}, seed=args.seed),
            },
            out / "summary.json",
        )
        figures.spectral_density(
            grid.numpy(),
            s.density.density(grid, width).numpy(),
            out / "spectral_density.png",
            s.eigen.eigenvalues.tolist(),
        )
        figures.directional_alignment(
            s.eigen.eigenvalues.tolist(), s.eigen_noise.tolist(), s.loss, out / "alignment.png"
        )
        console.print(f"wrote summary.json, density.csv, spectral_density.png and alignment.png to {out}")
    return 0
