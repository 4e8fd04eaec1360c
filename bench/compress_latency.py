"""int8 vs fp32 latency on CPU at batch 1 and 256, and ONNX Runtime vs eager torch, for the reference MLP.

Every variant is timed in each of ``--rounds`` interleaved rounds (median of ``repeats`` calls after a
warm-up, 1 thread); ratios are fp32-eager time / variant time computed *within* a round, and the
table gives the median over rounds, so other load on the machine affects both sides alike.
Ratios above 1 mean faster than eager fp32 torch; below 1, slower.

    .venv/bin/python -m bench.compress_latency               # without torch.compile
    .venv/bin/python -m bench.compress_latency --compile     # + torch.compile'd fp32 and PT2E int8 (freezing)
    .venv/bin/python -m bench.compress_latency --quick
"""
from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import warnings
from pathlib import Path

import torch

from lab.compress import FitConfig, Int8Config, digit_data, quantize_int8, train_reference
from lab.compress.int8 import torch_dynamic_int8, torchao_dynamic_int8
from lab.cost import MeasureConfig, example_input, time_call
from lab.deploy import export_onnx, ort_session, quantize_onnx, time_onnx
from lab.tables import format_table


def build_variants(model, data, workdir: Path, compile_: bool) -> dict:
    """name -> callable(x) for every runtime."""
    variants = {"torch fp32 (eager)": model}
    variants["torch int8 dynamic (torch.ao, deprecated)"] = torch_dynamic_int8(model)
    variants["torchao int8 dynamic (quantize_)"] = torchao_dynamic_int8(model)
    quiet = MeasureConfig(latency=False, memory=False, packed=False)
    static, _ = quantize_int8(model, Int8Config("static"), data=data, measure_config=quiet)
    variants["PT2E int8 static (eager)"] = static
    if compile_:
        # Inductor with freezing (weights constant-folded and prepacked; the int8 fusion patterns of
        # X86InductorQuantizer are freezing passes), compiled separately for each batch size
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            variants["torch fp32 (compiled)"] = {b: _compiled(model, data, b) for b in BATCHES}
            variants["PT2E int8 static (compiled)"] = {b: _compiled(static, data, b) for b in BATCHES}
    path = export_onnx(model, workdir / "mlp.onnx", data.test.x[:2]).path
    variants["ONNX Runtime fp32"] = ort_session(path)
    variants["ONNX Runtime int8 dynamic"] = ort_session(quantize_onnx(path, workdir / "dyn.onnx", "dynamic"))
    variants["ONNX Runtime int8 static (QDQ)"] = ort_session(
        quantize_onnx(path, workdir / "static.onnx", "static", data.train.x[:256]))
    return variants


BATCHES = (1, 256)


def _compiled(model, data, batch: int):
    import torch._inductor.config as inductor_config

    compiled = torch.compile(model, dynamic=False)
    with torch.no_grad(), inductor_config.patch(freezing=True):     # compiles on this first call
        compiled(example_input(model, data, batch))
    return compiled


def timed(variant, x, repeats: int, warmup: int) -> float:
    if isinstance(variant, dict):
        variant = variant[x.shape[0]]
    if hasattr(variant, "get_inputs"):                 # an ONNX Runtime session
        return time_onnx(variant, x, repeats, warmup)
    return time_call(lambda: variant(x), repeats, warmup, threads=1)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--compile", action="store_true", help="also time torch.compile'd fp32 and PT2E int8")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    data = digit_data(0, limit=300 if args.quick else None)
    model = train_reference("mlp", data, FitConfig(epochs=3 if args.quick else 40)).eval()
    rounds = 1 if args.quick else args.rounds
    plan = {1: (20, 5) if args.quick else (500, 100), 256: (5, 2) if args.quick else (100, 20)}
    assert tuple(plan) == BATCHES
    with tempfile.TemporaryDirectory() as d:
        variants = build_variants(model, data, Path(d), args.compile)
        times = {(name, b): [] for name in variants for b in plan}
        for _ in range(rounds):
            for b, (repeats, warmup) in plan.items():
                x = example_input(model, data, b)
                for name, variant in variants.items():
                    times[(name, b)].append(timed(variant, x, repeats, warmup))
    base = "torch fp32 (eager)"
    rows = []
    for name in variants:
        row = {"runtime": name}
        for b in plan:
            ratios = [f / t for f, t in zip(times[(base, b)], times[(name, b)])]
            row[f"ms@{b}"] = statistics.median(times[(name, b)])
            row[f"speedup@{b}"] = statistics.median(ratios)
        rows.append(row)
    print(f"reference MLP 64-300-100-10, 1 thread, median over {rounds} interleaved round(s); "
          f"speedup = eager fp32 time / variant time in the same round (>1 faster, <1 slower)")
    print(format_table(rows, digits=3))
    print(f"\nmachine: {platform.machine()}, torch {torch.__version__}")
    return {"rows": rows}


if __name__ == "__main__":
    main()
