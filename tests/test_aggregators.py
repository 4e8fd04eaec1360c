"""Gradient aggregators and the new loss weightings: hand-made cases, torchjd 0.18 agreement, training.

torchjd (a test-only dependency, the ``dev`` extra) is the reference on random
Jacobians: float64, T = 2..6 tasks, P in {T + 1, 20, 60} values, rows scaled by
factors 1..20 (very different norms), 5 seeds. Differences are measured as
||d_lab - d_torchjd|| / (||d_torchjd|| + 1e-9 ||J||) on the aggregated gradient d.
"""
import math
import warnings

import pytest
import torch

from lab.coupling import SystemConfig, build_system
from lab.train import FunctionCallback, TrainConfig, train
from lab.weighting import (FAMO, GRADIENT_AGGREGATORS, RLW, WEIGHTINGS, aligned_mtl_weights, balance_transformation,
                           cagrad_weights, dual_cone_weights, famo_logit_gradient, famo_weights, gramian,
                           imtl_g_weights, make_weighting, mgda_weights, nash_mtl_weights, nash_solution,
                           project_conflicting, random_loss_weights, task_gradients, upgrad_weights)

NEW = ("rlw", "famo", "mgda", "imtl_g", "cagrad", "nash_mtl", "aligned_mtl", "upgrad")
GRAMIAN_METHODS = ("mgda", "imtl_g", "cagrad", "nash_mtl", "aligned_mtl", "upgrad")
f64 = torch.float64


def t(rows):
    return torch.tensor(rows, dtype=f64)


def combined(weights_fn, J, *args):
    return weights_fn(gramian(J), *args) @ J


def random_jacobians(seeds=range(5)):
    for seed in seeds:
        for T in range(2, 7):
            for P in (T + 1, 20, 60):
                gen = torch.Generator().manual_seed(1000 * seed + 10 * T + P)
                scale = torch.rand(T, 1, generator=gen, dtype=f64).mul(3).exp()     # norms differ up to 20x
                yield torch.randn(T, P, generator=gen, dtype=f64) * scale


def difference(ours, ref, J):
    return float((ours - ref).norm() / (ref.norm() + 1e-9 * J.norm()))


def small(data, strategy="cross_stitch", **kw):
    return build_system(data, SystemConfig(strategy=strategy, widths=(16, 16), **kw))


def batch_losses(system, data, n=64):
    from lab.metrics import task_loss
    out = system(data.train.x[:n])
    return {task.name: task_loss(task, out[task.name], data.train.y[task.name][:n]) for task in system.tasks}


# --- MGDA ------------------------------------------------------------------------------------------
def test_mgda_on_hand_made_gradients():
    torch.testing.assert_close(mgda_weights(gramian(t([[1, 0], [0, 1]]))), t([0.5, 0.5]))
    # very different norms: min ||(10 a, 1 - a)|| at a = 1/101 (one Frank-Wolfe step is exact for two tasks)
    torch.testing.assert_close(mgda_weights(gramian(t([[10, 0], [0, 1]]))), t([1 / 101, 100 / 101]))
    torch.testing.assert_close(combined(mgda_weights, t([[1, 0], [-1, 0]])), t([0, 0]))       # opposing: stationary
    torch.testing.assert_close(combined(mgda_weights, t([[1, 2], [1, 2]])), t([1, 2]))         # identical
    # three orthogonal gradients of norms 1, 2, 4: alpha_i ~ 1 / ||g_i||^2
    J = t([[1, 0, 0], [0, 2, 0], [0, 0, 4]])
    expected = t([1, 1 / 4, 1 / 16]) / (1 + 1 / 4 + 1 / 16)
    torch.testing.assert_close(mgda_weights(gramian(J), epsilon=1e-12, max_iters=100_000), expected, atol=1e-5,
                               rtol=0)


@pytest.mark.parametrize("seed", range(5))
def test_mgda_direction_is_a_common_descent_direction(seed):
    J = torch.randn(4, 30, generator=torch.Generator().manual_seed(seed), dtype=f64)
    alpha = mgda_weights(gramian(J), epsilon=1e-10, max_iters=20_000)
    d = alpha @ J
    assert alpha.min() >= 0 and alpha.sum() == pytest.approx(1.0)
    assert (J @ d).min() >= d @ d - 1e-4 * (d @ d)      # d . g_i >= ||d||^2: the min-norm optimality condition


