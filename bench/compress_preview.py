"""Time of one interactive preview (prune + fake-quantize the trained reference MLP, evaluate the
test split, write the packed file): what a widget slider move costs. Target: <= 250 ms median.

    .venv/bin/python -m bench.compress_preview            # 60 slider moves, 1 and 2 threads
    .venv/bin/python -m bench.compress_preview --quick
"""
from __future__ import annotations

import argparse
import itertools
import statistics

import torch

from lab.compress import FitConfig, Preview, digit_data, train_reference


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=60)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    calls = 6 if args.quick else args.calls
    data = digit_data(0, limit=300 if args.quick else None)
    model = train_reference("mlp", data, FitConfig(epochs=3 if args.quick else 40))
    sliders = list(itertools.product([0.0, 0.5, 0.8, 0.9, 0.95], [None, 8, 4, 2]))
    result = {}
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            pv = Preview(model, data, threads=threads)
            pv(0.5, 4)                                         # warm-up
            times = [pv(*sliders[i % len(sliders)]).seconds * 1000 for i in range(calls)]
            pv.close()
            q = sorted(times)
            result[threads] = {"median_ms": statistics.median(q), "p90_ms": q[int(0.9 * (len(q) - 1))], "max_ms": q[-1]}
            print(f"{threads} thread(s): preview median {result[threads]['median_ms']:.1f} ms, "
                  f"p90 {result[threads]['p90_ms']:.1f} ms, max {result[threads]['max_ms']:.1f} ms over {calls} calls "
                  f"(test split {len(data.test)} examples)")
    finally:
        torch.set_num_threads(before)
    return result


if __name__ == "__main__":
    main()
