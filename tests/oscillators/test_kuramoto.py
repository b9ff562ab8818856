"""Kuramoto model: simulator against the mean-field theory, scipy, and its own dense path."""
import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.integrate import solve_ivp

import biosim as bs
from biosim.core.validation import BiosimError
from biosim.oscillators import (KuramotoPopulation, critical_coupling, lorentzian_r,
                                natural_frequencies, order_parameter, self_consistent_r,
                                simulate)


def _stationary_r(omega, K, alpha=0.0, n_steps=1000, dt=0.1, tail=400, seed=0):
    theta0 = np.random.default_rng(seed).uniform(0, 2 * np.pi, omega.size)
    res = simulate(theta0, omega, dt, n_steps, K=K, alpha=alpha)
    return res.r[-tail:].mean(), res


@pytest.mark.parametrize("K", [1.5, 3.0])
def test_lorentzian_r_above_kc_matches_closed_form(K):
    """Kuramoto (1975) / Ott-Antonsen (2008): r = sqrt(1 - 2 Delta / K) for K > 2 Delta."""
    delta = 0.5
    omega = natural_frequencies(10_000, "lorentzian", delta, sample="quantile", seed=1)
    r, _ = _stationary_r(omega, K)
    assert r == pytest.approx(math.sqrt(1 - 2 * delta / K), abs=0.01)


def test_lorentzian_r_below_kc_is_finite_size():
    """Below K_c the incoherent state is stable: r = O(1/sqrt(N)) (E[r^2] ~ 1/(N (1-K/K_c)))."""
    for n in (2_500, 10_000):
        omega = natural_frequencies(n, "lorentzian", 0.5, sample="quantile", seed=2)
        theta0 = np.random.default_rng(3).uniform(0, 2 * np.pi, n)
        res = simulate(theta0, omega, 0.1, 600, K=0.5)
        r_rms = math.sqrt(np.mean(res.r[-300:] ** 2))
        assert 0.3 < r_rms * math.sqrt(n) < 3.0, (n, r_rms)


def test_sakaguchi_lag_shifts_kc():
    """Sakaguchi-Kuramoto with Lorentzian g (Ott-Antonsen): K_c = 2 Delta / cos(alpha),
    r = sqrt(1 - K_c / K)."""
    delta, alpha = 0.5, 0.6
    kc = 2 * delta / math.cos(alpha)
    assert critical_coupling("lorentzian", delta, alpha) == pytest.approx(kc, rel=1e-12)
    omega = natural_frequencies(10_000, "lorentzian", delta, sample="quantile", seed=1)
    r_below, _ = _stationary_r(omega, 0.9 * kc, alpha)
    r_above, _ = _stationary_r(omega, 1.6 * kc, alpha)
    assert r_below < 0.05
    assert r_above == pytest.approx(math.sqrt(1 - 1 / 1.6), abs=0.01)
    assert lorentzian_r(1.6 * kc, delta, alpha) == pytest.approx(math.sqrt(1 - 1 / 1.6))


def test_critical_couplings_closed_forms():
    """K_c = 2 / (pi g(0)): Lorentzian 2 Delta, Gaussian sigma sqrt(8/pi), uniform 4 gamma/pi."""
    assert critical_coupling("lorentzian", 0.7) == pytest.approx(1.4)
    assert critical_coupling("gaussian", 1.3) == pytest.approx(1.3 * math.sqrt(8 / math.pi))
    assert critical_coupling("uniform", 2.0) == pytest.approx(8 / math.pi)


def test_self_consistency_solver_against_closed_forms():
    """The scipy solver reproduces the Lorentzian closed form, and near the Gaussian onset
    Kuramoto's expansion r ~ sqrt(16 mu / (pi K_c^4 (-g''(0)))), mu = K - K_c
    (Strogatz 2000, Physica D 143, sec. 5)."""
    for K in (1.2, 2.0, 5.0):
        assert self_consistent_r(K, "lorentzian", 0.5) == pytest.approx(
            math.sqrt(1 - 1.0 / K), abs=1e-8)
    sigma = 1.0
    kc = sigma * math.sqrt(8 / math.pi)
    g2 = 1.0 / (sigma ** 3 * math.sqrt(2 * math.pi))  # -g''(0)
    mu = 1e-4 * kc
    assert self_consistent_r(kc + mu, "gaussian", sigma) == pytest.approx(
        math.sqrt(16 * mu / (math.pi * kc ** 4 * g2)), rel=0.01)
    assert self_consistent_r(0.99 * kc, "gaussian", sigma) == 0.0