# --- IMTL-G ----------------------------------------------------------------------------------------
def test_imtl_g_on_hand_made_gradients():
    a, b = 3.0, 0.5
    alpha = imtl_g_weights(gramian(t([[a, 0], [0, b]])))
    torch.testing.assert_close(alpha, t([1 / a, 1 / b]) / (1 / a + 1 / b))
    torch.testing.assert_close(combined(imtl_g_weights, t([[1, 0], [-1, 0]])), t([0, 0]))      # opposing: none
    torch.testing.assert_close(combined(imtl_g_weights, t([[1, 2], [1, 2]])), t([1, 2]))       # identical


@pytest.mark.parametrize("seed", range(5))
def test_imtl_g_projects_equally_on_every_task_direction(seed):
    J = torch.randn(5, 40, generator=torch.Generator().manual_seed(seed), dtype=f64) * t([[1], [10], [0.1], [3], [1]])
    alpha = imtl_g_weights(gramian(J))
    proj = (J @ (alpha @ J)) / J.norm(dim=1)
    torch.testing.assert_close(proj, proj.mean().expand(5))
    assert alpha.sum() == pytest.approx(1.0)


# --- CAGrad ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("c", [0.2, 0.4, 0.9])
def test_cagrad_on_hand_made_gradients(c):
    # orthogonal, equal norms: g_w = g0 is the min-norm point, d = (1 + c) g0
    torch.testing.assert_close(cagrad_weights(gramian(t([[1, 0], [0, 1]])), c, rescale=0), t([1 + c, 1 + c]) / 2,
                               atol=1e-6, rtol=0)
    torch.testing.assert_close(cagrad_weights(gramian(t([[1, 0], [0, 1]])), c, rescale=1),
                               t([1 + c, 1 + c]) / 2 / (1 + c * c), atol=1e-6, rtol=0)
    torch.testing.assert_close(cagrad_weights(gramian(t([[1, 0], [0, 1]])), c, rescale=2), t([0.5, 0.5]),
                               atol=1e-6, rtol=0)
    # identical gradients: d = (1 + c) g
    torch.testing.assert_close(combined(cagrad_weights, t([[1, 2], [1, 2]]), c, 0), (1 + c) * t([1, 2]))
    J = t([[3, 1], [-1, 2]])
    torch.testing.assert_close(combined(cagrad_weights, J, 0.0, 1), J.mean(0))                 # c = 0: the mean


@pytest.mark.parametrize("seed", range(4))
def test_cagrad_maximises_the_worst_task_improvement_in_its_ball(seed):
    gen = torch.Generator().manual_seed(seed)
    J = torch.randn(3, 10, generator=gen, dtype=f64) * t([[1], [4], [0.5]])
    c = 0.5
    d = combined(cagrad_weights, J, c, 0)
    g0 = J.mean(0)
    assert float((d - g0).norm()) == pytest.approx(float(c * g0.norm()), rel=1e-6)                        # on the ball's edge
    worst = (J @ d).min()
    for _ in range(2000):                                                                      # no feasible d beats it
        v = torch.randn(10, generator=gen, dtype=f64)
        other = g0 + c * g0.norm() * torch.rand(1, generator=gen, dtype=f64) * v / v.norm()
        assert (J @ other).min() <= worst + 1e-9


