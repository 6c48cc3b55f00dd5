"""Hessian top-5 eigenvalues and trace: sgdnoise.curvature vs PyHessian and hessian-eigenthings.

Run:  python3 benchmarks/bench_curvature.py [--resnet20] [--seeds 3]

Model: an MLP (64-24-24-10, D = 2410, tanh, float32) briefly trained on scikit-learn's digits (1797
samples, full batch). Reference eigenvalues: sgdnoise Lanczos on a float64 copy at tol 1e-10
(residual-certified), cross-checked against numpy ``eigvalsh`` of the dense Hessian; reference
trace: the exact float64 trace (sum of the dense Hessian's diagonal).

Eigenvalues: each method is run as a user would to get the top 5 at 1e-3 relative accuracy —
sgdnoise Lanczos/power with tol=1e-3 (stop on residual ≤ 1e-3·|θ|), PyHessian power iteration
with tol=1e-3 (its relative-change rule), hessian-eigenthings Lanczos with max_iter doubled from
10 until its own ``converged`` flags are all set (HVPs of the final run only), and its deflated
power iteration with tol=1e-3. "err" is the worst relative error over the 5 against the
reference (the 5 largest algebraically for Lanczos; the 5 largest in magnitude, which is what
power iteration finds, for the power methods), "ok" says whether it is ≤ 1e-3.
Trace: relative error at equal HVP budgets.
PyHessian's and hessian-eigenthings' HVPs are counted by wrapping their product functions.
``--resnet20`` adds a CIFAR ResNet-20 (``sgdnoise.models``, eval mode) on 16 random 32×32
images: eigenvalues only, Lanczos methods and PyHessian (slow on CPU). ``--no-mlp`` skips the MLP.
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import contextmanager

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from torch import nn
from torch.nn import functional as F

from sgdnoise.curvature import HessianOperator, hutchinson_trace, hutchpp_trace, lanczos, power_iteration

TOP = 5
RTOL = 1e-3


def digits_mlp(seed: int = 0):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 24), nn.Tanh(), nn.Linear(24, 24), nn.Tanh(), nn.Linear(24, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model, x, y


@contextmanager
def counted_pyhessian():
    import sys

    import pyhessian  # noqa: F401  (the package re-exports the class under the module's name)

    ph = sys.modules["pyhessian.hessian"]
    original = ph.hessian_vector_product
    counter = {"n": 0}

    def wrapped(*args, **kwargs):
        counter["n"] += 1
        return original(*args, **kwargs)

    ph.hessian_vector_product = wrapped
    try:
        yield counter
    finally:
        ph.hessian_vector_product = original


def eigenthings_operator(model, x, y):
    import hessian_eigenthings as he

    op = he.HessianOperator(model, [(x, y)], he.supervised_loss(F.cross_entropy))
    counter = {"n": 0}
    original = op.matvec

    def matvec(v):
        counter["n"] += 1
        return original(v)

    op.matvec = matvec
    return op, counter


def rel_error(values, reference, by_magnitude: bool = False) -> float:
    """Worst relative error of the top-5, algebraically largest or (power methods) largest in magnitude."""
    got = torch.as_tensor(values, dtype=torch.float64)
    key = got.abs() if by_magnitude else got
    got = got[key.argsort(descending=True)][:TOP]
    ref = reference["magnitude" if by_magnitude else "top"]
    return float(((got - ref) / ref).abs().max())


def references(model, x, y, tol):
    """Top-5 algebraic and top-5 by magnitude from float64 Lanczos at both ends of the spectrum."""
    op_args = (_double_copy(model), F.cross_entropy, (x.double(), y))
    top = lanczos(HessianOperator(*op_args), TOP, tol=tol).eigenvalues
    bottom = lanczos(
        HessianOperator(*op_args),
        TOP,
        which="bottom",
        tol=tol,
        atol=1e-8 * float(top[0].abs()),
        max_iter=min(200, sum(p.numel() for p in op_args[0].parameters())),
        strict=False,
    )
    both = torch.cat([top, bottom.eigenvalues])
    order = both.abs().argsort(descending=True)[:TOP]
    # an unconverged bottom value is only harmless if it is not among the 5 largest in magnitude
    trusted = bool(torch.cat([torch.ones(TOP, dtype=torch.bool), bottom.converged])[order].all())
    return {"top": top, "magnitude": both[order], "magnitude_trusted": trusted}


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def eigen_rows(model, x, y, reference, seeds, with_power=True):
    rows = {}

    def add(name, hvps, seconds, err, certified):
        rows.setdefault(name, []).append((hvps, seconds, err, certified))

    for seed in seeds:
        op = HessianOperator(model, F.cross_entropy, (x, y), chunk_size=len(x))
        res, t = timed(lambda op=op, seed=seed: lanczos(op, TOP, tol=RTOL, seed=seed))
        add("sgdnoise lanczos", res.n_products, t, rel_error(res.eigenvalues, reference), res.all_converged)
        if with_power:
            op = HessianOperator(model, F.cross_entropy, (x, y), chunk_size=len(x))
            res, t = timed(lambda op=op, seed=seed: power_iteration(op, TOP, tol=RTOL, seed=seed, strict=False))
            add("sgdnoise power", res.n_products, t, rel_error(res.eigenvalues, reference, True), res.all_converged)
        try:
            from pyhessian import hessian as PyHessian
        except ImportError:
            pass
        else:
            torch.manual_seed(seed)
            with counted_pyhessian() as count:
                (vals, _), t = timed(
                    lambda: PyHessian(model, F.cross_entropy, data=(x, y), cuda=False).eigenvalues(
                        maxIter=100, tol=RTOL, top_n=TOP
                    )
                )
            add("PyHessian power", count["n"], t, rel_error(vals, reference, True), None)
        try:
            import hessian_eigenthings as he
        except ImportError:
            continue
        op, count = eigenthings_operator(model, x, y)
        start = time.perf_counter()
        m = 2 * TOP
        while True:
            count["n"] = 0
            res = he.lanczos(op, k=TOP, max_iter=min(m, op.size), tol=RTOL, which="LA", seed=seed)
            if bool(res.converged.all()) or m >= 400:
                break
            m *= 2
        add(
            "eigenthings lanczos",
            count["n"],
            time.perf_counter() - start,
            rel_error(res.eigenvalues, reference),
            bool(res.converged.all()),
        )
        if with_power:
            op, count = eigenthings_operator(model, x, y)
            res, t = timed(
                lambda op=op, seed=seed: he.deflated_power_iteration(op, k=TOP, max_iter=200, tol=RTOL, seed=seed)
            )
            add(
                "eigenthings power",
                count["n"],
                t,
                rel_error(res.eigenvalues, reference, True),
                bool(res.converged.all()),
            )
    return rows


def trace_rows(model, x, y, exact, budgets, seeds):
    rows = {}

    def hessian():
        return HessianOperator(model, F.cross_entropy, (x, y), chunk_size=len(x))

    methods = {
        "sgdnoise hutch++": lambda b, s: hutchpp_trace(hessian(), b, seed=s).estimate,
        "sgdnoise hutchinson": lambda b, s: hutchinson_trace(hessian(), b, seed=s).estimate,
    }
    try:
        from pyhessian import hessian as PyHessian

        def pyh(b, s):
            torch.manual_seed(s)
            return float(np.mean(PyHessian(model, F.cross_entropy, data=(x, y), cuda=False).trace(maxIter=b, tol=0.0)))

        methods["PyHessian hutchinson"] = pyh
    except ImportError:
        pass
    try:
        import hessian_eigenthings as he

        methods["eigenthings hutch++"] = lambda b, s: (
            he.hutch_plus_plus(eigenthings_operator(model, x, y)[0], num_matvecs=b, seed=s).estimate
        )
    except ImportError:
        pass
    for name, fn in methods.items():
        for b in budgets:
            errs, times = [], []
            for s in seeds:
                est, t = timed(lambda fn=fn, b=b, s=s: fn(b, s))
                errs.append(abs(est - exact) / abs(exact))
                times.append(t)
            rows[(name, b)] = (float(np.sqrt(np.mean(np.square(errs)))), statistics.mean(times))
    return rows


def print_eigen_table(console, title, rows):
    base = rows["sgdnoise lanczos"]
    base_hvp = statistics.mean(r[0] for r in base)
    base_t = statistics.mean(r[1] for r in base)
    table = Table(title=title)
    for col in ("method", "HVPs", "time s", "HVPs ×", "time ×", "max rel err", f"err ≤ {RTOL:g}", "self-certified"):
        table.add_column(col, justify="right" if col not in ("method",) else "left")
    for name, runs in rows.items():
        hvp = statistics.mean(r[0] for r in runs)
        t = statistics.mean(r[1] for r in runs)
        err = max(r[2] for r in runs)
        cert = "n/a" if runs[0][3] is None else ("yes" if all(r[3] for r in runs) else "NO")
        table.add_row(
            name,
            f"{hvp:.0f}",
            f"{t:.2f}",
            f"{hvp / base_hvp:.2f}",
            f"{t / base_t:.2f}",
            f"{err:.1e}",
            "yes" if err <= RTOL else "NO",
            cert,
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--resnet20", action="store_true", help="also ResNet-20 on random images (slow on CPU)")
    parser.add_argument("--no-mlp", action="store_true", help="skip the MLP part")
    args = parser.parse_args()
    console = Console(width=150)
    seeds = list(range(args.seeds))
    torch.set_num_threads(min(2, torch.get_num_threads()))

    if not args.no_mlp:
        model, x, y = digits_mlp()
        model.eval()
        ref_model, xd = _double_copy(model), x.double()
        ref_op = HessianOperator(ref_model, F.cross_entropy, (xd, y))
        dense = ref_op.to_dense(block_size=256)
        exact_eigs = torch.linalg.eigvalsh(dense).flip(0)[:TOP]
        ref = references(model, x, y, 1e-10)
        exact_trace = float(dense.trace())
        console.print(
            f"MLP on digits: D = {ref_op.dim}, N = {len(x)}; top-5 = {_rounded(ref['top'])}, "
            f"|Lanczos − eigvalsh| max rel {float(((ref['top'] - exact_eigs) / exact_eigs).abs().max()):.1e}; "
            f"top-5 by magnitude = {_rounded(ref['magnitude'])} (certified: {ref['magnitude_trusted']}); "
            f"Tr H = {exact_trace:.5f}"
        )
        print_eigen_table(
            console,
            f"Top-{TOP} Hessian eigenvalues, MLP (mean over {args.seeds} seeds)",
            eigen_rows(model, x, y, ref, seeds),
        )

        budgets = (30, 99, 300)
        trows = trace_rows(model, x, y, exact_trace, budgets, seeds)
        table = Table(title=f"Hessian trace, MLP: RMS relative error over {args.seeds} seeds at equal HVP budgets")
        table.add_column("method")
        for b in budgets:
            table.add_column(f"err @{b}", justify="right")
            table.add_column(f"time s @{b}", justify="right")
        for name in dict.fromkeys(k[0] for k in trows):
            table.add_row(
                name,
                *[f"{v:.1e}" if i % 2 == 0 else f"{v:.2f}" for b in budgets for i, v in enumerate(trows[(name, b)])],
            )
        console.print(table)

    if args.resnet20:
        from sgdnoise.models import build_model

        torch.manual_seed(0)
        net = build_model("resnet20", input_shape=(3, 32, 32), num_classes=10).eval()
        xi, yi = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
        refr = references(net, xi, yi, 1e-8)
        console.print(
            f"ResNet-20 (eval mode, D = {sum(p.numel() for p in net.parameters())}), 16 random images: "
            f"top-5 = {_rounded(refr['top'])}, top-5 by magnitude = {_rounded(refr['magnitude'])} "
            f"(certified: {refr['magnitude_trusted']})"
        )
        print_eigen_table(
            console,
            "Top-5 Hessian eigenvalues, ResNet-20 (1 seed; power methods left out for time)",
            eigen_rows(net, xi, yi, refr, [0], with_power=False),
        )


def _rounded(values: torch.Tensor) -> list[float]:
    return [round(float(v), 5) for v in values]


def _double_copy(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model).double()


if __name__ == "__main__":
    main()
