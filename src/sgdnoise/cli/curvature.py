"""``sgdnoise curvature``: Hessian spectrum, trace and noise geometry of a (trained) model.

    sgdnoise curvature --model mlp --data digits --checkpoint runs/mlp/model.pt --k 10 --out runs/mlp/curv

Measures on a uniform random subset of ``--max-samples`` training points (the model in eval
mode: dropout off, BatchNorm running statistics), prints the top-k eigenvalues with their
residuals, Tr H ± stderr, the outliers (n, h*), Zhu's Tr(HΣ) vs isotropic noise, the gradient
noise scales and the noise variance along each top eigenvector. With ``--out`` it writes
``summary.json``, ``density.csv`` (the SLQ spectral density on a grid), ``spectral_density.png``
and ``alignment.png``. The work is :func:`sgdnoise.experiments.curvature.run_curvature`.
"""

from __future__ import annotations

import argparse

from sgdnoise.cli.options import add_network_options, network_options


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
    add_network_options(p)
    p.add_argument("--k", type=int, default=10, help="number of top Hessian eigenvalues")
    p.add_argument("--tol", type=float, default=1e-3, help="relative residual tolerance of the eigenvalues")
    p.add_argument("--batch-size", type=int, default=32, help="SGD batch size B of the noise covariance Σ")
    p.add_argument("--max-samples", type=int, default=512, help="training points used (random subset)")
    p.add_argument("--trace-products", type=int, default=99, help="HVPs for the Hutch++ trace")
    p.add_argument("--params", nargs="*", help="parameter name globs to restrict to (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the subset, the probes and a fresh init")
    p.add_argument("--out", help="folder for summary.json, density.csv and the figures")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sgdnoise.experiments.curvature import CurvatureConfig, run_curvature
    from sgdnoise.report.curvature import eigenvalue_table, geometry_table
    from sgdnoise.report.tables import console as report_console

    model_options, data_options = network_options(args)
    config = CurvatureConfig(
        model=args.model,
        data=args.data,
        checkpoint=args.checkpoint,
        model_options=model_options,
        data_options=data_options,
        k=args.k,
        tol=args.tol,
        batch_size=args.batch_size,
        max_samples=args.max_samples,
        trace_products=args.trace_products,
        params=args.params,
        seed=args.seed,
    )
    result = run_curvature(config)
    console = report_console()
    console.print(eigenvalue_table(result.summary, f"{config.model} on {result.dataset}"))
    console.print(geometry_table(result.summary))
    if args.out:
        paths = result.write(args.out)
        console.print(f"wrote {', '.join(p.name for p in paths.values())} to {args.out}")
    return 0
