"""W-guided pruning of a cross-stitch system: the pruned structure, edge pruning, module removal."""
import copy

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from lab.checkpoint import load_checkpoint, save_checkpoint
from lab.compress import FitConfig, RecipeOptions, run_recipe
from lab.compress.edges import EdgePruneConfig, edge_scores, prune_edges, select_edges, taylor_scores
from lab.compress.fit import task_losses
from lab.compress.modules import ModulePruneConfig, choose_modules, module_scores, remove_modules
from lab.coupling import PrunedStructure, PrunedSystem, SystemConfig, build_system, restructure
from lab.cost import FAST_MEASURE, count_flops, evaluate_model
from lab.deploy import assert_parity, export_onnx, ort_session, run_onnx
from lab.models import build_model
from lab.train import TrainConfig, train
from w_helpers import redundant_data, trained_system

FT = FitConfig(epochs=2, lr=1e-3)


def _outputs(model, x):
    with torch.no_grad():
        return model.eval()(x)


@pytest.mark.parametrize("per_channel", [False, True])
def test_the_full_structure_computes_exactly_what_the_dense_system_does(per_channel):
    system = trained_system(per_channel=per_channel, epochs=1)
    full = restructure(system)
    x = redundant_data().test.x
    dense, sparse = _outputs(system, x), _outputs(full, x)
    assert list(sparse) == list(dense)
    for task in dense:
        torch.testing.assert_close(sparse[task], dense[task], rtol=0, atol=1e-5)
    assert count_flops(full, x[:1]) == count_flops(system, x[:1])   # the per-edge mix counts as the einsum did
    for W, Wp in zip(system.coupling_matrices(), full.coupling_matrices()):
        torch.testing.assert_close(Wp, W)


@pytest.mark.parametrize("per_channel", [False, True])
def test_both_forms_of_the_sparse_mix_compute_the_dense_mix_with_pruned_edges_at_zero(per_channel):
    system = trained_system(per_channel=per_channel, epochs=1)
    edges = [[(0, 1), (0, 2), (1, 0), (1, 2), (1, 3), (2, 3), (3, 0)], [(2, 1)]]
    small = restructure(system, edges=edges)
    assert small.coupling.stacked == [True, False]          # stage 1 gathers senders, stage 2 chains multiply-adds
    dense = copy.deepcopy(system)
    with torch.no_grad():
        for s, W in enumerate(dense.coupling.W):
            keep = torch.eye(4, dtype=torch.bool)
            for i, j in edges[s]:
                keep[i, j] = True
            W.mul_(keep.unsqueeze(-1) if per_channel else keep)
    x = redundant_data().test.x
    for task, out in _outputs(dense, x).items():
        torch.testing.assert_close(_outputs(small, x)[task], out, rtol=0, atol=1e-5)


def test_edge_pruning_at_a_threshold_keeps_exactly_the_edges_at_or_above_it_and_they_stay_zero(tmp_path):
    system, data = trained_system(), redundant_data()
    mats = system.coupling_matrices()
    t = float(torch.quantile(torch.cat([W[~torch.eye(4, dtype=torch.bool)] for W in mats]).abs(), 0.5))
    pruned, report = prune_edges(system, EdgePruneConfig(threshold=t, finetune=FT), data=data,
                                 measure_config=FAST_MEASURE)
    expected = [sorted((i, j) for i in range(4) for j in range(4) if i != j and abs(float(W[i, j])) >= t)
                for W in mats]
    assert [list(stage) for stage in pruned.structure.edges] == expected
    assert report.extra["edges_kept"] == sum(map(len, expected)) == 12 and report.step == f"edges:threshold={t:g}"
    kept = np.zeros((2, 4, 4), dtype=bool)
    for s, stage in enumerate(expected):
        for i, j in stage:
            kept[s, i, j] = True
    kept[:, range(4), range(4)] = True
    after = np.stack([W.numpy() for W in pruned.coupling_matrices()])          # after fine-tuning
    assert (after[~kept] == 0).all() and (after[kept] != 0).all()
    assert not np.allclose(after[kept], np.stack([W.numpy() for W in mats])[kept])   # it did train
    # a checkpoint rebuilds the structure: the pruned edges are still absent
    save_checkpoint(pruned, tmp_path / "pruned.pt")
    back = load_checkpoint(tmp_path / "pruned.pt")
    assert isinstance(back, PrunedSystem) and back.structure == pruned.structure
    x = data.test.x
    for task, out in _outputs(back, x).items():
        torch.testing.assert_close(out, _outputs(pruned, x)[task])
    # the ONNX file holds one weight per kept edge (diagonal included), and computes the dense system with the
    # pruned edges set to zero
    result = export_onnx(pruned, tmp_path / "pruned.onnx")
    dense = copy.deepcopy(system)
    with torch.no_grad():
        for s, W in enumerate(dense.coupling.W):
            W.copy_(torch.as_tensor(np.where(kept[s], after[s], 0.0)))
        for k, stack in enumerate(dense.stacks):
            stack.load_state_dict(pruned.stacks[k].state_dict())
            dense.heads[k].load_state_dict(pruned.heads[k].state_dict())
    ort = run_onnx(ort_session(result.path), x)
    for task, out in _outputs(dense, x).items():
        np.testing.assert_allclose(ort[task], out.numpy(), atol=1e-5)
    weights = lambda g: [numpy_helper.to_array(t) for t in g.initializer  # noqa: E731  (float weights only)
                         if t.data_type == onnx.TensorProto.FLOAT]
    graph = onnx.load(str(result.path)).graph
    floats = [t for t in graph.initializer if t.data_type == onnx.TensorProto.FLOAT]
    layers = [t for t in floats if t.name.startswith(("stacks", "heads"))]
    mix = np.concatenate([numpy_helper.to_array(t).reshape(-1) for t in floats if t not in layers])
    assert len(layers) == 24 and mix.size == sum(len(stage) + 4 for stage in expected) == 20   # one value per edge
    assert sorted(np.abs(mix).tolist()) == pytest.approx(sorted(np.abs(after[kept]).tolist()))
    full_graph = onnx.load(str(export_onnx(system, tmp_path / "dense.onnx").path)).graph
    size = lambda g: sum(a.size for a in weights(g))  # noqa: E731
    assert size(graph) == size(full_graph) - (2 * 16 - 20)      # 2 dense 4x4 W -> 20 kept values


