"""AKOrN vector oscillators (Miyato et al., ICLR 2025): energy, norms, numba == torch."""
import numpy as np
import pytest

from biosim.core.validation import BiosimError
from biosim.oscillators.akorn import (akorn_energy, akorn_run, akorn_step, random_unit_vectors,
                                      rotation_generators)


def _system(seed, n=30, D=4, c_scale=0.5):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n * D, n * D))
    J = (A + A.T) / (2 * np.sqrt(n * D))
    return J, rng.normal(size=(n, D)) * c_scale, random_unit_vectors(n, D, seed=seed)


@pytest.mark.parametrize("seed", range(4))
def test_energy_non_increasing_for_symmetric_J(seed):
    """Miyato et al. (2025), sec. 3: with symmetric J and Omega = 0 the update descends
    E = -1/2 x^T J x - c^T x (a projected gradient step on the product of spheres), for a
    step gamma below the curvature scale; here gamma = 0.5 / (||J||_2 + max_i ||c_i||)."""
    J, c, x0 = _system(seed)
    gamma = 0.5 / (np.abs(np.linalg.eigvalsh(J)).max() + np.linalg.norm(c, axis=1).max())
    xs, E = akorn_run(x0, J, None, c, gamma=gamma, n_steps=200)
    assert np.all(np.diff(E) <= 1e-10 * np.abs(E[:-1]).max())
    assert E[-1] < E[0] - 1.0
    assert E[-1] == pytest.approx(akorn_energy(xs[-1], J, c))


def test_fixed_point_satisfies_stationarity():
    """At convergence (Omega = 0) the tangential force vanishes: y_i = c_i + (J x)_i is
    parallel to x_i for every oscillator (KKT condition of min E on spheres)."""
    J, c, x0 = _system(7)
    xs, _ = akorn_run(x0, J, None, c, gamma=0.2, n_steps=3000)
    x = xs[-1]
    y = (J @ x.reshape(-1)).reshape(x.shape) + c
    tangential = y - np.sum(y * x, axis=1, keepdims=True) * x
    assert np.abs(tangential).max() < 1e-6


def test_unit_norms_preserved_with_rotations():
    J, c, x0 = _system(1)
    omega = rotation_generators(np.random.default_rng(2).normal(size=(30, 2)), 4)
    xs, _ = akorn_run(x0, J, omega, c, gamma=1.0, n_steps=50)
    np.testing.assert_allclose(np.linalg.norm(xs, axis=2), 1.0, atol=1e-12)


def test_pure_rotation_matches_matrix_exponential_direction():
    """No coupling, no stimulus: x <- normalize((I + gamma Omega) x) turns each 2-d pair by
    atan(gamma w) per step (closed form for the discrete update)."""
    n, D, w, gamma = 5, 2, 0.3, 0.5
    x0 = random_unit_vectors(n, D, seed=3)
    omega = rotation_generators(np.full((n, 1), w), D)
    xs, _ = akorn_run(x0, np.zeros((n * D, n * D)), omega, None, gamma=gamma, n_steps=10)
    ang = np.unwrap(np.arctan2(xs[:, :, 1], xs[:, :, 0]), axis=0)
    np.testing.assert_allclose(ang[-1] - ang[0], 10 * np.arctan(gamma * w), atol=1e-12)


def test_bad_input():
    with pytest.raises(BiosimError, match="^n_dim:"):
        random_unit_vectors(4, 3)
    with pytest.raises(BiosimError, match="^n_dim:"):
        rotation_generators(np.zeros((4, 1)), 3)
    with pytest.raises(BiosimError, match="^n_dim:"):
        akorn_step(np.ones((4, 3)) / np.sqrt(3), np.zeros((12, 12)))
    x = random_unit_vectors(4, 2, seed=0)
    with pytest.raises(BiosimError, match="^J:"):
        akorn_step(x, np.zeros((8, 7)))
    with pytest.raises(BiosimError, match="^x:"):
        akorn_step(2 * x, np.zeros((8, 8)))
    with pytest.raises(BiosimError, match="^omega:"):
        akorn_step(x, np.zeros((8, 8)), omega=np.ones((4, 2, 2)))
    with pytest.raises(BiosimError, match="^n:"):
        random_unit_vectors(-1, 2)


# ---------------------------------------------------------------- torch
torch = pytest.importorskip("torch")


