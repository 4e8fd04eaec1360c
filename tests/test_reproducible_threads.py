"""Same seed, same numbers — also when several seeded builds and trainings run at once in one process.

Two panels training in background threads share one process-global torch RNG. These tests run seeded
lab work in a thread pool while other threads keep re-seeding and drawing from the global RNG (as an
unrelated notebook cell or a second panel would), and require every result to equal its
single-thread reference bit for bit. They also check that lab calls leave the caller's global RNG
state (torch, numpy, ``random``) exactly as it was.
"""
from __future__ import annotations

import contextlib
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from torch import nn

from lab.adversarial import AdversarialTraining, Attack, attack_split
from lab.compress.distill import DistillConfig, distill
from lab.compress.ensemble import EnsembleConfig, ensemble
from lab.compress.fit import FitConfig, fit
from lab.compress.reference import digit_data, train_reference
from lab.compress.share import KMeansConfig, share_weights_inplace
from lab.compress.structured import ChannelPruneConfig, prune_channels_inplace
from lab.coupling import SystemConfig, build_system
from lab.cost import MeasureConfig
from lab.models import build_model
from lab.train import TrainConfig, train
from lab.transfer import TransferConfig, shifted, transfer
from lab.weighting import make_weighting

QUICK = MeasureConfig(latency=False, memory=False, packed=False)
WORKERS = 6


# --- helpers ------------------------------------------------------------------------------------
@contextlib.contextmanager
def stirring(threads: int = 2, numpy: bool = True):
    """Other threads that keep seeding and drawing from the global RNGs while the block runs."""
    stop = threading.Event()

    def stir(k: int) -> None:
        i = 0
        while not stop.is_set():
            torch.manual_seed(1000 * k + i)
            torch.rand(8)
            torch.randn(3, 3)
            if numpy:
                np.random.seed(i)
                np.random.rand(4)
            i += 1

    workers = [threading.Thread(target=stir, args=(k,), daemon=True) for k in range(threads)]
    for w in workers:
        w.start()
    try:
        yield
    finally:
        stop.set()
        for w in workers:
            w.join()


def run_concurrently(jobs: list, workers: int = WORKERS, numpy: bool = True) -> list:
    """Call every job (a no-argument function) in a thread pool while the global RNGs are stirred."""
    with stirring(numpy=numpy), ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [f.result() for f in futures]


def tensors(obj) -> list[torch.Tensor]:
    """Every tensor of a result (module, state dict, list, dict of lists), flattened in order."""
    if isinstance(obj, nn.Module):
        return [v.detach().clone() for v in obj.state_dict().values()]
    if isinstance(obj, torch.Tensor):
        return [obj.detach().clone()]
    if isinstance(obj, dict):
        return [t for k in obj for t in tensors(obj[k])]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in tensors(v)]
    return [torch.tensor(float(obj), dtype=torch.float64)]


def same(a, b) -> bool:
    ta, tb = tensors(a), tensors(b)
    return len(ta) == len(tb) and all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(ta, tb))


def history_record(history) -> dict:
    """What a seeded training must reproduce exactly."""
    return {"step_loss": history.step_loss, "W": history.W, "W_init": history.W_init,
            "train_loss": history.train_loss, "train_metric": history.train_metric,
            "val_loss": history.val_loss, "val_metric": history.val_metric, "weights": history.task_weights}


@contextlib.contextmanager
def global_rng_unchanged():
    """Assert that the block leaves the torch, numpy and ``random`` global states as they were."""
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    before = torch.get_rng_state(), np.random.get_state(), random.getstate()
    yield
    after = torch.get_rng_state(), np.random.get_state(), random.getstate()
    assert torch.equal(before[0], after[0]), "the torch global RNG state changed"
    assert all(np.array_equal(x, y) for x, y in zip(before[1], after[1])), "the numpy global RNG state changed"
    assert before[2] == after[2], "the global state of the random module changed"


@pytest.fixture(scope="module")
def small_digits():
    from lab.data import load_digits_tasks
    return load_digits_tasks(seed=0, limit=200)


@pytest.fixture(scope="module")
def one_task():
    return digit_data(seed=0, limit=200)


# --- (a) seeded builds under threads -----------------------------------------------------------
BUILDS = [  # (strategy, block, dropout)
    ("cross_stitch", "mlp", 0.0), ("attention", "mlp", 0.0), ("independent", "cnn", 0.0),
    ("shared", "mlp", 0.3), ("pipeline", "cnn", 0.2), ("cross_stitch", "cnn", 0.5),
]