def test_keep_fraction_count_and_random_scores_choose_per_stage():
    system = trained_system()
    scores = edge_scores(system, "magnitude")
    assert [len(s) for s in select_edges(scores, keep=0.5)] == [6, 6]
    assert [len(s) for s in select_edges(scores, count=2)] == [2, 2]
    best = select_edges(scores, count=1)[0][0]
    assert scores[0][best] == max(scores[0].values())
    a, b = edge_scores(system, "random", seed=1), edge_scores(system, "random", seed=1)
    assert a == b and a != edge_scores(system, "random", seed=2)


def test_gradient_scores_are_w_times_the_gradient_over_the_validation_split():
    system, data = trained_system(), redundant_data()
    scores = taylor_scores(system, data, batch_size=len(data.val))       # one batch: one product per edge
    probe = copy.deepcopy(system).eval()
    task_losses(probe, data.val.x, data.val.y, data)["loss"].backward()
    for s, W in enumerate(probe.coupling.W):
        for (i, j), value in scores[s].items():
            assert value == pytest.approx(float((W[i, j] * W.grad[i, j]).abs().detach()), rel=1e-5)
    assert system.coupling.W[0].grad is None and all(p.requires_grad for p in system.parameters())


def test_removing_the_module_w_needs_least_finds_the_redundant_one_and_serves_every_task(tmp_path):
    system, data = trained_system(), redundant_data()
    scores = module_scores(system, "w", data)
    assert choose_modules(scores, 1) == [3]                           # no task needs module 3's own input
    small, report = remove_modules(system, ModulePruneConfig(remove=1, finetune=FT), data=data,
                                   measure_config=FAST_MEASURE)
    assert isinstance(small, PrunedSystem) and small.num_modules == 3 and len(small.stacks) == 3
    assert report.extra["removed"] == [3] and set(report.extra["lost"]) == set(data.task_names)
    assert small.structure.routes == {"task3": (0, 1, 2)}
    x = data.test.x
    out = _outputs(small, x)
    assert list(out) == list(data.task_names) and report.metrics == evaluate_model(small, data.test, data.tasks)
    assert report.params < evaluate_params(system)
    save_checkpoint(small, tmp_path / "small.pt")
    back = load_checkpoint(tmp_path / "small.pt")
    assert back.num_modules == 3 and back.architecture() == small.architecture()
    for task in out:
        torch.testing.assert_close(_outputs(back, x)[task], out[task])
    result = export_onnx(back, tmp_path / "small.onnx")
    assert result.output_names == data.task_names
    assert max(assert_parity(back, result.path, x).values()) <= 1e-5
    history = train(back, data, TrainConfig(epochs=1, seed=0), progress=False)      # it trains like any system
    assert np.asarray(history.W[-1]).shape == (2, 3, 3)


def evaluate_params(system) -> int:
    return sum(p.numel() for p in system.parameters())