# --- Nash-MTL --------------------------------------------------------------------------------------
def test_nash_mtl_on_hand_made_gradients():
    torch.testing.assert_close(nash_solution(gramian(t([[2, 0], [0, 0.5]]))), t([0.5, 2.0]))   # 1 / ||g_i||
    alpha = nash_solution(gramian(t([[3, 4], [3, 4]])))                                        # identical, norm 5
    torch.testing.assert_close(alpha, t([1, 1]) / (math.sqrt(2) * 5))
    # clipping: the update is scaled to norm max_norm, directions unchanged
    J = t([[0.1, 0], [0, 0.1]])                     # alpha = (10, 10), d = (1, 1), ||d|| = sqrt 2
    torch.testing.assert_close(combined(nash_mtl_weights, J, 0.0), t([1, 1]))
    torch.testing.assert_close(combined(nash_mtl_weights, J, 1.0), t([1, 1]) / math.sqrt(2))
    torch.testing.assert_close(combined(nash_mtl_weights, J, 5.0), t([1, 1]))
    assert torch.isfinite(combined(nash_mtl_weights, t([[1, 0], [-1, 0]]), 0.0)).all()         # dependent: finite


def test_nash_mtl_solves_the_bargaining_condition_on_random_gradients():
    for J in random_jacobians(range(3)):
        G = gramian(J)
        alpha = nash_solution(G)
        assert alpha.min() > 0
        torch.testing.assert_close(alpha * (G @ alpha), torch.ones(len(G), dtype=f64), atol=1e-5, rtol=0)


# --- Aligned-MTL -----------------------------------------------------------------------------------
def test_aligned_mtl_on_hand_made_gradients():
    a, b = 4.0, 0.5
    # orthogonal: both rescaled to the smallest norm b, then averaged
    torch.testing.assert_close(combined(aligned_mtl_weights, t([[a, 0], [0, b]])), t([b / 2, b / 2]))
    torch.testing.assert_close(combined(aligned_mtl_weights, t([[a, 0], [0, b]]), "mean"),
                               t([1, 1]) * math.sqrt((a * a + b * b) / 2) / 2)
    torch.testing.assert_close(combined(aligned_mtl_weights, t([[1, 2], [1, 2]])), t([1, 2]))  # identical


@pytest.mark.parametrize("seed", range(4))
def test_aligned_mtl_rows_are_orthogonal_with_equal_norms(seed):
    J = torch.randn(4, 25, generator=torch.Generator().manual_seed(seed), dtype=f64) * t([[1], [8], [0.3], [2]])
    G = gramian(J)
    B = balance_transformation(G)
    aligned = B @ J                                                     # B is symmetric: rows of (J^T B)^T
    lam_min = torch.linalg.eigvalsh(G).min()
    torch.testing.assert_close(aligned @ aligned.T, lam_min * torch.eye(4, dtype=f64), atol=1e-8, rtol=0)


# --- UPGrad ----------------------------------------------------------------------------------------
def test_upgrad_on_hand_made_gradients():
    J = t([[1, 0], [-1, 1]])                          # conflicting: two tasks -> PCGrad's projections, averaged
    torch.testing.assert_close(combined(upgrad_weights, J, 0.0), project_conflicting(J).mean(0))
    torch.testing.assert_close(combined(upgrad_weights, J, 0.0), t([0.25, 0.75]))
    torch.testing.assert_close(combined(upgrad_weights, t([[3, 0], [0, 0.1]])), t([1.5, 0.05]))  # no conflict: mean
    torch.testing.assert_close(combined(upgrad_weights, t([[1, 2], [1, 2]])), t([1, 2]))       # identical
    torch.testing.assert_close(combined(upgrad_weights, t([[1, 0], [-1, 0]])), t([0, 0]), atol=1e-12, rtol=0)
    # the projection weights of one vector: u = e_1 on the conflicting pair
    v = dual_cone_weights(t([1, 0]), gramian(J))
    torch.testing.assert_close(v, t([1, 0.5]))        # g1 + 0.5 g2 = (0.5, 0.5), orthogonal to g2


@pytest.mark.parametrize("seed", range(5))
def test_upgrad_never_conflicts_with_a_task(seed):
    J = torch.randn(5, 12, generator=torch.Generator().manual_seed(seed), dtype=f64)
    alpha = upgrad_weights(gramian(J), reg_eps=0.0)
    assert (J @ (alpha @ J)).min() >= -1e-10
    assert alpha.min() >= 1 / 5 - 1e-12


