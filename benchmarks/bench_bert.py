"""Noise of BERT-base (110M parameters) on CoLA-like sentences: ``collect_noise`` vs a plain loop.

Run:  python3 benchmarks/bench_bert.py               (B = 8 and 32, K = 4 mini-batches; about 15 minutes)
      python3 benchmarks/bench_bert.py --k 2 --batch-sizes 8   (a smoke test)

Model: ``build_model("bert_base", input_shape=(L,), num_classes=2)`` — BERT-base from its config,
randomly initialised (speed and memory do not depend on the weights), eval mode, float32, the
padding masked. Data: ``D = 512`` sentences of 8 to 47 token ids padded to ``L = 47`` (CoLA's
longest sentence under BERT's uncased WordPiece vocabulary is 47 tokens; most are far shorter),
two classes. The mini-batches are pre-drawn (``sample_batch_indices``, what ``collect_noise``
draws from seed 0) and the full gradient is given, so every method computes the same K
mini-batch gradients and nothing else.

Methods:

- ``loop`` — what a user writes: per mini-batch ``model.zero_grad(); loss.backward()`` and every
  parameter's gradient copied out (K × 110M floats kept, as the noise needs them);
- ``ours-all`` — ``collect_noise(params=None, memory_budget=4 GiB)``: the noise of every entry kept (``auto`` picks
  the loop engine: BERT has embeddings, which the entries engine does not take);
- ``ours-120`` — ``collect_noise(params=<120 entries>)``: Battash et al.'s Table 2, 120 entries
  sampled over the whole network; the noise of the others is not kept (their running moments are).

Each (B, method) runs in a forked child with one intra-op thread (the machine is shared; CPU
seconds of the child are timed, one warm-up mini-batch first). Peak memory is the child's peak
RSS (``VmHWM``, reset after the model and data are built) minus its RSS then: what the method
allocates on top of the model (≈ 420 MiB of float32 weights). Accuracy: max |difference| of the
first mini-batch's gradient (noise read back as ``∇U − u_0``) to the loop's at the 120 entries.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import time
import traceback
import warnings

import torch
from torch import nn

LENGTH = 47
NUM_POINTS = 512
VOCAB = 30522
ENTRIES = 120
MEMORY_BUDGET = 4 << 30  # the default 1 GiB is below one BERT-base mini-batch (3 gradient copies: 1.3 GB)


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field))


def sentences(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` id rows ``[CLS] … [SEP]`` of 8…47 tokens, padded with 0 to 47, and labels."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(n, LENGTH, dtype=torch.int64)
    for row, size in enumerate(torch.randint(8, LENGTH + 1, (n,), generator=g).tolist()):
        ids[row, :size] = torch.randint(1000, VOCAB, (size,), generator=g)
        ids[row, 0], ids[row, size - 1] = 101, 102
    return ids, torch.randint(0, 2, (n,), generator=g)


def run_case(batch_size: int, k: int, method: str, threads: int, queue) -> None:
    try:
        torch.set_num_threads(threads)
        warnings.simplefilter("ignore")
        from sgdnoise.gradients import collect_noise, sample_batch_indices
        from sgdnoise.models import seeded_model

        model = seeded_model("bert_base", input_shape=(LENGTH,), num_classes=2, seed=0).eval()
        x, y = sentences(NUM_POINTS)
        loss_fn = nn.CrossEntropyLoss()
        params = dict(model.named_parameters())
        probe = _probe(params)
        indices = sample_batch_indices(NUM_POINTS, batch_size, k + 1, 0)
        full = {n: torch.zeros_like(p) for n, p in params.items()}  # given: the K gradients are what is timed

        def loop(idx):
            kept = []
            for row in idx:
                model.zero_grad(set_to_none=True)
                loss_fn(model(x[row]), y[row]).backward()
                kept.append({n: p.grad.detach().clone() for n, p in params.items()})
            return torch.cat([kept[0][n].flatten()[i] for n, i in probe.entries.items()])

        def ours(idx, selection):
            res = collect_noise(
                model,
                loss_fn,
                (x, y),
                seed=0,
                batch_indices=idx,
                full_grad=full,
                params=selection,
                method="auto",
                memory_budget=MEMORY_BUDGET,
            )
            first = {n: -v[0] for n, v in res.noise.items()}  # ∇U = 0 given, so g_0 = −u_0
            if selection is None:
                return torch.cat([first[n].flatten()[i] for n, i in probe.entries.items()]), res.method
            return torch.cat([first[n] for n in probe.entries]), res.method

        if method == "loop":
            run = loop
        elif method == "ours-all":
            run = lambda idx: ours(idx, None)[0]  # noqa: E731
        else:
            run = lambda idx: ours(idx, probe)[0]  # noqa: E731
        run(indices[:1])  # warm-up
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        base = _rss_kb("VmRSS")
        clock = time.process_time if threads == 1 else time.perf_counter
        start = clock()
        out = run(indices[1:])
        seconds = clock() - start
        engine = "" if method == "loop" else ours(indices[1:2], probe)[1]
        queue.put(
            {
                "status": "ok",
                "seconds": seconds,
                "peak_mb": (_rss_kb("VmHWM") - base) / 1024,
                "g0": out.tolist(),
                "engine": engine,
            }
        )
    except Exception as exc:
        queue.put({"status": f"{type(exc).__name__}: {str(exc)[:80]}", "trace": traceback.format_exc()})


def _probe(params: dict[str, torch.Tensor]):
    """120 entries drawn uniformly over all of the network's entries (seed 0), as in Table 2."""
    from sgdnoise.gradients.selection import ParameterSelection

    sizes = torch.tensor([p.numel() for p in params.values()])
    offsets = torch.cumsum(sizes, 0) - sizes
    flat = torch.randperm(int(sizes.sum()), generator=torch.Generator().manual_seed(0))[:ENTRIES].sort().values
    owner = torch.searchsorted(torch.cumsum(sizes, 0), flat, right=True)
    entries = {}
    for j, name in enumerate(params):
        chosen = flat[owner == j] - offsets[j]
        if len(chosen):
            entries[name] = chosen
    return ParameterSelection(entries=entries, shapes={n: tuple(params[n].shape) for n in entries})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[8, 32])
    parser.add_argument("--k", type=int, default=4, help="timed mini-batches per case")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    ctx = mp.get_context("fork")
    print(
        f"bench_bert: BERT-base (bert_base, 109.5M parameters), L = {LENGTH}, D = {NUM_POINTS}, K = {args.k}, "
        f"{args.threads} thread(s); torch {torch.__version__}, {os.cpu_count()} CPUs, {platform.processor() or '?'}"
    )
    columns = ("method", "engine", "ms/batch", "loop/this", "peak MiB", "max err")
    print(f"{'B':>4s} " + " ".join(f"{c:>{9 if c != 'engine' else 7}s}" for c in columns))
    for batch_size in args.batch_sizes:
        results = {}
        for method in ("loop", "ours-all", "ours-120"):
            queue = ctx.Queue()
            child = ctx.Process(target=run_case, args=(batch_size, args.k, method, args.threads, queue))
            child.start()
            results[method] = queue.get()
            child.join()
            r = results[method]
            if r["status"] != "ok":
                print(f"{batch_size:4d} {method:>9s} {r['status']}\n{r.get('trace', '')}")
                continue
            loop = results["loop"]
            ms = 1000 * r["seconds"] / args.k
            ratio = loop["seconds"] / r["seconds"] if loop["status"] == "ok" else float("nan")
            err = (torch.tensor(r["g0"]) - torch.tensor(loop["g0"])).abs().max().item()
            print(
                f"{batch_size:4d} {method:>9s} {r['engine'] or '—':>7s} {ms:9.0f} {ratio:9.2f} {r['peak_mb']:9.0f} "
                f"{err:9.1e}"
            )


if __name__ == "__main__":
    main()
