"""Benchmark the latency predictor: batched CPU inference and training throughput (graphs/s).

Usage (pin to one core while other jobs run; on a quiet machine use both):

    taskset -c 0 python scripts/bench_predictor.py --threads 1
    python scripts/bench_predictor.py --threads 2

Graphs: ResNet-50 exported from torchvision (random weights, 122 nodes) plus
ResNet-50-sized variants (120-180 nodes: the ResNet-50 graph cut or extended by a chain,
output-shape features jittered, so sizes and contents vary and padding/bucketing shows).
With --zoo DIR, the measured zoo's graphs of 120-180 nodes; with --random, random graphs. Prints wall-clock and CPU-time rates:
on a shared machine the CPU-time figure (graphs per CPU-second x threads) is the
one that says what the code does; the wall-clock one says what the machine gave it.
"""

from __future__ import annotations

import argparse
import copy
import random
import time

import torch

from nnprof import encode as enc
from nnprof.model import ModelArgs, build_model, count_parameters, to_inference_dtype
from nnprof.train import Encoded, predict, relative_mse, size_buckets


def resnet50_graph():
    from nnprof import export, graph

    res = export.convert("tv:resnet50", input_size=224, batch_size=1)
    return graph.from_onnx(res.model, "resnet50")


def variants(base: enc.EncodedGraph, n: int, seed: int) -> list[enc.EncodedGraph]:
    """ResNet-50-sized graphs of 120-180 nodes: the base graph with a chain of copied
    nodes appended (and some of its features jittered), so sizes and contents vary."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(120, 180)
        idx = [i % base.num_nodes for i in range(k)]
        x = base.x[idx].clone()
        x[:, -40:] += 0.01 * torch.randn(k, 40)
        e = base.edges
        extra = torch.tensor([[i, i + 1] for i in range(base.num_nodes - 1, k - 1)], dtype=torch.long)
        extra = extra.reshape(-1, 2).t()  # (2, k - base nodes)
        edges = torch.cat([e[:, (e < k).all(0)], extra], 1)
        deg = torch.zeros(k)
        deg.index_add_(0, edges[0], torch.ones(edges.shape[1]))
        deg.index_add_(0, edges[1], torch.ones(edges.shape[1]))
        out.append(enc.EncodedGraph(x, base.static.clone(), edges, deg))
    return out


def random_graphs(n: int, seed: int) -> list[enc.EncodedGraph]:
    g = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(120, 180)
        pairs = {(i, i + 1) for i in range(k - 1)} | {tuple(sorted(rng.sample(range(k), 2))) for _ in range(k // 8)}
        edges = torch.tensor(sorted(pairs), dtype=torch.long).T
        deg = torch.zeros(k)
        deg.index_add_(0, edges[0], torch.ones(edges.shape[1]))
        deg.index_add_(0, edges[1], torch.ones(edges.shape[1]))
        x = torch.zeros(k, enc.NODE_DIM)
        x[torch.arange(k), torch.randint(0, enc.N_OPS, (k,), generator=g)] = 1.0
        x[:, enc.N_OPS :] = torch.rand(k, enc.NODE_DIM - enc.N_OPS, generator=g)
        out.append(enc.EncodedGraph(x, torch.rand(enc.STATIC_DIM, generator=g), edges, deg))
    return out


def timed(fn, repeat: int) -> tuple[float, float]:
    """Best wall and CPU seconds of `repeat` runs (after one warm-up run)."""
    fn()
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best_wall, best_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--graphs", type=int, default=512)
    ap.add_argument("--batch-sizes", default="16,32,64,128")
    ap.add_argument("--kind", default="narformer2")
    ap.add_argument("--random", action="store_true", help="random graphs instead of ResNet-50 variants")
    ap.add_argument("--zoo", help="use the measured zoo's graphs of 120-180 nodes (a zoo directory)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--train-steps", type=int, default=10)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile of the bf16 model (slow to compile)")
    ap.add_argument("--checkpoint", help="a trained checkpoint (default: the paper configuration, random init)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    if args.zoo:
        from nnprof.data import read_zoo

        real = [enc.encode(s.graph) for s in read_zoo(args.zoo) if 120 <= len(s.graph.nodes) <= 180]
        if not real:
            raise SystemExit(f"{args.zoo}: no graph of 120-180 nodes")
        graphs = [real[i % len(real)] for i in range(args.graphs)]
        source = f"cycling through {len(real)} measured-zoo graphs of 120-180 nodes ({args.zoo})"
    elif args.random:
        graphs = random_graphs(args.graphs, 0)
        source = "random graphs, 120-180 nodes"
    else:
        base = enc.encode(resnet50_graph())
        graphs = [base] + variants(base, args.graphs - 1, 0)
        source = f"ResNet-50 ({base.num_nodes} nodes) + variants of 120-180 nodes"
    sizes = [g.num_nodes for g in graphs]
    data = Encoded(graphs, torch.zeros(len(graphs), 2), torch.ones(len(graphs)), [""] * len(graphs), [""] * len(graphs))
    if args.checkpoint:
        from nnprof.train import load_checkpoint

        model, meta = load_checkpoint(args.checkpoint)
        args.kind = meta["kind"]
    else:
        model = build_model(args.kind, ModelArgs(node_dim=enc.NODE_DIM)).eval()
    print(f"model {args.kind}: {count_parameters(model):,} parameters; torch {torch.__version__}; threads {args.threads}")
    print(f"graphs: {len(graphs)} {source}; nodes mean {sum(sizes) / len(sizes):.0f}, min {min(sizes)}, max {max(sizes)}")
    n = len(graphs)

    def rate(wall: float, cpu: float) -> str:
        return f"{n / wall:8.0f} graphs/s wall  {n / cpu * args.threads:8.0f} graphs/s per {args.threads} CPU-s"

    print("\ninference, end to end (train.predict: bucket by size, collate, forward, inference_mode)")
    for precision in ("fp32", "bf16"):
        for bs in [int(b) for b in args.batch_sizes.split(",")]:
            w, c = timed(lambda bs=bs, p=precision: predict(model, data, batch_size=bs, precision=p), args.repeat)
            print(f"  {precision} batch {bs:4d}: {rate(w, c)}")
    ref = predict(model, data)
    low = predict(model, data, precision="bf16")
    change = ((low - ref).abs() / ref).max().item()
    print(f"  bf16 vs fp32: max relative change of a prediction {100 * change:.2f}%")

    bs = 32
    order = list(range(n))
    random.Random(1).shuffle(order)
    unbucketed = [enc.collate([graphs[i] for i in order[k : k + bs]]) for k in range(0, n, bs)]
    bucketed = [enc.collate([graphs[i] for i in idx]) for idx in size_buckets(graphs, bs)]
    pad_u = sum(b.x.shape[0] * b.x.shape[1] for b in unbucketed) / sum(sizes)
    pad_b = sum(b.x.shape[0] * b.x.shape[1] for b in bucketed) / sum(sizes)
    fast = to_inference_dtype(copy.deepcopy(model), torch.bfloat16)

    def forward(batches, m=model, autocast=False):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            return [m(b) for b in batches]

    print(f"\ninference, model only, batch {bs} pre-collated")
    w, c = timed(lambda: forward(unbucketed), args.repeat)
    print(f"  fp32, random order (padded/real rows {pad_u:.2f}): {rate(w, c)}")
    w, c = timed(lambda: forward(bucketed), args.repeat)
    print(f"  fp32, bucketed by size (padded/real {pad_b:.2f}):  {rate(w, c)}")
    w, c = timed(lambda: forward(bucketed, autocast=True), args.repeat)
    print(f"  bf16 autocast, bucketed:                     {rate(w, c)}")
    w, c = timed(lambda: forward(bucketed, fast), args.repeat)
    print(f"  bf16 weights (to_inference_dtype), bucketed: {rate(w, c)}")
    w, c = timed(lambda: [enc.collate([graphs[i] for i in idx]) for idx in size_buckets(graphs, bs)], args.repeat)
    print(f"  collate alone:                               {rate(w, c)}")

    if args.compile:
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True  # constant weights: lets inductor prepack them
        t0 = time.perf_counter()
        compiled = torch.compile(fast, dynamic=True)
        with torch.no_grad():
            compiled(bucketed[0])
        print(f"  torch.compile (inductor, freezing) of the bf16 model: compiled in {time.perf_counter() - t0:.0f} s")

        def run_compiled():
            with torch.no_grad():
                return [compiled(b) for b in bucketed]

        w, c = timed(run_compiled, args.repeat)
        print(f"  bf16 weights + torch.compile, bucketed:      {rate(w, c)}")

    print("\ntraining (batch 16, forward + backward + Adam step)")
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    target = torch.ones(16)
    batches = [enc.collate([graphs[i] for i in order[k * 16 : (k + 1) * 16]]) for k in range(args.train_steps)]

    def train_steps(bf16: bool):
        for b in batches:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                pred = model(b)
            loss = relative_mse(pred.float(), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    g = 16 * args.train_steps
    for bf16 in (False, True):
        w, c = timed(lambda bf16=bf16: train_steps(bf16), 1)
        label = "bf16 autocast" if bf16 else "fp32"
        print(f"  {label:13s}: {g / w:8.0f} graphs/s wall  {g / c * args.threads:8.0f} graphs/s per {args.threads} CPU-s")


if __name__ == "__main__":
    main()