@pytest.mark.torch
def test_torch_layer_agrees_with_numba_step_by_step():
    from biosim.oscillators.akorn import KuramotoLayer

    n, D, T = 12, 4, 20
    rng = np.random.default_rng(0)
    J = rng.normal(size=(n * D, n * D)) / np.sqrt(n * D)        # not symmetric
    omega = rotation_generators(rng.normal(size=(n, D // 2)), D)
    c = rng.normal(size=(n, D)) * 0.3
    x0 = random_unit_vectors(n, D, seed=1)
    xs, E = akorn_run(x0, J, omega, c, gamma=1.0, n_steps=T)
    layer = KuramotoLayer(n_dim=D, coupling="dense", n_osc=n, n_steps=T)
    with torch.no_grad():
        layer.J.copy_(torch.from_numpy(J))
        layer.A.copy_(torch.from_numpy(omega / 2))
        txs, tE = layer.trajectory(torch.from_numpy(c)[None], torch.from_numpy(x0)[None])
    np.testing.assert_allclose(txs[:, 0].numpy(), xs, atol=1e-12)
    np.testing.assert_allclose(tE[:, 0].numpy(), E, atol=1e-10)


@pytest.mark.torch
def test_conv_layer_equals_dense_numba_on_the_unrolled_matrix():
    """The convolutional coupling is a (C D H W)^2 matrix: build it entry by entry from the
    kernel (cross-correlation with zero padding) and run the numba version on it."""
    from biosim.oscillators.akorn import KuramotoLayer

    C, D, H, W, k, T = 2, 2, 5, 4, 3, 6
    layer = KuramotoLayer(n_dim=D, coupling="conv", channels=C, kernel_size=k, n_steps=T,
                          omega_scale=0.5, seed=3)
    K = layer.J.detach().numpy()                     # (C D, C D, k, k)
    omega = layer.omega.detach().numpy()             # (C, D, D)
    # oscillator index (h, w, c), component d  ->  flat ((h W + w) C + c) D + d
    n = H * W * C
    Jd = np.zeros((n * D, n * D))
    for h in range(H):
        for w in range(W):
            for dy in range(k):
                for dx in range(k):
                    hh, ww = h + dy - k // 2, w + dx - k // 2
                    if 0 <= hh < H and 0 <= ww < W:
                        for o in range(C * D):
                            for i in range(C * D):
                                Jd[(h * W + w) * C * D + o, (hh * W + ww) * C * D + i] += \
                                    K[o, i, dy, dx]
    rng = np.random.default_rng(4)
    c = rng.normal(size=(1, C, D, H, W)) * 0.5
    x0 = layer.random_state((1, C, D, H, W), torch.Generator().manual_seed(0))
    with torch.no_grad():
        xt, Et = layer.trajectory(torch.from_numpy(c), x0)
    to_flat = lambda a: a.transpose(2, 3, 0, 1).reshape(n, D)     # (C, D, H, W) -> (n, D)
    xs, E = akorn_run(to_flat(x0[0].numpy()), Jd, np.tile(omega, (H * W, 1, 1)),
                      to_flat(c[0]), gamma=1.0, n_steps=T)
    np.testing.assert_allclose(to_flat(xt[-1, 0].numpy()), xs[-1], atol=1e-10)
    np.testing.assert_allclose(Et[:, 0].numpy(), E, atol=1e-9)


@pytest.mark.torch
def test_layer_learns_by_backprop_and_readout_is_rotation_invariant():
    from biosim.oscillators.akorn import KuramotoLayer, NormReadout

    layer = KuramotoLayer(n_dim=2, coupling="conv", channels=2, kernel_size=3, n_steps=4,
                          seed=0)
    read = NormReadout(2, 2, 3)
    c = torch.randn(2, 2, 2, 6, 6, dtype=torch.float64)
    x = layer(c, generator=torch.Generator().manual_seed(1))
    out = read(x)
    assert out.shape == (2, 3, 6, 6)
    out.sum().backward()
    assert layer.J.grad is not None and torch.isfinite(layer.J.grad).all()
    # rotating every oscillator by the same angle leaves the norm readout unchanged only
    # when the map commutes with it; for the identity map the readout is the norm itself
    with torch.no_grad():
        read.map.weight.zero_()
        read.map.weight[:4, :4, 0, 0] = torch.eye(4)
        read.map.bias.zero_()
    np.testing.assert_allclose(read(x)[:, :2].detach().numpy(), 1.0, atol=1e-12)
    with pytest.raises(BiosimError, match="^n_dim:"):
        KuramotoLayer(n_dim=3, n_osc=4)
    with pytest.raises(BiosimError, match="^kernel_size:"):
        KuramotoLayer(coupling="conv", channels=2, kernel_size=4)
