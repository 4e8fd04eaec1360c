"""Convert a ``torch.export``-ed program to LiteRT ``.tflite`` files: the script the converter environment runs.

Run by :mod:`lab.deploy.litert` as ``<converter python> -I litert_convert.py REQUEST.json`` (``-I``: no
user site, no script folder on ``sys.path``). It imports only torch, torchao and ``litert_torch``
(never ``lab``: the converter environment does not hold the lab). The request names

* ``program``: a ``.pt2`` file from ``torch.export.save`` (the model, batch axis dynamic),
* ``inputs``: a ``torch.save`` file with ``calibration`` (N, *shape) float inputs (weights_only load),
* ``jobs``: ``[{"out": "m.tflite", "precision": "fp32" | "int8", "batch": 1}, ...]``.

fp32: ``litert_torch.convert(module, (x,))`` with ``x`` of the job's batch (litert-torch 0.10 cannot keep
a dynamic batch axis through reshape/flatten, so every file has one batch size). int8: PT2E with
litert-torch's ``PT2EQuantizer`` (symmetric, per-channel weights, static activations) calibrated on
the calibration inputs, then converted with that quantizer (int8 inputs and outputs). Each file is
written to a temporary name and renamed. The last line printed is JSON: ``{"ok": true}`` or
``{"ok": false, "error": "...", "type": "..."}`` (exit status 3).
"""
from __future__ import annotations

import json
import os
import sys
import traceback


def _batches(x, batch: int):
    """Calibration batches of exactly ``batch`` rows (the graph is exported at that batch)."""
    if len(x) < batch:
        x = x.repeat((batch + len(x) - 1) // len(x), *([1] * (x.dim() - 1)))
    return [x[i:i + batch] for i in range(0, len(x) - batch + 1, batch)]


def convert(module, calibration, out: str, precision: str, batch: int) -> None:
    import litert_torch
    import torch

    example = calibration[:1].repeat(batch, *([1] * (calibration.dim() - 1)))
    if precision == "fp32":
        model = litert_torch.convert(module, (example,))
    elif precision == "int8":
        from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
        from litert_torch.quantize.quant_config import QuantConfig
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        quantizer = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True,
                                                                                  is_dynamic=False))
        prepared = prepare_pt2e(torch.export.export(module, (example,)).module(), quantizer)
        with torch.no_grad():
            for chunk in _batches(calibration, batch):
                prepared(chunk)
        converted = convert_pt2e(prepared, fold_quantize=False)
        model = litert_torch.convert(converted, (example,), quant_config=QuantConfig(pt2e_quantizer=quantizer))
    else:
        raise ValueError(f"precision must be fp32 or int8, got {precision!r}")
    tmp = f"{out}.tmp-{os.getpid()}"
    try:
        model.export(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def unlowered_operators(module, example) -> list[str]:
    """The aten operators of ``module`` (after litert-torch's own decompositions) that LiteRT has no
    lowering for: what to name when a conversion fails. Empty when that cannot be told."""
    import torch
    from litert_torch import fx_infra
    from litert_torch.backend import lowerings

    try:
        program = torch.export.export(module, (example,)).run_decompositions(fx_infra.decomp.pre_lower_decomp())
    except Exception:                             # the diagnosis is best effort: the conversion error stands
        return []
    found: dict[str, None] = {}
    for node in program.graph.nodes:
        target = node.target
        if node.op == "call_function" and isinstance(target, torch._ops.OpOverload) \
                and lowerings.lookup(target) is None:
            found[str(target)] = None
    return list(found)


def main(argv: list[str]) -> int:
    module = calibration = None
    try:
        import torch

        with open(argv[0]) as f:
            request = json.load(f)
        module = torch.export.load(request["program"]).module()
        calibration = torch.load(request["inputs"], weights_only=True)["calibration"].float()
        for job in request["jobs"]:
            convert(module, calibration, job["out"], job["precision"], int(job["batch"]))
    except Exception as err:                      # reported to the lab as JSON; it names runtime and operator
        traceback.print_exc(file=sys.stderr)
        missing = unlowered_operators(module, calibration[:1]) if module is not None else []
        error = (f"no LiteRT lowering for {', '.join(missing)}; " if missing else "") + str(err)
        print(json.dumps({"ok": False, "type": type(err).__name__, "error": error}))
        return 3
    print(json.dumps({"ok": True}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
