"""Bad input never crashes and never lies: the probe table (tests/bad_inputs.py) and focused checks of
the field checkers, divergence, the recipe grammar, the CLI's exit codes, checkpoints and dtypes."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

import bad_inputs
from lab.checkpoint import FORMAT, load_checkpoint, read_checkpoint, save_checkpoint
from lab.cli import main
from lab.compress import parse_recipe
from lab.compress.fit import FitConfig, fit
from lab.compress.recipe_grammar import step_args
from lab.coupling import CoupledSystem, SystemConfig, build_system
from lab.coupling.limits import MAX_PARAMETERS, check_state_dict, check_widths
from lab.data import MultiTaskData, Split, Task
from lab.divergence import DIVERGENCE_FACTOR, divergence_reason
from lab.metrics import evaluate
from lab.train import Callback, DivergenceError, NonFiniteLossError, TrainConfig, train
from lab.validation import SEED_MAX, as_float_tensor, check_float, check_int, check_output_path, check_seed
from lab.weighting import make_weighting


# --- the probe ------------------------------------------------------------------------------------------
SURFACES = ("api", "data", "recipe", "file", "training", "cli", "panel")


@pytest.mark.parametrize("surface", SURFACES)
def test_the_probe_finds_no_crash_silence_loss_or_unclear_message(surface, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_RUNS", str(tmp_path / "runs"))
    cases = [c for c in bad_inputs.build_cases() if c.surface == surface]
    results = bad_inputs.run_cases(cases, tmp_path)
    table = bad_inputs.counts(results)
    print(bad_inputs.format_counts(table))
    bad = [f"[{v}] {c.name}: {d[:200]}" for c, v, d in results if v != "clear"]
    assert not bad, "\n".join(bad)
    assert table[surface]["clear"] == len(cases)


def test_the_probe_is_broad():
    cases = bad_inputs.build_cases()
    assert len(cases) >= 250
    assert {c.surface for c in cases} == set(SURFACES)
    assert len({c.name for c in cases}) > 0.95 * len(cases)        # distinct cases, not one repeated


def test_the_classifier_tells_each_verdict_apart(tmp_path):
    def boom(t):
        raise KeyError("x")

    cases = [bad_inputs.Case("api", "silent", lambda t: 1, ("x",)),
             bad_inputs.Case("api", "crash", boom, ("x",)),
             bad_inputs.Case("api", "unclear", lambda t: TrainConfig(epochs=0), ("momentum",)),
             bad_inputs.Case("api", "clear", lambda t: TrainConfig(epochs=0), ("epochs", "0")),
             bad_inputs.Case("cli", "cli silent", lambda t: ["couple", "--help"], (), "cli")]
    verdicts = [v for _, v, _ in bad_inputs.run_cases(cases, tmp_path)]
    assert verdicts == ["silent", "crash", "unclear", "clear", "silent"]      # --help: exit 0, no error


# --- the field checkers ---------------------------------------------------------------------------------
def test_check_int_takes_numpy_integers_and_refuses_bools_floats_and_text():
    assert check_int("epochs", np.int64(5), min=1) == 5 and type(check_int("epochs", np.int64(5))) is int
    for bad in (2.5, 3.0, True, "3", None, float("nan")):
        with pytest.raises(ValueError, match="epochs must be an integer") as err:
            check_int("epochs", bad, min=1)
        assert repr(bad) in str(err.value)
    with pytest.raises(ValueError, match=r"epochs must be >= 1 and <= 10, got 11"):
        check_int("epochs", 11, min=1, max=10)


def test_check_float_is_finite_bounded_and_typed():
    assert check_float("lr", np.float32(0.5), min=0, min_open=True) == 0.5
    assert check_float("lr", 3, min=0) == 3.0
    for bad in (float("nan"), float("inf"), -float("inf"), True, "0.1", None, 10 ** 400):
        with pytest.raises(ValueError, match="lr must be a finite number"):
            check_float("lr", bad)
    with pytest.raises(ValueError, match="momentum must be >= 0 and < 1, got 1.0"):
        check_float("momentum", 1.0, min=0, max=1, max_open=True)
    with pytest.raises(ValueError, match="lr must be > 0, got 0"):
        check_float("lr", 0, min=0, min_open=True)


def test_seeds_fit_every_library_that_takes_them():
    assert check_seed(SEED_MAX) == SEED_MAX and check_seed(np.int32(7)) == 7
    for bad in (-1, 2 ** 31, 2 ** 70, 1.0):
        with pytest.raises(ValueError, match="seed"):
            check_seed(bad)
    torch.Generator().manual_seed(SEED_MAX * 1_000_003 + 10 ** 6)     # adversarial mixing derives seeds like this
    np.random.default_rng(SEED_MAX + 64)                               # k-means: seed + layer index


def test_configs_state_types_and_bounds_in_their_messages():
    with pytest.raises(ValueError, match=r"lr must be > 0 and <= 1e\+06, got 1e\+38"):
        TrainConfig(lr=1e38)
    with pytest.raises(ValueError, match="batch_size must be a finite number|batch_size must be an integer"):
        TrainConfig(batch_size=float("nan"))
    with pytest.raises(ValueError, match="momentum must be a finite number"):
        TrainConfig(momentum=float("nan"))
    with pytest.raises(ValueError, match="seed must be >= 0 and <= 2147483647, got 1180591620717411303424"):
        TrainConfig(seed=2 ** 70)
    with pytest.raises(ValueError, match="epochs must be an integer .*got True"):
        TrainConfig(epochs=True)
    config = TrainConfig(epochs=np.int64(5), lr=np.float32(0.01), task_weights=np.array([1, 2]))
    assert type(config.epochs) is int and type(config.lr) is float and config.task_weights == (1.0, 2.0)
    assert json.dumps(config.to_dict())                                  # plain types: JSON can hold them
    with pytest.raises(ValueError, match="widths must be a list of stage widths"):
        SystemConfig(widths="64")
    with pytest.raises(ValueError, match=r"bad width: 0"):
        SystemConfig(widths=(0,))
    with pytest.raises(ValueError, match="num_modules must be >= 1"):
        SystemConfig(num_modules=0)
    with pytest.raises(ValueError, match=r"w_init .* \[0, 1\], got \(nan, 0.1\)"):
        SystemConfig(w_init=(float("nan"), 0.1))
    assert SystemConfig(widths=np.array([8, 4])).widths == (8, 4)


def test_check_widths_accepts_per_module_tuples_of_equal_depth():
    assert check_widths([(8, 4), (16, 2)]) == ((8, 4), (16, 2))
    with pytest.raises(ValueError, match="same number of stages"):
        check_widths([(8, 4), (16,)])


def test_output_paths_are_checked_before_work(tmp_path):
    assert check_output_path("--export", tmp_path / "new" / "m.onnx", ".onnx") == tmp_path / "new" / "m.onnx"
    with pytest.raises(ValueError, match="ending in .onnx"):
        check_output_path("--export", tmp_path / "m.onx", ".onnx")
    (tmp_path / "d.onnx").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        check_output_path("--export", tmp_path / "d.onnx", ".onnx")
    (tmp_path / "f").write_text("")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        check_output_path("--export", tmp_path / "f" / "m.onnx", ".onnx")


# --- divergence -----------------------------------------------------------------------------------------
def small(digits):
    return build_system(digits, SystemConfig(widths=(16, 16)))


def test_adam_at_a_huge_rate_is_divergence_at_epoch_1(digits, tmp_path):
    with pytest.raises(DivergenceError, match=r"training diverged at epoch 1: the (training|validation) loss of") as err:
        train(small(digits), digits, TrainConfig(epochs=3, lr=1e6), progress=False)
    assert isinstance(err.value, NonFiniteLossError) and err.value.epoch == 1
    assert err.value.history.num_epochs == 0 and "diverged at epoch 1" in err.value.history.error
    assert "lower the learning rate" in str(err.value)
    err.value.history.save(tmp_path / "h.json")
    json.loads((tmp_path / "h.json").read_text(), parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))


def test_a_late_explosion_keeps_the_epochs_before_it(digits):
    data = digits
    with pytest.raises(DivergenceError) as err:
        train(small(data), data, TrainConfig(epochs=6, lr=1.0, optimizer="sgd"), progress=False)
    e = err.value
    assert e.epoch >= 2 and e.history.num_epochs == e.epoch - 1 and e.history.epochs == list(range(1, e.epoch))
    assert f"diverged at epoch {e.epoch}" in str(e)
    recorded = [v for store in (e.history.train_loss, e.history.val_loss) for values in store.values() for v in values]
    assert all(math.isfinite(v) for v in recorded) and np.isfinite(e.history.W_array()).all()


def test_nan_in_W_after_the_last_loss_check_is_reported_not_recorded(digits, tmp_path):
    system = small(digits)

    class Poison(Callback):
        def on_step_end(self, info):
            if info.epoch == 2 and info.step == info.steps_per_epoch:
                with torch.no_grad():
                    system.coupling.W[1].fill_(float("nan"))

    with pytest.raises(DivergenceError, match="diverged at epoch 2: parameters became NaN/inf") as err:
        train(system, digits, TrainConfig(epochs=3), callbacks=[Poison()], progress=False)
    history = err.value.history
    assert history.num_epochs == 1
    text = json.dumps(history.to_dict(), allow_nan=False)                 # no NaN anywhere in what was recorded
    assert "diverged at epoch 2" in text


@pytest.mark.parametrize("weighting", ["equal", "uncertainty", "gradnorm", "dwa", "pcgrad"])
def test_normal_runs_never_trip_the_divergence_check(digits, weighting):
    history = train(small(digits), digits, TrainConfig(epochs=4, lr=3e-3), weighting=make_weighting(weighting),
                    progress=False)
    assert history.num_epochs == 4 and history.error is None


def test_sgd_and_adversarial_training_never_trip_it(digits):
    from lab.adversarial import AdversarialTraining, Attack

    assert train(small(digits), digits, TrainConfig(epochs=4, lr=0.05, optimizer="sgd"),
                 progress=False).num_epochs == 4
    adversarial = AdversarialTraining(Attack("pgd", eps=0.3, steps=3, clamp=(0.0, 1.0)), ratio=1.0)
    assert train(small(digits), digits, TrainConfig(epochs=3, lr=3e-3), adversarial=adversarial,
                 progress=False).num_epochs == 3


def test_the_divergence_threshold_on_both_sides():
    first = {"a": 2.3, "b": 1e-4}          # b: a regression loss near zero (the floor 1.0 applies)
    assert divergence_reason({"a": 2.3 * DIVERGENCE_FACTOR * 0.99, "b": 0.9 * DIVERGENCE_FACTOR}, first, "x") is None
    assert "'a' reached" in divergence_reason({"a": 2.3 * DIVERGENCE_FACTOR * 1.01, "b": 1.0}, first, "x")
    assert "'b' reached" in divergence_reason({"a": 1.0, "b": 1.01 * DIVERGENCE_FACTOR}, first, "x")
    assert "is inf" in divergence_reason({"a": float("inf")}, first, "x")


def test_fit_reports_divergence_too():
    from lab.compress import digit_data
    from lab.models import build_model

    data = digit_data(0, 200)
    with pytest.raises(ValueError, match="(diverged at epoch|non-finite loss .* epoch)"):
        fit(build_model("mlp", data.input_shape, 10), data, FitConfig(epochs=3, lr=1e6))


# --- the recipe grammar -----------------------------------------------------------------------------------
@pytest.mark.parametrize("recipe, message", [
    ("prune:-0.5", r"step 'prune': sparsity must lie in \[0, 1\) \(fraction of weights set to zero\), got '-0.5'"),
    ("kmeans:16:lr=", r"step 'kmeans': the value of 'lr' is missing"),
    ("prune:0.5:layer:global", r"choose at most one of \['layer', 'global'\]"),
    ("prune:0.5:globl", r"does not take option\(s\) \['globl'\]; it takes \['layer', 'global', 'coupling', 'epochs="),
    ("kmeans:16:k-means++=0", "'k-means\\+\\+' is a flag: write it alone"),
    ("kmeans:1e400", r"clusters must be an integer >= 2 \(at most 65536\), got '1e400'"),
    ("kmeans:2.5", r"clusters must be an integer >= 2 \(at most 65536\), got '2.5'"),
    ("prune:0.9,,int8", "step 2 of the recipe 'prune:0.9,,int8' is empty"),
    ("squash:2", r"unknown recipe step 'squash'; choose from \['prune'"),
    ("int8,int8", "must be the last step"),
    ("prune:0.5:lr=inf", "'inf' is not a finite number"),
    ("int8:static:torchao", "torchao is an engine for dynamic int8 only"),
])
def test_the_recipe_grammar_refuses_rather_than_reinterprets(recipe, message):
    with pytest.raises(ValueError, match=message):
        parse_recipe(recipe)


def test_good_recipes_parse_to_typed_values_and_print_back():
    specs = parse_recipe("prune:0.9:layer:epochs=2:lr=1e-3,kmeans:16:k-means++,fakequant:4:tensor,"
                         "distill:64x32:T=2:task=digit,int8:dynamic:torchao")
    args = [step_args(s) for s in specs]
    assert args[0] == {"value": 0.9, "scope": "layer", "coupling": False, "epochs": 2, "lr": 1e-3}
    assert args[1]["value"] == 16 and args[1]["init"] == "k-means++"
    assert args[2] == {"value": 4, "granularity": "tensor", "scheme": None, "rounding": None}
    assert args[3]["value"] == (64, 32) and args[3]["T"] == 2.0 and args[3]["task"] == "digit"
    assert args[4] == {"value": "dynamic", "torchao": True, "compile": False}
    assert [str(s) for s in parse_recipe([str(s) for s in specs])] == [str(s) for s in specs]
    assert step_args(parse_recipe("fakequant")[0])["value"] == 8 and step_args(parse_recipe("int8")[0])["value"] == \
        "dynamic"
    assert [str(s) for s in parse_recipe([{"prune": {"value": 0.5, "layer": True, "coupling": False}},
                                          {"kmeans": 8}, {"int8": None}])] == ["prune:0.5:layer", "kmeans:8", "int8"]


# --- the command line -------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["couple", "--strategies", ""], "--strategies"),
    (["couple", "--compare", "--strategies", ","], "--strategies must list strategies"),
    (["compress", "--epochs", "0"], "would compress an untrained model"),
    (["compress", "--limit", "-1"], "--limit must be >= 1, got -1"),
    (["compress", "--threads", "0"], "--threads must be >= 1"),
    (["compress", "--finetune-epochs", "-1"], "--finetune-epochs must be >= 0"),
    (["compress", "--recipe", "prune:-0.5"], "sparsity must lie in [0, 1)"),
    (["couple", "--epochs", "2.5"], "argument --epochs: invalid int value: '2.5'"),
])
def test_cli_refuses_with_exit_2_and_one_line(capsys, argv, words):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("error: ") and words in err and "Traceback" not in err
    assert out == ""                                                  # refused before anything was done


def test_cli_export_and_run_folder_are_checked_before_training(capsys, tmp_path):
    assert main(["compress", "--export", str(tmp_path / "model.txt")]) == 2
    assert main(["compress", "--run", str(tmp_path / "missing")]) == 2
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "history.json").write_text("{}")
    assert main(["compress", "--run", str(tmp_path / "run")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [
        f"error: --export must be a file name ending in .onnx, got '{tmp_path / 'model.txt'}'",
        f"error: --run {tmp_path / 'missing'}: no such folder",
        f"error: --run {tmp_path / 'run'} is not a saved run: it has no checkpoint.pt"]


def test_a_divergence_during_cli_training_is_one_line_not_a_traceback(capsys, monkeypatch):
    monkeypatch.setenv("LAB_FAST", "1")
    assert main(["couple", "--limit", "200", "--widths", "8", "--epochs", "2", "--lr", "1e6"]) == 2
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if not line.startswith("[")]     # "[1/1] training ..." progress
    assert len(errors) == 1 and ("diverged at epoch 1" in err or "non-finite loss" in err), err
    assert "Traceback" not in err
    assert "test metric" not in out


def test_python_dash_m_lab_exits_2_with_one_line():
    for argv in (["couple", "--widths", "0"], ["compress", "--recipe", "kmeans:16:lr="], ["couple", "--nope"]):
        result = subprocess.run([sys.executable, "-m", "lab", *argv], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert subprocess.run([sys.executable, "-m", "lab", "compress", "--help"], capture_output=True,
                          timeout=120).returncode == 0


# --- checkpoints -----------------------------------------------------------------------------------------
def tiny_checkpoint(path, architecture=None, state_dict=None):
    system = CoupledSystem(SystemConfig(widths=(4,)), (Task("a", "regression", 1), Task("b", "regression", 1)), (3,))
    arch = architecture or system.architecture()
    torch.save({"format": FORMAT, "architecture": arch,
                "state_dict": system.state_dict() if state_dict is None else state_dict, "extra": {}}, path)
    return system


def test_a_few_byte_checkpoint_cannot_ask_for_gigabytes(tmp_path, monkeypatch):
    system = tiny_checkpoint(tmp_path / "ok.pt")
    arch = system.architecture()
    arch["system_config"]["widths"] = [200000, 200000]
    tiny_checkpoint(tmp_path / "big.pt", arch, {})
    bomb = {**arch, "system_config": {**arch["system_config"], "widths": [16384] * 4}, "input_shape": [16384]}
    tiny_checkpoint(tmp_path / "bomb.pt", bomb, {})
    assert (tmp_path / "big.pt").stat().st_size < 5000
    import lab.coupling.blocks as blocks

    monkeypatch.setattr(blocks, "mlp_stage", lambda *a, **k: pytest.fail("a layer was built"))
    with pytest.raises(ValueError, match=r"big.pt: widths must be .* \(bad width: 200000\)"):
        load_checkpoint(tmp_path / "big.pt")
    with pytest.raises(ValueError, match=f"more than the limit of {MAX_PARAMETERS:,}"):
        load_checkpoint(tmp_path / "bomb.pt")


def test_state_dict_mismatches_are_one_clear_error(tmp_path):
    system = tiny_checkpoint(tmp_path / "ok.pt")
    assert torch.equal(load_checkpoint(tmp_path / "ok.pt").coupling.W[0], system.coupling.W[0])
    state = dict(system.state_dict())
    first = next(iter(state))
    state[first] = torch.zeros(7)
    state.pop(list(state)[-1])
    state["extra.weight"] = torch.zeros(1)
    tiny_checkpoint(tmp_path / "bad.pt", state_dict=state)
    with pytest.raises(ValueError) as err:
        load_checkpoint(tmp_path / "bad.pt")
    message = str(err.value)
    assert "does not fit its architecture" in message and "missing: heads" in message
    assert "unexpected: extra.weight" in message and f"{first}: (7,)" in message


def test_a_refused_pickle_is_called_unsafe_without_torchs_advice(tmp_path):
    class Evil:
        def __reduce__(self):
            return (eval, ("1",))

    torch.save({"format": FORMAT, "architecture": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError) as err:
        read_checkpoint(tmp_path / "evil.pt")
    message = str(err.value)
    assert "refused as unsafe" in message and "eval" in message
    assert "weights_only" not in message and "safe_globals" not in message and "trust the source" not in message


def test_check_state_dict_on_the_meta_device_matches_a_real_build(digits):
    system = build_system(digits, SystemConfig(strategy="attention", block="cnn", widths=(4, 4)))
    with torch.device("meta"):
        meta = build_system(digits, SystemConfig(strategy="attention", block="cnn", widths=(4, 4)))
    check_state_dict(meta.state_dict(), system.state_dict())
    assert all(v.device.type == "meta" for v in meta.state_dict().values())


def test_save_and_reload_still_round_trip(digits, tmp_path):
    system = build_system(digits, SystemConfig(strategy="cross_stitch", widths=(8, 8), per_channel=True))
    again = load_checkpoint(save_checkpoint(system, tmp_path / "c.pt"))
    torch.testing.assert_close(again.state_dict(), system.state_dict(), rtol=0, atol=0)


# --- inputs of other dtypes --------------------------------------------------------------------------------
def test_forward_converts_float64_integers_and_numpy_to_float32(digits):
    system = small(digits).eval()
    x = digits.test.x[:8]
    want = system(x)
    for other in (x.double(), x.numpy(), x.numpy().astype(np.float64), x.half().float().double()):
        got = system(other)
        for k in want:
            assert got[k].dtype == torch.float32
            torch.testing.assert_close(got[k], want[k], rtol=1e-3, atol=1e-3)
    ints = (x * 16).round().long()
    torch.testing.assert_close(system(ints)["digit"], system(ints.float())["digit"])
    with pytest.raises(ValueError, match="input x must hold real numbers, got dtype torch.complex64"):
        system(x.to(torch.complex64))


def test_splits_and_data_from_numpy_and_other_dtypes(digits):
    x64 = digits.test.x.numpy().astype(np.float64)
    y32 = {k: v.numpy().astype(np.int32) for k, v in digits.test.y.items()}
    split = Split(x64, y32)
    assert split.x.dtype == torch.float32 and all(v.dtype == torch.int64 for v in split.y.values())
    system = small(digits)
    assert evaluate(system, split, system.tasks) == evaluate(system, digits.test, system.tasks)
    reg = Split(np.random.rand(40, 3), {"r": np.arange(40).reshape(40, 1)})          # integer regression targets
    data = MultiTaskData("r", (Task("r", "regression", 1),), reg, reg, reg, input_shape=[3])
    assert data.train.y["r"].dtype == torch.float32 and data.input_shape == (3,)
    with pytest.raises(ValueError, match="classification targets must be int64"):
        cls = Split(np.random.rand(40, 3), {"c": np.random.rand(40)})
        MultiTaskData("c", (Task("c", "classification", 2),), cls, cls, cls, input_shape=(3,))
    with pytest.raises(ValueError, match="must hold real numbers"):
        as_float_tensor("x", np.array(["a", "b"]))
