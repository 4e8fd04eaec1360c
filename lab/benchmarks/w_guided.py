"""Does the learned coupling tell you what can be removed? W-guided compression against honest baselines.

For a trained cross-stitch system, every W-guided choice is compared with choices that do not use
W, at equal bytes (real packed files), each fine-tuned the same way:

* **modules** (remove one): W's choice (smallest outgoing influence, ``lab.compress.modules``), the
  gradient score, weight magnitude only (ignores W), every module at random (``draws`` seeded draws),
  and *uniform* unstructured magnitude pruning of all modules to the same bytes as the removal;
* **edges** (keep a fraction per stage): |W|, the gradient score, and random edges (``draws``); the
  same number of edges means the same bytes. (For edges, W *is* the weight magnitude, so there is no
  separate magnitude baseline; an edge weighs 4 bytes, so edge pruning is about structure and
  latency, not size);
* **budgets** (per-module sparsity and bits): W + sensitivity, weight magnitude, the W budgets dealt
  at random (``draws``), and one uniform budget at the same bytes;
* **student**: one multi-head MLP distilled from the system, for the same table.

Settings: synthetic coupled tasks whose structure has a known answer (``KNOWN``: ``redundant`` - a
module whose own input no task needs: remove it; ``hub`` - every task needs module 0: never remove
it; ``chain`` - task i needs module i-1: keep the chain's edges), and the digits tasks (four related
tasks on one image: every module sees the whole input, so sharing matters less there).
``bench/w_guided.py`` runs it; the summary tables are in :mod:`lab.benchmarks.w_guided_summary`.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import torch

from ..compress.budgets import BudgetConfig, apply_budgets, budgets_for, uniform_model_at_bytes
from ..compress.distill_system import SystemDistillConfig, distill_system
from ..compress.edges import edge_scores, select_edges
from ..compress.fit import FitConfig, fit
from ..compress.modules import choose_modules, module_scores
from ..coupling.restructure import restructure
from ..coupling.system import CoupledSystem, SystemConfig, build_system
from ..cost import FAST_MEASURE, count_flops, evaluate_model, packed_size
from ..data.base import MultiTaskData
from ..data.digits import load_digits_tasks
from ..data.synthetic import load_synthetic
from ..train import TrainConfig, train

KNOWN: tuple[str, ...] = ("redundant", "hub", "chain")


def known_structure(name: str, num_modules: int = 4) -> torch.Tensor:
    """W* (n, n) with a known answer: ``redundant`` (a chain 0 -> ... -> n-2, and task n-1 reads module n-2
    only: module n-1's own input is needed by no task), ``hub`` (every task reads module 0), ``chain``."""
    n = num_modules
    if n < 3:
        raise ValueError(f"known structures need at least 3 modules, got {n}")
    W = torch.eye(n)
    if name == "chain":
        W[torch.arange(1, n), torch.arange(n - 1)] = 1.0
    elif name == "hub":
        W[1:, 0] = 1.0
    elif name == "redundant":
        W[torch.arange(1, n - 1), torch.arange(n - 2)] = 1.0
        W[n - 1, n - 1], W[n - 1, n - 2] = 0.0, 1.0
    else:
        raise ValueError(f"unknown structure {name!r}; choose from {list(KNOWN)}")
    return W


def expected_answer(name: str, num_modules: int) -> dict:
    """What W should find: the module to remove (``remove``), one never to remove (``keep``), true edges."""
    W = known_structure(name, num_modules)
    edges = {(i, j) for i in range(num_modules) for j in range(num_modules) if i != j and W[i, j] != 0}
    return {"remove": num_modules - 1 if name == "redundant" else None, "keep": 0 if name == "hub" else None,
            "edges": edges}


@dataclass(frozen=True)
class WGuidedBenchConfig:
    """What the benchmark sweeps and how each system trains and is fine-tuned."""

    structures: tuple[str, ...] = KNOWN
    seeds: tuple[int, ...] = tuple(range(10))
    digits_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    draws: int = 5
    num_modules: int = 4
    num_samples: int = 1200
    widths: tuple[int, ...] = (32, 32)
    epochs: int = 12
    lr: float = 3e-3
    digits_widths: tuple[int, ...] = (32, 32)
    digits_epochs: int = 10
    digits_limit: int | None = None
    finetune_epochs: int = 2
    edge_keep: float = 0.5
    budget_sparsity: float = 0.85
    budget_bits: int = 4
    student_hidden: tuple[int, ...] = (32,)
    student_epochs: int = 15

    def __post_init__(self) -> None:
        for name in ("structures", "seeds", "digits_seeds", "widths", "digits_widths", "student_hidden"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        bad = [s for s in self.structures if s not in KNOWN]
        if bad:
            raise ValueError(f"unknown structures {bad}; choose from {list(KNOWN)}")
        if not self.structures and not self.digits_seeds:
            raise ValueError("nothing to run: give structures and seeds, or digits seeds")
        if self.structures and not self.seeds:
            raise ValueError("seeds must not be empty when structures are given")
        if self.draws < 1 or self.num_modules < 3:
            raise ValueError(f"need draws >= 1 and num_modules >= 3, got {self.draws}, {self.num_modules}")
        if not 0.0 < self.edge_keep < 1.0:
            raise ValueError(f"edge_keep must lie in (0, 1), got {self.edge_keep}")
        BudgetConfig(self.budget_sparsity, self.budget_bits)                     # validates these
        TrainConfig(epochs=self.epochs, lr=self.lr)
        FitConfig(epochs=self.finetune_epochs)

    def to_dict(self) -> dict:
        return asdict(self)


# --- one setting: a trained system and its data ------------------------------------------------------------
def trained_system(data: MultiTaskData, widths: tuple[int, ...], epochs: int, lr: float, seed: int) -> CoupledSystem:
    system = build_system(data, SystemConfig(strategy="cross_stitch", widths=widths, seed=seed))
    train(system, data, TrainConfig(epochs=epochs, lr=lr, seed=seed), progress=False)
    return system.eval()


def _bytes(model) -> int:
    with tempfile.TemporaryDirectory(prefix="lab-wbench-") as tmp:
        return packed_size(model, tmp)


def _score(model, data: MultiTaskData, **fields) -> dict:
    """Test metric (mean and per task), packed bytes, dense and effective FLOPs per example."""
    metrics = evaluate_model(model, data.test, data.tasks)
    flops, effective = count_flops(model, data.test.x[:1])
    return {**fields, "acc": sum(metrics.values()) / len(metrics), "metrics": metrics, "bytes": _bytes(model),
            "flops": flops, "effective_flops": effective}


def _tuned(model, data: MultiTaskData, finetune: FitConfig, after_step=None):
    if finetune.epochs > 0:
        fit(model, data, finetune, after_step=after_step)
    return model.eval()


# --- the comparisons (each returns rows: technique, method, draw, choice, acc, metrics, bytes) --------------
def compare_modules(system: CoupledSystem, data: MultiTaskData, finetune: FitConfig, draws: int = 5,
                    seed: int = 0) -> list[dict]:
    """Remove one module chosen by W, gradient, magnitude, at random (``draws``), vs uniform pruning at the
    bytes of the removal. Every removal is fine-tuned once per module and reused by the choices."""
    by_module: dict[int, dict] = {}

    def removal(m: int) -> dict:
        if m not in by_module:
            small = restructure(system, modules=[k for k in range(system.num_modules) if k != m])
            raw = evaluate_model(small, data.test, data.tasks)
            by_module[m] = _score(_tuned(small, data, finetune), data, acc_raw=sum(raw.values()) / len(raw))
        return by_module[m]

    rows = []
    for method in ("w", "gradient", "magnitude"):
        (m,) = choose_modules(module_scores(system, method, data, seed), 1)
        rows.append({"technique": "modules", "method": method, "draw": None, "choice": m, **removal(m)})
    gen = torch.Generator().manual_seed(seed)
    for d in range(draws):
        m = int(torch.randint(system.num_modules, (1,), generator=gen))
        rows.append({"technique": "modules", "method": "random", "draw": d, "choice": m, **removal(m)})
    uniform, s, _ = uniform_model_at_bytes(system, rows[0]["bytes"], None, data, finetune)
    rows.append({"technique": "modules", "method": "uniform", "draw": None, "choice": f"sparsity {s:.3f}",
                 **_score(uniform, data)})
    return rows


def compare_edges(system: CoupledSystem, data: MultiTaskData, finetune: FitConfig, keep: float = 0.5,
                  draws: int = 5, seed: int = 0) -> list[dict]:
    """Keep a ``keep`` fraction of the edges per stage by |W|, by gradient, at random (``draws``)."""
    rows, done = [], {}
    choices = [("w", None, "magnitude", seed), ("gradient", None, "gradient", seed)]
    choices += [("random", d, "random", seed * 1000 + d) for d in range(draws)]
    for method, draw, score, score_seed in choices:
        kept = [sorted(stage) for stage in select_edges(edge_scores(system, score, data, score_seed), keep=keep)]
        key = str(kept)
        if key not in done:                  # the same edges (e.g. |W| and gradient agree): fine-tuned once
            small = restructure(system, edges=kept)
            raw = evaluate_model(small, data.test, data.tasks)
            done[key] = {"acc_raw": sum(raw.values()) / len(raw), **_score(_tuned(small, data, finetune), data)}
        rows.append({"technique": "edges", "method": method, "draw": draw, "choice": kept, **done[key]})
    return rows


def compare_budgets(system: CoupledSystem, data: MultiTaskData, finetune: FitConfig, sparsity: float = 0.85,
                    bits: int = 4, draws: int = 5, seed: int = 0) -> list[dict]:
    """Per-module budgets by W + sensitivity, by magnitude, dealt at random (``draws``), vs one uniform budget
    at the bytes of the W-guided model."""
    rows, done = [], {}
    runs = [("w", None, "w", seed), ("magnitude", None, "magnitude", seed)]
    runs += [("random", d, "random", seed * 1000 + d) for d in range(draws)]
    for method, draw, allocation, budget_seed in runs:
        budgets = budgets_for(system, BudgetConfig(sparsity, bits, allocation, seed=budget_seed), data)
        choice = {m: (round(b.sparsity, 3), b.bits) for m, b in budgets.items()}
        if str(choice) not in done:          # a random deal equal to an earlier one: fine-tuned once
            done[str(choice)] = _score(apply_budgets(system, budgets, data, finetune), data)
        rows.append({"technique": "budgets", "method": method, "draw": draw, "choice": choice, **done[str(choice)]})
    model, s, _ = uniform_model_at_bytes(system, rows[0]["bytes"], bits, data, finetune)
    rows.append({"technique": "budgets", "method": "uniform", "draw": None, "choice": f"sparsity {s:.3f}, {bits} bits",
                 **_score(model, data)})
    return rows


def edge_curve(system: CoupledSystem, data: MultiTaskData, keeps=(0.0, 0.25, 0.5, 0.75, 1.0), draws: int = 5,
               seed: int = 0) -> list[dict]:
    """Accuracy (no fine-tuning) against edges kept: |W| and random (``draws``) at every fraction."""
    rows = []
    for keep in keeps:
        for method, draw, score, s in [("w", None, "magnitude", seed)] + [("random", d, "random", seed * 1000 + d)
                                                                          for d in range(draws)]:
            kept = select_edges(edge_scores(system, score, data, s), keep=keep)
            small = restructure(system, edges=kept)
            rows.append({"technique": "edge_curve", "method": method, "draw": draw, "keep": keep,
                         "edges_kept": sum(map(len, kept)), **_score(small, data)})
    return rows


# --- the whole benchmark ----------------------------------------------------------------------------------
def _setting(system: CoupledSystem, data: MultiTaskData, config: WGuidedBenchConfig, seed: int, name: str,
             on_row: Callable[[dict], None] | None) -> list[dict]:
    finetune = FitConfig(epochs=config.finetune_epochs, lr=1e-3, seed=seed)
    rows = [{"technique": "full", "method": "full", "draw": None, "choice": None, **_score(system, data)}]
    rows += compare_modules(system, data, finetune, config.draws, seed)
    rows += compare_edges(system, data, finetune, config.edge_keep, config.draws, seed)
    rows += compare_budgets(system, data, finetune, config.budget_sparsity, config.budget_bits, config.draws, seed)
    student_train = replace(finetune, epochs=config.student_epochs, lr=3e-3)
    student, _ = distill_system(system, SystemDistillConfig(config.student_hidden, train=student_train, seed=seed),
                                data=data, measure_config=FAST_MEASURE)
    rows.append({"technique": "student", "method": "student", "draw": None,
                 "choice": "x".join(map(str, config.student_hidden)), **_score(student, data)})
    answer = expected_answer(name, config.num_modules) if name in KNOWN else None
    for row in rows:
        row.update(setting=name, seed=seed)
        if answer is not None and row["technique"] == "modules" and isinstance(row["choice"], int):
            row["found"] = (row["choice"] == answer["remove"]) if answer["remove"] is not None else \
                (row["choice"] != answer["keep"]) if answer["keep"] is not None else None
        if row["technique"] == "edges":
            row["edges_kept"] = sum(len(stage) for stage in row["choice"])
            if answer is not None:                  # share of the true edges (every stage) that were kept
                hits = sum(len({tuple(e) for e in stage} & answer["edges"]) for stage in row["choice"])
                row["edge_recall"] = hits / (len(answer["edges"]) * len(row["choice"]))
        if on_row is not None:
            on_row(row)
    return rows


def run_w_guided(config: WGuidedBenchConfig, on_row: Callable[[dict], None] | None = None) -> list[dict]:
    """Every known structure x seed, then the digits x digits seed: train, compare, one row per result."""
    rows = []
    for name in config.structures:
        for seed in config.seeds:
            t0 = time.perf_counter()
            data = load_synthetic(num_modules=config.num_modules, W_true=known_structure(name, config.num_modules),
                                  num_samples=config.num_samples, seed=seed)
            system = trained_system(data, config.widths, config.epochs, config.lr, seed)
            new = _setting(system, data, config, seed, name, on_row)
            for row in new:
                row["seconds"] = time.perf_counter() - t0
            rows += new
    for seed in config.digits_seeds:
        t0 = time.perf_counter()
        data = load_digits_tasks(seed=seed, limit=config.digits_limit)
        system = trained_system(data, config.digits_widths, config.digits_epochs, 1e-3 * 3, seed)
        new = _setting(system, data, config, seed, "digits", on_row)
        for row in new:
            row["seconds"] = time.perf_counter() - t0
        rows += new
    return rows



def export_comparison(models: dict[str, torch.nn.Module], data: MultiTaskData, workdir, repeats: int = 300,
                      rounds: int = 3) -> list[dict]:
    """Each model exported to ONNX and run by ONNX Runtime at batch 1: file bytes as exported and after
    removing the exporter's per-node metadata (stack traces; about half of these small files), graph
    operations, weight values stored, parity with torch (of the stripped file), and the median latency
    (best of ``rounds`` interleaved rounds of ``repeats`` calls, so a load spike hits every model alike)."""
    import onnx
    from onnx import numpy_helper

    from ..deploy import assert_parity, export_onnx, onnx_bytes, ort_session, time_onnx

    rows, sessions = [], {}
    for name, model in models.items():
        result = export_onnx(model.eval(), Path(workdir) / f"{len(rows)}.onnx", data.test.x[:2])
        proto = onnx.load(str(result.path))
        for node in proto.graph.node:
            del node.metadata_props[:]
        stripped = Path(workdir) / f"{len(rows)}.stripped.onnx"
        onnx.save(proto, str(stripped))
        rows.append({"model": name, "outputs": len(result.output_names), "bytes": result.bytes,
                     "stripped_bytes": onnx_bytes(stripped), "ops": len(proto.graph.node),
                     "weight_values": sum(numpy_helper.to_array(t).size for t in proto.graph.initializer
                                          if t.data_type == onnx.TensorProto.FLOAT),
                     "max_abs_diff": max(assert_parity(model, stripped, data.test.x).values())})
        sessions[name] = ort_session(stripped)
    best = {name: float("inf") for name in models}
    for _ in range(rounds):
        for name, session in sessions.items():
            best[name] = min(best[name], time_onnx(session, data.test.x[:1], repeats, warmup=20))
    for row in rows:
        row["ort_us"] = 1000 * best[row["model"]]
    return rows