# --- every Gramian method -------------------------------------------------------------------------
WEIGHT_FUNCTIONS = {"mgda": mgda_weights, "imtl_g": imtl_g_weights, "cagrad": cagrad_weights,
                    "nash_mtl": nash_mtl_weights, "aligned_mtl": aligned_mtl_weights, "upgrad": upgrad_weights}


@pytest.mark.parametrize("name", GRAMIAN_METHODS)
def test_zero_gradients_give_a_finite_update(name):
    fn = WEIGHT_FUNCTIONS[name]
    torch.testing.assert_close(combined(fn, torch.zeros(3, 5, dtype=f64)), torch.zeros(5, dtype=f64))
    d = combined(fn, t([[1, 0], [0, 0]]))                            # one task has no gradient
    assert torch.isfinite(d).all() and d[1] == 0 and 0 <= d[0] <= 1


@pytest.mark.parametrize("name", GRAMIAN_METHODS)
def test_bad_gramians_are_refused(name):
    with pytest.raises(ValueError, match="square"):
        WEIGHT_FUNCTIONS[name](torch.ones(2, 3))
    with pytest.raises(ValueError, match="NaN or inf"):
        WEIGHT_FUNCTIONS[name](t([[1, float("nan")], [float("nan"), 1]]))


# --- torchjd 0.18 agreement --------------------------------------------------------------------------
def _torchjd(name, T):
    aggregation = pytest.importorskip("torchjd.aggregation")
    return {"mgda": aggregation.MGDA(), "imtl_g": aggregation.IMTLG(), "aligned_mtl": aggregation.AlignedMTL(),
            "upgrad": aggregation.UPGrad(), "cagrad": aggregation.CAGrad(c=0.4),
            "nash_mtl": aggregation.NashMTL(n_tasks=T, max_norm=0.0)}[name]


LAB = {"mgda": lambda G: mgda_weights(G), "imtl_g": imtl_g_weights, "aligned_mtl": aligned_mtl_weights,
       "upgrad": upgrad_weights, "cagrad": lambda G: cagrad_weights(G, 0.4, rescale=0),
       "nash_mtl": lambda G: nash_mtl_weights(G, max_norm=0.0)}
TOLERANCE = {"mgda": 1e-10, "imtl_g": 1e-9, "aligned_mtl": 1e-9, "upgrad": 1e-8, "cagrad": 1e-3, "nash_mtl": 1e-3}


@pytest.mark.parametrize("name", ["mgda", "imtl_g", "aligned_mtl", "upgrad"])
def test_matches_torchjd_on_random_jacobians(name):
    """Same definition and scaling as torchjd (see each module's docstring); rank-deficient P < T included."""
    worst = 0.0
    for J in list(random_jacobians()) + [J[:, :max(1, J.shape[0] - 2)] for J in random_jacobians(range(2))]:
        ours = LAB[name](gramian(J)) @ J
        worst = max(worst, difference(ours, _torchjd(name, len(J))(J), J))
    assert worst < TOLERANCE[name]


def test_cagrad_matches_torchjd_after_the_documented_rescaling():
    """lab (rescale=1) = torchjd / (1 + c^2). The rest is solver accuracy: SLSQP here reaches an
    objective as low as torchjd's Clarabel every time (to 1e-8, Clarabel's w can be -1e-9 < 0)."""
    aggregation = pytest.importorskip("torchjd.aggregation")
    c, worst = 0.4, 0.0
    for J in random_jacobians():
        G = gramian(J)
        alpha_ref = aggregation.CAGrad(c=c).weighting(J)              # torchjd's d = alpha_ref @ J
        worst = max(worst, difference(cagrad_weights(G, c, rescale=1) @ J, alpha_ref @ J / (1 + c * c), J))
        w_lab = cagrad_weights(G, c, rescale=0) - 1 / len(G)          # proportional to w*
        w_ref = alpha_ref - 1 / len(G)
        A, g0 = G / torch.trace(G), torch.full((len(G),), 1 / len(G), dtype=f64)

        def objective(w):
            w = w / w.sum()
            return float(w @ A @ g0 + c * torch.sqrt(g0 @ A @ g0) * torch.sqrt(w @ A @ w))
        assert objective(w_lab) <= objective(w_ref) + 1e-8 * abs(objective(w_ref))   # torchjd's w may be -1e-9
    assert worst < TOLERANCE["cagrad"]