@pytest.mark.parametrize("K", [2.0, 3.0])
def test_gaussian_r_matches_self_consistency(K):
    """Simulated r (N = 10^4, quantile frequencies) vs the self-consistency equation."""
    omega = natural_frequencies(10_000, "gaussian", 1.0, sample="quantile", seed=1)
    r, _ = _stationary_r(omega, K)
    assert r == pytest.approx(self_consistent_r(K, "gaussian", 1.0), abs=0.01)


def test_identical_oscillators_synchronize():
    """Identical oscillators with K > 0: the synchronous state is globally attracting."""
    theta0 = np.random.default_rng(0).uniform(0, 2 * np.pi, 500)
    res = simulate(theta0, 0.7, 0.05, 1000, K=1.0)
    assert res.r[-1] > 0.999
    assert res.r[0] < 0.2


@pytest.mark.parametrize("method", ["rk4", "euler"])
def test_mean_field_equals_dense_all_to_all(method):
    """O(N) mean field == dense coupling matrix W = K/N (and == CSR of the same matrix)."""
    n, K = 200, 1.3
    rng = np.random.default_rng(4)
    theta0 = rng.uniform(0, 2 * np.pi, n)
    omega = rng.normal(0, 1, n)
    kw = dict(alpha=0.4, method=method, record_every=10)
    a = simulate(theta0, omega, 0.02, 500, K=K, **kw)
    W = np.full((n, n), K / n)
    b = simulate(theta0, omega, 0.02, 500, coupling=W, **kw)
    c = simulate(theta0, omega, 0.02, 500, coupling=sp.csr_matrix(W), **kw)
    np.testing.assert_allclose(a.phases, b.phases, atol=1e-10)
    np.testing.assert_allclose(a.phases, c.phases, atol=1e-10)
    np.testing.assert_allclose(a.r, b.r, atol=1e-12)


def test_sparse_graph_matches_scipy_ode():
    """Ring with 4 neighbours, directed random weights: RK4 vs scipy's DOP853 at tight
    tolerance; the error falls ~16x when dt halves (fourth order)."""
    n = 40
    rng = np.random.default_rng(5)
    rows = np.repeat(np.arange(n), 4)
    cols = (rows + np.tile([-2, -1, 1, 2], n)) % n
    W = sp.csr_matrix((rng.uniform(0.2, 1.0, rows.size), (rows, cols)), shape=(n, n))
    Wd = W.toarray()
    theta0 = rng.uniform(0, 2 * np.pi, n)
    omega = rng.normal(0, 0.5, n)
    alpha = 0.2

    def f(t, th):
        return omega + (Wd * np.sin(th[:, None] - th[None, :] - alpha)).sum(axis=0)

    ref = solve_ivp(f, (0, 5.0), theta0, method="DOP853", rtol=1e-12, atol=1e-12).y[:, -1]
    errs = [np.abs(simulate(theta0, omega, dt, int(round(5.0 / dt)), coupling=W,
                            alpha=alpha).theta - ref).max() for dt in (0.05, 0.025)]
    assert errs[0] < 1e-5
    assert 10 < errs[0] / errs[1] < 22


def test_phase_noise_diffusion():
    """Uncoupled identical oscillators with noise sigma: Var(theta(T) - theta(0)) = sigma^2 T."""
    n, sigma, T = 4000, 0.5, 4.0
    res = simulate(np.zeros(n), 0.0, 0.01, 400, sigma=sigma, method="euler", seed=7)
    assert np.var(res.theta) == pytest.approx(sigma ** 2 * T, rel=0.1)
    again = simulate(np.zeros(n), 0.0, 0.01, 400, sigma=sigma, method="euler", seed=7)
    np.testing.assert_array_equal(res.theta, again.theta)


def test_network_population_equals_simulator():
    """A KuramotoPopulation coupled to itself by a dense projection in a Network follows
    the same Euler trajectory as simulate(coupling=W)."""
    n = 50
    rng = np.random.default_rng(1)
    W = rng.uniform(0, 0.2, (n, n))
    theta0, omega = rng.uniform(0, 2 * np.pi, n), rng.normal(0, 1, n)
    net = bs.Network(dt=0.05, seed=0)
    pop = net.add(KuramotoPopulation(n, omega=omega, K=0.5, alpha=0.3, theta0=theta0))
    net.connect(pop, pop, weight=W)
    mon = net.monitor(pop, "theta")
    net.run(10.0)
    ref = simulate(theta0, omega, 0.05, 200, K=0.5, coupling=W, alpha=0.3, method="euler",
                   record_every=1)
    np.testing.assert_allclose(mon.values, ref.phases, atol=1e-12)
    assert pop.r == pytest.approx(order_parameter(ref.theta)[0], abs=1e-12)