def test_a_pruned_system_compresses_with_the_ordinary_steps_and_prunes_again(tmp_path):
    system, data = trained_system(), redundant_data()
    options = RecipeOptions(finetune=FitConfig(epochs=1), measure=FAST_MEASURE)
    result = run_recipe(system, "edges:0.5,modules:1,channels:0.5,prune:0.5,kmeans:8,fakequant:6", data, options,
                        keep_models=True)
    small = result.model
    narrow = result.models[3]                                  # channels removed: 8 of 16 per stage, every module
    assert narrow.config.widths == (8, 8) and narrow.route_heads["task3"][1].in_features == 8
    back = load_checkpoint(save_checkpoint(narrow, tmp_path / "narrow.pt"))
    torch.testing.assert_close(back(data.test.x)["task3"], narrow.eval()(data.test.x)["task3"])
    assert count_flops(narrow, data.test.x[:1])[0] < result.reports[2].flops / 2 + 200
    removed = result.reports[2].extra["removed"]
    assert isinstance(small, PrunedSystem) and small.num_modules == 3 and result.reports[1].extra["edges_kept"] == 12
    assert 0 < small.structure.num_edges <= 12 and all(m not in e for stage in small.structure.edges for e in stage
                                                      for m in removed)
    assert [r.step for r in result.reports] == ["fp32", "edges:0.5", "modules:1", "channels:0.5", "prune:0.5",
                                                "kmeans:8", "fakequant:6"]
    assert result.reports[-1].bytes < result.reports[0].bytes / 2
    one = restructure(system, modules=[2])                  # down to one module: every task still served
    assert one.num_modules == 1 and set(one(data.test.x[:3])) == set(data.task_names)
    assert one.structure.routes == {"task0": (2,), "task1": (2,), "task3": (2,)}
    cut = restructure(system, edges=[[], [(0, 1)]])         # module 3's row keeps no edge: removing it has no route
    with pytest.raises(ValueError, match="removing module 3 leaves task 'task3' with nothing to read"):
        restructure(cut, modules=[0, 1, 2])


def test_nonsense_gets_a_clear_error_before_any_work(synthetic):
    options = RecipeOptions(finetune=FitConfig(epochs=0), measure=FAST_MEASURE)
    data = redundant_data()
    with pytest.raises(ValueError, match="edge pruning acts on the coupling W of a CoupledSystem; this model is "
                                         "a Sequential"):
        run_recipe(build_model("mlp"), "edges:0.5", None, options)
    for strategy, why in [("independent", "its W is fixed, not learned"), ("attention", "depends on the input")]:
        system = build_system(data, SystemConfig(strategy=strategy, widths=(8,)))
        with pytest.raises(ValueError, match=f"needs a learned cross-stitch W; this system's coupling is "
                                             f"'{strategy}': .*{why}"):
            run_recipe(system, "modules:1", data, options)
    system = trained_system(epochs=1)
    with pytest.raises(ValueError, match="cannot remove 4 of 4 modules: at least one must stay"):
        run_recipe(system, "modules:4", data, options)
    with pytest.raises(ValueError, match="cannot remove every module"):
        restructure(system, modules=[])
    with pytest.raises(ValueError, match="do not take option|does not take option"):
        run_recipe(system, "edges:0.5:bogus", data, options)
    with pytest.raises(ValueError, match="fraction of coupling edges kept must lie in \\[0, 1\\], got '2'"):
        run_recipe(system, "edges:2", data, options)
    with pytest.raises(ValueError, match="give either a threshold or a count"):
        EdgePruneConfig(threshold=0.1, count=2)
    with pytest.raises(ValueError, match="step 'edges' needs the fraction"):
        run_recipe(system, "edges", data, options)
    with pytest.raises(ValueError, match=r"stage 0: edges \[\(0, 1\)\] are not in this system"):
        restructure(restructure(system, edges=[[], []]), edges=[[(0, 1)], []])
    with pytest.raises(ValueError, match="modules must be distinct original indices"):
        PrunedStructure(4, (0, 0), ((), ()))


def test_the_w_preview_scores_the_edge_pruned_system_without_fine_tuning():
    from lab.compress.edge_preview import EdgePreview

    system, data = trained_system(), redundant_data()
    pv = EdgePreview(system, data)
    try:
        t = 0.5 * pv.max_threshold()
        r = pv(t)
        pruned, report = prune_edges(system, EdgePruneConfig(threshold=t), data=data, measure_config=FAST_MEASURE)
        assert r.edges_kept == report.extra["edges_kept"] and r.edges_total == 24
        assert r.metrics == report.metrics and r.bytes == report.packed_bytes < r.dense_bytes
        assert pv(0.0).edges_kept == 24 and pv(pv.max_threshold() + 1e-6).edges_kept == 0
        assert pv(0.0).metrics == evaluate_model(system, data.test, data.tasks)
        with pytest.raises(ValueError, match="edge threshold must be a finite number >= 0"):
            pv(float("nan"))
    finally:
        pv.close()


def test_the_cli_reaches_the_w_steps_and_refuses_them_for_an_mlp(capsys, monkeypatch, tmp_path):
    from lab.cli import main

    monkeypatch.setenv("LAB_RUNS", str(tmp_path / "runs"))
    assert main(["compress", "--model", "mlp", "--recipe", "edges:0.5", "--no-latency", "--epochs", "1",
                 "--limit", "200"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: edge pruning acts on the coupling W of a CoupledSystem; this model is a Sequential without "
                   "a coupling (use prune/channels/kmeans for it)"]
    assert main(["compress", "--model", "coupled", "--recipe", "edges:0.5,modules:1", "--no-latency", "--epochs", "1",
                 "--limit", "200", "--finetune-epochs", "0"]) == 0
    out = capsys.readouterr().out
    assert "edges:0.5 " in out and "modules:1 " in out