def test_nash_mtl_matches_torchjd_where_torchjd_converges():
    """torchjd runs at most 20 convex-concave steps from alpha = 1 (and falls back to alpha = 1 when
    its ECOS solve fails); where its result meets the Nash condition alpha_i (G alpha)_i = 1 to 1e-3,
    the two agree. The lab's Newton solver meets it everywhere (tested above)."""
    np = pytest.importorskip("numpy")
    worst, converged, total = 0.0, 0, 0
    aggregators = {}                                  # one per T: building its cvxpy problem is the slow part
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for J in random_jacobians(range(2)):                       # 30 Jacobians: cvxpy is slow
            G, total, T = gramian(J), total + 1, len(J)
            aggregator = aggregators.setdefault(T, _torchjd("nash_mtl", T))
            aggregator.weighting.prvs_alpha = np.ones(T, dtype=np.float32)    # = a fresh NashMTL's start
            ref_alpha = aggregator.weighting(J)
            if float((ref_alpha * (G @ ref_alpha) - 1).abs().max()) > 1e-3:
                continue
            converged += 1
            worst = max(worst, difference(nash_mtl_weights(G, 0.0) @ J, ref_alpha @ J, J))
    assert converged >= total // 3, f"torchjd converged on only {converged} of {total} Jacobians"
    assert worst < TOLERANCE["nash_mtl"]


@pytest.mark.parametrize("seed", range(5))
def test_pcgrad_matches_torchjd_with_the_same_random_orders(seed):
    aggregation = pytest.importorskip("torchjd.aggregation")
    for J in random_jacobians([seed]):
        torch.manual_seed(seed)                           # torchjd draws its orders from the global generator
        ref = aggregation.PCGrad()(J)
        ours = project_conflicting(J, torch.Generator().manual_seed(seed)).sum(0)
        assert difference(ours, ref, J) < 1e-10