def test_seeded_builds_under_threads_equal_their_single_thread_reference(small_digits):
    specs = [(strategy, block, dropout, seed) for seed in range(10) for strategy, block, dropout in BUILDS]
    assert len(specs) == 60

    def build(strategy, block, dropout, seed):
        return build_system(small_digits, SystemConfig(strategy=strategy, block=block, widths=(8, 8),
                                                       dropout=dropout, seed=seed))

    reference = [build(*spec) for spec in specs]
    built = run_concurrently([lambda spec=spec: build(*spec) for spec in specs])
    differ = [spec for spec, a, b in zip(specs, reference, built) if not same(a, b)]
    assert not differ, f"{len(differ)} of {len(specs)} seeded builds differed under threads: {differ[:5]}"
    assert not same(reference[0], reference[len(BUILDS)]), "different seeds must give different weights"


def test_reference_models_built_under_threads_equal_their_single_thread_reference():
    specs = [(name, seed) for seed in range(6) for name in ("mlp", "lenet", "dscnn")]
    reference = [build_model(name, seed=seed, **({"hidden": (32,)} if name == "mlp" else {})) for name, seed in specs]
    built = run_concurrently([lambda n=name, s=seed: build_model(n, seed=s, **({"hidden": (32,)} if n == "mlp" else {}))
                              for name, seed in specs])
    differ = [spec for spec, a, b in zip(specs, reference, built) if not same(a, b)]
    assert not differ, f"{len(differ)} of {len(specs)} reference models differed under threads: {differ[:5]}"


# --- (b) two seeded trainings at once ----------------------------------------------------------
def _train_dropout(data):
    system = build_system(data, SystemConfig(strategy="cross_stitch", widths=(16, 16), dropout=0.3, seed=3))
    history = train(system, data, TrainConfig(epochs=2, lr=3e-3, seed=3), progress=False)
    return history_record(history), system


def _train_adversarial_pcgrad(data):
    system = build_system(data, SystemConfig(strategy="cross_stitch", widths=(16, 16), dropout=0.2, seed=5))
    attack = Attack(kind="pgd", eps=0.1, steps=2, random_start=True, clamp=(0.0, 1.0))
    history = train(system, data, TrainConfig(epochs=2, lr=3e-3, seed=5), weighting=make_weighting("pcgrad", seed=5),
                    adversarial=AdversarialTraining(attack, ratio=0.5), progress=False)
    return history_record(history), system


def test_two_seeded_trainings_in_two_threads_reproduce_their_single_thread_histories(small_digits):
    jobs = [lambda: _train_dropout(small_digits), lambda: _train_adversarial_pcgrad(small_digits)]
    reference = [job() for job in jobs]
    together = run_concurrently(jobs, workers=2)
    for name, (ref_record, ref_system), (record, system) in zip(("dropout", "adversarial+pcgrad"), reference,
                                                                together):
        differ = [k for k in ref_record if ref_record[k] != record[k]]
        assert not differ, f"{name}: {differ} differ from the single-thread run"
        assert same(ref_system, system), f"{name}: the trained weights differ from the single-thread run"
    assert reference[0][0]["step_loss"] != reference[1][0]["step_loss"]


# --- (d) the other seeded lab calls under threads -----------------------------------------------
def _dropout_net(seed: int) -> nn.Module:
    """A network that is not a lab model and draws dropout masks with torch's own nn.Dropout."""
    gen = torch.Generator().manual_seed(seed)
    with torch.device("meta"):          # no default init: it would draw from this test's global RNG
        net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10))
    net.to_empty(device="cpu")
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    return net


def _fit_foreign_dropout(data, seed):
    net = _dropout_net(seed)
    curve = fit(net, data, FitConfig(epochs=2, lr=3e-3, seed=seed))
    return curve, net


def _fit_system_with_dropout(data, seed):
    system = build_system(data, SystemConfig(strategy="cross_stitch", widths=(16, 16), dropout=0.3, seed=seed))
    return fit(system, data, FitConfig(epochs=2, lr=3e-3, seed=seed)), system


def _train_reference(data, seed):
    return train_reference("mlp", data, FitConfig(epochs=2, lr=2e-3), seed=seed, hidden=(32,))


def _kmeans(data, seed):
    model = build_model("mlp", seed=0, hidden=(32,))
    books = share_weights_inplace(model, KMeansConfig(clusters=4, init="k-means++", seed=seed,
                                                      finetune=FitConfig(epochs=1, lr=1e-3, seed=seed)), data)
    return books, model