def test_hebbian_coupling_adaptation_through_core_rule():
    """dK_ij/dt = eps (cos(theta_j - theta_i) - K_ij) (Seliger, Young & Tsimring 2002) is the
    core Hebbian(eta=eps, decay=1) on unit-vector activity: the network run equals a
    direct NumPy integration of the coupled phase/weight system."""
    n, eps, dt, steps = 30, 0.1, 0.05, 300
    rng = np.random.default_rng(2)
    theta0, omega = rng.uniform(0, 2 * np.pi, n), rng.normal(0, 0.3, n)
    K0 = rng.uniform(0, 0.5, (n, n))
    net = bs.Network(dt=dt, seed=0)
    pop = net.add(KuramotoPopulation(n, omega=omega, theta0=theta0))
    proj = net.connect(pop, pop, weight=K0, rule=bs.Hebbian(eta=eps, decay=1.0))
    net.run(steps * dt)

    th, K = theta0.copy(), K0.copy()
    for _ in range(steps):
        th = th + dt * (omega + (K * np.sin(th[:, None] - th[None, :])).sum(axis=0))
        K = K + dt * eps * (np.cos(th[:, None] - th[None, :]) - K)
    np.testing.assert_allclose(pop.state["theta"], th, atol=1e-10)
    np.testing.assert_allclose(proj.W, K, atol=1e-10)


def test_frequency_distributions():
    """Quantile draws hit the distributions' quantiles; random draws are seeded."""
    q = natural_frequencies(1000, "lorentzian", 0.5, center=1.0, sample="quantile")
    assert np.median(q) == pytest.approx(1.0, abs=1e-3)
    assert np.quantile(q, 0.75) - 1.0 == pytest.approx(0.5, rel=0.01)  # half-width = IQR/2
    g = natural_frequencies(20_000, "gaussian", 2.0, seed=3)
    assert g.std() == pytest.approx(2.0, rel=0.02)
    np.testing.assert_array_equal(g, natural_frequencies(20_000, "gaussian", 2.0, seed=3))
    u = natural_frequencies(100, "uniform", 1.0, sample="quantile")
    assert u.min() > -1 and u.max() < 1


def test_bad_input_raises_named_errors():
    with pytest.raises(BiosimError, match="^n:"):
        natural_frequencies(-5)
    with pytest.raises(BiosimError, match="^n:"):
        KuramotoPopulation(-3)
    with pytest.raises(BiosimError, match="^omega:"):
        simulate(np.zeros(3), [0.0, np.nan, 1.0], 0.1, 10)
    with pytest.raises(BiosimError, match="^omega:"):
        KuramotoPopulation(3, omega=[0.0, np.nan, 1.0])
    with pytest.raises(BiosimError, match="^coupling:"):
        simulate(np.zeros(3), 0.0, 0.1, 10, coupling=np.ones((3, 4)))
    with pytest.raises(BiosimError, match="^coupling:"):
        simulate(np.zeros(3), 0.0, 0.1, 10, coupling=sp.eye(4, format="csr"))
    for bad in ([np.inf, np.inf, np.inf], [1.0, np.nan, 1.0], [0.5, 1.0, -np.inf]):
        with pytest.raises(BiosimError, match="^coupling: .*finite"):
            simulate(np.zeros(3), 0.0, 0.1, 10, coupling=sp.diags(bad, format="csr"))
    with pytest.raises(BiosimError, match="^dt:"):
        simulate(np.zeros(3), 0.0, -0.1, 10)
    with pytest.raises(BiosimError, match="^method:"):
        simulate(np.zeros(3), 0.0, 0.1, 10, method="midpoint")


def test_vectorised_sincos_matches_libm():
    """The branch-free sincos used by the kernels agrees with NumPy (libm) to < 4e-16 up to
    |x| = 1e6, including multiples of pi/4; larger phases are reduced mod 2 pi."""
    from numba import njit

    from biosim.oscillators.kuramoto import _sincos

    @njit
    def both(x, s, c):
        for i in range(x.size):
            s[i], c[i] = _sincos(x[i])

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-4, 4, 10_000), rng.uniform(-1e6, 1e6, 10_000),
                        np.arange(-40, 41) * np.pi / 4, [0.0, -0.0, 1e-300]])
    s, c = np.empty_like(x), np.empty_like(x)
    both(x, s, c)
    assert np.abs(s - np.sin(x)).max() < 4e-16
    assert np.abs(c - np.cos(x)).max() < 4e-16
    res = simulate(np.array([3e6, 1.0]), 0.0, 0.1, 1)
    assert abs(res.theta[0]) <= np.pi
    assert np.sin(res.theta[0]) == pytest.approx(np.sin(3e6), abs=1e-9)