# --- loss-only weightings ------------------------------------------------------------------------------
def test_famo_weights_and_logit_gradient_on_a_hand_made_case():
    lam = famo_weights(torch.zeros(2), torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(lam, t([2 / 3, 1 / 3]))                       # z = 1/2, c = 3/4
    # its gradient is that of sum_i z_i log L_i / c with c held constant
    L = torch.tensor([1.0, 2.0], requires_grad=True)
    (0.5 * torch.log(L)).sum().div(0.75).backward()
    torch.testing.assert_close(L.grad, lam.float())
    # task 0's loss fell (delta > 0), task 1's did not: task 0's logit gets a positive gradient
    torch.testing.assert_close(famo_logit_gradient(torch.zeros(2), torch.tensor([1.0, 0.0])), torch.tensor([0.25, -0.25]))


def test_famo_moves_weight_to_the_task_whose_loss_falls_slowly():
    w = FAMO(lr=0.1, gamma=0.0)
    w.setup(("fast", "slow"), None)
    for k in range(20):
        fast = torch.tensor(0.8 ** k, requires_grad=True)
        slow = torch.tensor(1.0 - 0.001 * k, requires_grad=True)
        weights = w.backward({"fast": fast, "slow": slow}, None)
        assert sum(weights.values()) == pytest.approx(1.0, rel=1e-6)
        assert fast.grad.item() == pytest.approx(weights["fast"], rel=1e-5)
    assert w.logits[1] > w.logits[0]


def test_rlw_draws_softmax_of_normal_weights_from_its_seed():
    gen = torch.Generator().manual_seed(7)
    lam = random_loss_weights(3, gen)
    torch.testing.assert_close(lam, torch.softmax(torch.randn(3, generator=torch.Generator().manual_seed(7)), 0))
    draws = torch.stack([random_loss_weights(4, gen) for _ in range(20_000)])
    assert draws.min() > 0
    torch.testing.assert_close(draws.sum(1), torch.ones(20_000))
    torch.testing.assert_close(draws.mean(0), torch.full((4,), 0.25), atol=0.01, rtol=0)
    a, b, c = RLW(seed=3), RLW(seed=3), RLW(seed=4)
    seqs = []
    for w in (a, b, c):
        w.setup(("x", "y"), None)
        seqs.append([w.backward({"x": torch.tensor(1.0, requires_grad=True),
                                 "y": torch.tensor(2.0, requires_grad=True)}, None) for _ in range(3)])
    assert seqs[0] == seqs[1] and seqs[0] != seqs[2]


# --- the classes on a system ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", GRAMIAN_METHODS)
def test_backward_aggregates_shared_parameters_and_passes_heads_through(digits, name):
    system = small(digits, strategy="shared")
    names = digits.task_names
    losses = batch_losses(system, digits)
    grads = task_gradients(losses, names, system)
    assert sorted(grads.shared_names) == sorted(n for n, _ in system.named_parameters() if n.startswith("stacks.0."))
    J = grads.jacobian
    w = make_weighting(name)
    w.setup(names, system)
    weights = w.backward(losses, system)
    alpha = torch.tensor([weights[t] for t in names], dtype=f64)
    torch.testing.assert_close(alpha, w.combination_weights(gramian(J)))
    params = dict(system.named_parameters())
    got = torch.cat([params[n].grad.reshape(-1) for n in grads.shared_names])
    torch.testing.assert_close(got, alpha.float() @ J)
    keys = list(params)
    head = "heads.0.loops.1.weight"
    torch.testing.assert_close(params[head].grad, grads.per_task[names.index("loops")][keys.index(head)])


@pytest.mark.parametrize("strategy", ["cross_stitch", "attention", "shared", "pipeline", "ensemble"])
def test_aggregators_find_what_every_sharing_strategy_shares(digits, strategy):
    system = small(digits, strategy=strategy)
    w = make_weighting("upgrad")
    w.setup(digits.task_names, system)
    weights = w.backward(batch_losses(system, digits), system)
    assert w.last_shared and w.last_gramian.shape == (4, 4)
    assert all(math.isfinite(v) and v >= 0.25 - 1e-9 for v in weights.values())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in system.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", GRAMIAN_METHODS)
def test_on_independent_modules_every_aggregator_is_the_plain_sum(digits, name):
    system = small(digits, strategy="independent")
    w = make_weighting(name)
    w.setup(digits.task_names, system)
    assert w.backward(batch_losses(system, digits), system) == {t: 1.0 for t in digits.task_names}
    assert w.last_shared == [] and w.last_gramian is None
    got = [p.grad.clone() for p in system.parameters()]
    system.zero_grad()
    sum(batch_losses(system, digits).values()).backward()
    for a, p in zip(got, system.parameters()):
        torch.testing.assert_close(a, p.grad)


@pytest.mark.parametrize("name, options, message", [
    ("mgda", {"epsilon": 0}, "mgda: epsilon .* must be a finite number > 0, got 0"),
    ("mgda", {"max_iters": 2.5}, "mgda: max_iters .* must be an integer >= 1"),
    ("mgda", {"max_iters": True}, "max_iters"),
    ("cagrad", {"c": -0.1}, "cagrad: c .* must be a finite number >= 0"),
    ("cagrad", {"c": float("nan")}, "cagrad: c"),
    ("cagrad", {"rescale": 3}, r"cagrad: rescale .* must be one of \[0, 1, 2\], got 3"),
    ("nash_mtl", {"max_norm": float("inf")}, "nash_mtl: max_norm"),
    ("aligned_mtl", {"scale_mode": "max"}, r"scale_mode must be one of \['min', 'median', 'mean'\]"),
    ("upgrad", {"reg_eps": -1}, "upgrad: reg_eps"),
    ("upgrad", {"norm_eps": "small"}, "upgrad: norm_eps .* got 'small'"),
    ("famo", {"lr": 0}, "famo: lr .* > 0"),
    ("famo", {"gamma": -1}, "famo: gamma"),
    ("rlw", {"seed": -1}, "rlw: seed must be an integer >= 0"),
    ("rlw", {"seed": 1.5}, "rlw: seed"),
    ("upgrad", {"alpha": 1}, "bad options"),
])
def test_bad_options_are_refused_naming_the_option(name, options, message):
    with pytest.raises(ValueError, match=message):
        make_weighting(name, **options)


def test_options_are_recorded_and_integral_floats_accepted():
    assert make_weighting("mgda", max_iters=50.0).options == {"epsilon": 1e-3, "max_iters": 50}
    assert make_weighting("cagrad", c=0.5, rescale=2.0).options == {"c": 0.5, "rescale": 2}
    assert make_weighting("rlw", seed=3.0).options == {"seed": 3}
    assert make_weighting("famo").options == {"lr": 0.025, "gamma": 0.01}
    assert make_weighting("nash_mtl").options == {"max_norm": 1.0}
    assert make_weighting("aligned_mtl").options == {"scale_mode": "min"}
    assert make_weighting("upgrad").options == {"reg_eps": 1e-4, "norm_eps": 1e-12}
    assert make_weighting("imtl_g").options == {}
    assert set(NEW) <= set(WEIGHTINGS) and set(GRADIENT_AGGREGATORS) <= set(WEIGHTINGS)


# --- training ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["cross_stitch", "shared"])
@pytest.mark.parametrize("name", NEW)
def test_each_new_method_trains_and_records_task_weights(digits, name, strategy):
    system = small(digits, strategy=strategy)
    before = [p.detach().clone() for p in system.parameters()]
    seen = []
    history = train(system, digits, TrainConfig(epochs=2, batch_size=32), weighting=make_weighting(name),
                    progress=False, callbacks=[FunctionCallback(on_step=lambda info: seen.append(info.weights))])
    assert history.config["weighting"] == name and len(history.task_weights) == 2
    assert history.task_weights[-1] == seen[-1]
    for weights in seen:
        assert set(weights) == set(digits.task_names) and all(math.isfinite(v) for v in weights.values())
    assert all(math.isfinite(v) for v in history.step_loss)
    assert all(torch.isfinite(p).all() for p in system.parameters())
    assert any(not torch.equal(a, p.detach()) for a, p in zip(before, system.parameters()))
    if name in ("rlw", "famo"):
        assert all(sum(w.values()) == pytest.approx(1.0, rel=1e-5) for w in seen)
    if name in ("rlw", "famo", "cagrad"):
        assert len({tuple(w.values()) for w in seen}) > 1                 # the weights change step by step


# --- CLI and playground -----------------------------------------------------------------------------------
def test_cli_trains_with_upgrad(capsys):
    from lab.cli import main
    assert main(["couple", "--limit", "200", "--widths", "8", "--epochs", "1", "--weighting", "upgrad"]) == 0
    out = capsys.readouterr().out
    assert "final task weights" in out and "upgrad" in out.split("final task weights")[1]


def test_cli_refuses_an_unknown_weighting_with_exit_2(capsys):
    from lab.cli import main
    assert main(["couple", "--weighting", "upgrade"]) == 2          # one line, no traceback (lab.cli.main)
    err = capsys.readouterr().err
    assert "upgrad" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_playground_dropdown_lists_every_weighting_and_builds_the_new_ones():
    from lab.ui.playground import CouplingPlayground, PlaygroundConfig
    pg = CouplingPlayground(PlaygroundConfig(epochs=1, small_data=True))
    assert list(pg.weighting.options) == list(WEIGHTINGS) and set(NEW) <= set(pg.weighting.options)
    config = PlaygroundConfig(weighting="mgda", weighting_options=(("max_iters", 50.0),))
    assert config.make_weighting().options["max_iters"] == 50
    with pytest.raises(ValueError, match="cagrad: c"):
        PlaygroundConfig(weighting="cagrad", weighting_options=(("c", -1.0),)).make_weighting()


def test_the_lab_never_imports_torchjd():
    """torchjd is the tests' reference only (the dev extra), never a dependency of ``lab``."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "lab"
    importing = [str(p) for p in root.rglob("*.py")
                 if re.search(r"^\s*(import|from)\s+torchjd\b", p.read_text(), flags=re.M)]
    assert importing == []