def _distill(data, seed):
    teacher = build_model("mlp", seed=7, hidden=(32,))
    student = build_model("mlp", seed=seed, hidden=(16,))
    trained, _ = distill(student, DistillConfig(task="digit", train=FitConfig(epochs=2, seed=seed)), teacher=teacher,
                         data=data, measure_config=QUICK)
    return trained


def _ensemble(data, seed):
    combined, _ = ensemble(_dropout_net(0), EnsembleConfig(members=2, train=FitConfig(epochs=1), seed=seed), data=data,
                           measure_config=QUICK)
    return combined


def _random_channels(data, seed):
    model = build_model("mlp", seed=0, hidden=(32,))
    prune_channels_inplace(model, ChannelPruneConfig(ratio=0.5, importance="random", seed=seed),
                           data.train.x[:2])
    return model


SEEDED_CALLS = {"fit, foreign dropout": _fit_foreign_dropout, "fit, lab dropout": _fit_system_with_dropout,
                "train_reference": _train_reference, "kmeans sharing": _kmeans, "distillation": _distill,
                "ensemble": _ensemble, "random channel pruning": _random_channels}
MULTITASK = {"fit, lab dropout"}      # calls that take the multi-task digits; the others take the digit task only


@pytest.mark.parametrize("name", list(SEEDED_CALLS))
def test_seeded_lab_calls_under_threads_equal_their_single_thread_reference(name, one_task, small_digits):
    call = SEEDED_CALLS[name]
    data = small_digits if name in MULTITASK else one_task
    seeds = [1, 2, 1, 2]
    reference = {seed: call(data, seed) for seed in set(seeds)}
    results = run_concurrently([lambda s=seed: call(data, s) for seed in seeds], workers=4)
    differ = [seed for seed, result in zip(seeds, results) if not same(reference[seed], result)]
    assert not differ, f"{name}: {len(differ)} of {len(seeds)} runs under threads differed (seeds {differ})"
    assert not same(reference[1], reference[2]), f"{name}: seeds 1 and 2 gave the same result"


# --- (c) the caller's global RNG state is left alone --------------------------------------------
def _load_mnist1d(data):
    from lab.data import load_mnist1d
    load_mnist1d(num_samples=100)


def _transfer(data):
    system = build_system(data, SystemConfig(strategy="cross_stitch", widths=(8, 8), dropout=0.2, seed=1))
    transfer(system, shifted(data, "noise:0.2"), "all", TransferConfig(epochs=1, limit=60, seed=1))


def _attack(data):
    system = build_system(data, SystemConfig(strategy="cross_stitch", widths=(8, 8), seed=1))
    attack_split(system, data.test, Attack(kind="fgsm", eps=0.1, random_start=True))


LAB_CALLS = {
    "build_system": lambda d: build_system(d, SystemConfig(strategy="attention", widths=(8, 8), dropout=0.2, seed=4)),
    "train": lambda d: _train_dropout(d),
    "train adversarial pcgrad": lambda d: _train_adversarial_pcgrad(d),
    "build_model": lambda d: [build_model(name, seed=2) for name in ("mlp", "lenet", "dscnn", "mobilenet_v3_small")],
    "load_mnist1d": _load_mnist1d,
    "transfer": _transfer,
    "attack random start": _attack,
    **{name: (lambda d, call=call, multitask=name in MULTITASK: call(d if multitask else d.select_tasks(["digit"]), 3))
       for name, call in SEEDED_CALLS.items()},
}


@pytest.mark.parametrize("name", list(LAB_CALLS))
def test_lab_calls_leave_the_callers_global_rng_state_alone(name, small_digits):
    with global_rng_unchanged():
        LAB_CALLS[name](small_digits)


def test_mnist1d_loaded_by_several_lab_threads_at_once_equals_its_reference():
    """mnist1d seeds and draws the global np.random: lab threads take turns (foreign numpy users cannot
    be kept out, so only torch is stirred here)."""
    from lab.data import load_mnist1d

    seeds = [1, 2, 1, 2]
    reference = {seed: load_mnist1d(seed=seed, num_samples=100) for seed in set(seeds)}
    loaded = run_concurrently([lambda s=seed: load_mnist1d(seed=s, num_samples=100) for seed in seeds], workers=4,
                              numpy=False)
    for seed, data in zip(seeds, loaded):
        assert torch.equal(data.train.x, reference[seed].train.x) and torch.equal(data.test.x, reference[seed].test.x)
    assert not torch.equal(reference[1].train.x, reference[2].train.x)