def test_network_sparse_projection_equals_simulator_on_its_weights():
    """A CSR projection (fixed_probability) in a Network == simulate() given the same
    core Weights object (converted to the kernels' post-major CSR)."""
    n = 80
    rng = np.random.default_rng(3)
    theta0, omega = rng.uniform(0, 2 * np.pi, n), rng.normal(0, 0.5, n)
    net = bs.Network(dt=0.05, seed=2)
    pop = net.add(KuramotoPopulation(n, omega=omega, theta0=theta0))
    proj = net.connect(pop, pop, bs.fixed_probability(0.2), weight=bs.uniform(0.0, 0.3),
                       sparse=True)
    net.run(5.0)
    ref = simulate(theta0, omega, 0.05, 100, coupling=proj.weights, method="euler")
    assert not proj.weights.dense
    np.testing.assert_allclose(pop.state["theta"], ref.theta, atol=1e-12)


@pytest.mark.parametrize("layout", ["one block", "blocks", "wide"])
@pytest.mark.parametrize("weights", ["equal", "per row", "repeated edges", "multiples", "any"])
def test_sparse_coupling_layouts_equal_numpy_rk4(weights, layout, monkeypatch):
    """Every sparse layout (index-only when each row's weights are whole multiples of one
    number: equal weights, K/k_i, edges drawn twice; else weights read, also for multiples
    that would cost many copies of an index; one block of source units with 2-byte indices,
    several, or one with 4-byte indices when there would be too many) integrates like
    textbook NumPy RK4 with scipy's W^T products."""
    import scipy.sparse as sp

    from biosim.oscillators import kuramoto as kur

    if layout != "one block":
        monkeypatch.setattr(kur, "_BLOCK", 16)       # n = 60: 4 blocks of 15 source units
        monkeypatch.setattr(kur, "_MAX_BLOCKS", 4 if layout == "blocks" else 2)
    n, k, dt, steps = 60, 8, 0.05, 40
    rng = np.random.default_rng(7)
    pre, post = rng.integers(0, n, n * k), np.repeat(np.arange(n), k)
    w = {"equal": np.full(n * k, 0.3), "per row": 0.3 / (1 + post % 5),
         "repeated edges": np.full(n * k, 0.3), "multiples": 0.1 * rng.integers(1, 9, n * k),
         "any": rng.uniform(-0.5, 0.5, n * k)}[weights]
    if weights != "repeated edges":  # distinct (pre, post) pairs: no merged duplicates
        keep = np.unique(pre * n + post, return_index=True)[1]
        pre, post, w = pre[keep], post[keep], w[keep]
    W = sp.csr_matrix((w, (pre, post)), shape=(n, n))
    kind, nblock, _, _, _, loc = kur.coupling_arrays(W, n)
    assert kind == (kur._CSR if weights in ("any", "multiples") else kur._CSR1)
    assert (W.nnz < pre.size) == (weights == "repeated edges")   # scipy merged the repeats
    assert -(-n // nblock) == (4 if layout == "blocks" else 1)
    assert loc.dtype == (np.uint32 if layout == "wide" else np.uint16)
    theta0, omega = rng.uniform(0, 2 * np.pi, n), rng.normal(0, 1, n)
    th, Wt = theta0.copy(), W.T.tocsr()

    def f(x):
        c, s = np.cos(x), np.sin(x)
        return omega + (Wt @ s) * c - (Wt @ c) * s

    for _ in range(steps):
        k1 = f(th)
        k2 = f(th + 0.5 * dt * k1)
        k3 = f(th + 0.5 * dt * k2)
        th = th + dt / 6 * (k1 + 2 * k2 + 2 * k3 + f(th + dt * k3))
    got = simulate(theta0, omega, dt, steps, coupling=W).theta
    np.testing.assert_allclose(got, th, rtol=0, atol=1e-12)
    assert np.abs(got - theta0).max() > 0.1


def test_sparse_coupling_stored_zeros_change_nothing():
    """Explicit zeros in a sparse coupling (the first entry included) add nothing."""
    import scipy.sparse as sp

    rng = np.random.default_rng(9)
    n = 20
    W = sp.random(n, n, density=0.3, random_state=2, format="csr")
    W.data[:] = 0.2
    Z = W.copy()
    Z.data[::3] = 0.0                  # stored zeros, the first entry included
    ref = W.copy()
    ref.data[::3] = 0.0
    ref.eliminate_zeros()
    theta0, omega = rng.uniform(0, 2 * np.pi, n), rng.normal(0, 1, n)
    a = simulate(theta0, omega, 0.05, 50, coupling=Z).theta
    b = simulate(theta0, omega, 0.05, 50, coupling=ref).theta
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


@pytest.mark.parametrize("one", [True, False])
def test_population_saved_with_the_old_csr_layout_runs_the_same(one):
    """A KuramotoPopulation saved by biosim 0.1.0 (one CSR matrix, rows = post units; one
    weight: data = [w]) gets the blocked layout when run: the same phases."""
    import scipy.sparse as sp

    n = 30
    rng = np.random.default_rng(13)
    W = sp.random(n, n, density=0.2, random_state=5, format="csr")
    if one:
        W.data[:] = 0.15
    omega, theta0 = rng.normal(0, 1, n), rng.uniform(0, 2 * np.pi, n)
    runs = []
    for old in (False, True):
        pop = KuramotoPopulation(n, omega=omega, method="rk4", theta0=theta0, coupling=W)
        if old:                        # the attributes a 0.1.0 file restores
            m = sp.csr_matrix(W.T)
            del pop.coupling_block
            pop.coupling_indptr, pop.coupling_indices = m.indptr.astype(np.int64), m.indices
            pop.coupling_data = m.data[:1].copy() if one else m.data
        net = bs.Network(dt=0.05, seed=1)
        net.add(pop)
        net.run(1.0)
        runs.append(pop.state["theta"].copy())
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("coupling", ["none", "dense", "csr"])
@pytest.mark.parametrize("method", ["rk4", "euler"])
def test_kernel_step_equals_its_numpy_twin(coupling, method):
    """One step of the numba kernel (global term, own coupling matrix, external field,
    noise) == advance_numpy, the plain NumPy twin."""
    import scipy.sparse as sp

    from biosim.oscillators import kuramoto as kur

    n, dt = 40, 0.05
    rng = np.random.default_rng(11)
    W = rng.uniform(0, 0.1, (n, n)) * (rng.random((n, n)) < 0.3)
    W = {"none": None, "dense": W, "csr": sp.csr_matrix(W)}[coupling]
    pop = KuramotoPopulation(n, omega=rng.normal(0, 1, n), K=0.8, alpha=0.3, sigma=0.2,
                             method=method, coupling=W)
    p = pop.params(dt)
    theta = rng.uniform(0, 2 * np.pi, n)
    F = rng.normal(0, 0.5, (n, 2))
    noise = rng.standard_normal((1, n))
    ref = kur.advance_numpy(theta, p, F[:, 0], F[:, 1], noise[0])
    act, z = np.empty((n, 2)), np.empty((1, 2))
    kur.advance(theta, p, F[:, 0].copy(), F[:, 1].copy(), noise, act, z, np.zeros((0, 0)), 0, 1)
    np.testing.assert_allclose(theta, ref, atol=1e-12)
    np.testing.assert_allclose(act, np.column_stack([np.cos(ref), np.sin(ref)]), atol=1e-12)
    np.testing.assert_allclose(z[0], act.mean(axis=0), atol=1e-12)


@pytest.mark.parametrize("sigma", [0.0, 0.3])
def test_fused_runner_equals_generic_loop(sigma):
    """A lone KuramotoPopulation (own CSR coupling, noise) with order-parameter and phase
    monitors: the fused kernel == the step-by-step loop, records included."""
    import scipy.sparse as sp

    n = 30
    rng = np.random.default_rng(12)
    W = sp.random(n, n, density=0.2, random_state=3, format="csr") * 0.2
    omega, theta0 = rng.normal(0, 1, n), rng.uniform(0, 2 * np.pi, n)
    runs = []
    for fused in (True, False):
        net = bs.Network(dt=0.05, seed=4)
        pop = net.add(KuramotoPopulation(n, omega=omega, K=1.0, alpha=0.2, sigma=sigma,
                                         method="rk4", theta0=theta0, coupling=W))
        mons = [net.monitor(pop, "r", every=3), net.monitor(pop, "psi"),
                net.monitor(pop, "theta", indices=[0, 5], every=4)]
        net.run(2.0, fused=fused)
        net.run(1.5, fused=fused)  # a second run continues the records
        runs.append((pop.state["theta"].copy(), [(m.t, m.values) for m in mons]))
    np.testing.assert_allclose(runs[0][0], runs[1][0], atol=1e-12)
    for (t0, v0), (t1, v1) in zip(runs[0][1], runs[1][1]):
        np.testing.assert_allclose(t0, t1, atol=1e-12)
        np.testing.assert_allclose(v0, v1, atol=1e-12)
    assert runs[0][1][0][1].size == len(range(0, 70, 3))