# --- lab.seeding itself -------------------------------------------------------------------------
def _draws() -> list[torch.Tensor]:
    """One of every kind of random draw the lab's code and its libraries make, without a generator."""
    F = torch.nn.functional
    return [torch.rand(3), torch.randn(2, 2), torch.randint(0, 5, (4,)), torch.randint(5, (4,)), torch.randperm(7),
            torch.rand_like(torch.ones(3)), torch.randint_like(torch.ones(3), 4), torch.empty(4).uniform_(),
            torch.empty(4).normal_(), torch.ones(5).bernoulli_(0.3), torch.multinomial(torch.ones(5), 3),
            torch.poisson(torch.ones(4)), F.dropout(torch.ones(10), 0.5, True), F.dropout2d(torch.ones(1, 4, 2, 2), 0.5),
            F.alpha_dropout(torch.ones(6), 0.5, True), nn.Linear(5, 4).weight,
            nn.init.kaiming_normal_(torch.empty(3, 3), mode="fan_out")]


def test_seeded_draws_the_stream_of_manual_seed_without_touching_the_global_rng():
    from lab.seeding import seeded

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(11)
        expected = _draws()
    with global_rng_unchanged(), seeded(11):
        drawn = _draws()
    assert all(torch.equal(a, b) for a, b in zip(expected, drawn))


def test_seeded_applies_to_its_own_thread_only():
    from lab.seeding import seeded

    other: dict = {}

    def elsewhere():
        torch.manual_seed(5)
        other["draw"] = torch.rand(3)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        from_global = torch.rand(3)
        torch.manual_seed(11)
        expected = torch.rand(6)
        with seeded(11):
            first = torch.rand(3)
            thread = threading.Thread(target=elsewhere)
            thread.start()
            thread.join()
            second = torch.rand(3)
    assert torch.equal(other["draw"], from_global), "another thread's draws must come from the global RNG"
    assert torch.equal(torch.cat([first, second]), expected), "another thread must not advance the seeded stream"


def test_a_random_op_that_takes_no_generator_is_refused_not_drawn_from_the_global_rng():
    from lab.seeding import seeded

    with seeded(0), pytest.raises(RuntimeError, match="takes no generator"):
        torch.ops.aten.native_dropout(torch.ones(8), 0.5, True)


def test_reference_models_keep_torchs_own_initialisation():
    """build_model(name, seed=s) equals torch.manual_seed(s) + the plain constructor, bit for bit."""
    from lab.models import MODELS

    for name in MODELS:
        shape = (1, 8, 8)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(4)
            expected = MODELS[name](shape, 10)
        assert same(build_model(name, shape, 10, seed=4), expected), name


def test_seeded_dropout_masks_equal_torchs_dropout_after_manual_seed():
    from lab.seeding import SeededDropout, seeded_training

    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(0))
    layer = SeededDropout(0.4)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        expected = [nn.functional.dropout(x, 0.4, True) for _ in range(3)]
    with global_rng_unchanged(), seeded_training(layer, 3):
        drawn = [layer(x) for _ in range(3)]
    assert all(torch.equal(a, b) for a, b in zip(expected, drawn))
    assert torch.equal(layer.eval()(x), x)
    with torch.random.fork_rng(devices=[]):     # outside seeded_training: plain nn.Dropout on the global RNG
        torch.manual_seed(3)
        assert torch.equal(layer.train()(x), expected[0])


def build_system_for_test(dropout: float):
    from lab.data import load_digits_tasks
    return build_system(load_digits_tasks(seed=0, limit=50), SystemConfig(widths=(4,), dropout=dropout))


@pytest.mark.parametrize("model,redirect", [
    (lambda: build_system_for_test(0.3), False), (lambda: build_model("mlp"), False),
    (lambda: nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.0)), False), (lambda: nn.Sequential(nn.Dropout(0.1)), True),
    (lambda: nn.RReLU(), True), (lambda: build_model("mobilenet_v3_small", input_shape=(3, 32, 32)), True),
], ids=["lab system", "mlp", "Dropout(0)", "Dropout(0.1)", "RReLU", "mobilenet_v3_small"])
def test_seeded_training_uses_the_slow_dispatch_mode_only_for_layers_lab_cannot_seed(model, redirect):
    from lab.seeding import _draws_outside_seeded_dropout

    assert _draws_outside_seeded_dropout(model()) is redirect
