"""PyTorch AKOrN layers (CPU or CUDA): :class:`KuramotoLayer` and :class:`NormReadout`.

Same update and energy as :mod:`biosim.oscillators.akorn` (the numba version), in float64
by default so the two agree step by step; cast the module (``.float()``) for speed.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from biosim.core import validation as check
from biosim.core.random import make_rng
from biosim.oscillators.akorn import _dim

__all__ = ["KuramotoLayer", "NormReadout"]


class KuramotoLayer(nn.Module):
    """AKOrN oscillator layer: ``n_steps`` updates of unit vectors.

    ``coupling="dense"``: ``n_osc`` oscillators of dimension ``n_dim`` (D, even), states of
    shape (B, n_osc, D), J a learnable (n_osc D, n_osc D) matrix (block J_ij acts on x_j).
    ``coupling="conv"``: ``channels`` oscillators per pixel, states (B, channels, D, H, W),
    J a learnable convolution over the channels x D feature maps (odd ``kernel_size``, zero
    padding). Omega: a learnable antisymmetric D x D matrix per oscillator (dense) or per
    channel (conv), ``A - A^T`` with A initialised at ``omega_scale`` N(0, 1).
    Update: y = c + J x; x <- normalize(x + gamma (Omega x + y - <y, x> x)).
    ``forward(c, x0)`` returns the final state (x0 default: uniform random unit vectors);
    ``trajectory(c, x0)`` all states and energies. ``gamma``: step (1 in the paper's code).
    """

    def __init__(self, n_dim=2, coupling="dense", n_osc=None, channels=None, kernel_size=3,
                 gamma=1.0, n_steps=8, omega_scale=0.0, J_scale=None, seed=None):
        super().__init__()
        self.D = D = _dim(n_dim)
        self.coupling = check.choice("coupling", coupling, ("dense", "conv"))
        self.gamma = check.positive("gamma", gamma)
        self.n_steps = check.integer("n_steps", n_steps, low=0)
        omega_scale = check.nonnegative("omega_scale", omega_scale)
        g = torch.Generator().manual_seed(int(make_rng(seed).integers(2 ** 62)))
        if coupling == "dense":
            self.n_osc = check.integer("n_osc", n_osc, low=1)
            m = self.n_osc * D
            shape, fan, n_omega = (m, m), m, self.n_osc
        else:
            self.channels = check.integer("channels", channels, low=1)
            k = check.integer("kernel_size", kernel_size, low=1)
            if k % 2 == 0:
                check.fail("kernel_size", "an odd size (same-size output)", k)
            m = self.channels * D
            shape, fan, n_omega = (m, m, k, k), m * k * k, self.channels
        s = J_scale if J_scale is not None else 1.0 / math.sqrt(fan)
        self.J = nn.Parameter(s * torch.randn(shape, generator=g, dtype=torch.float64))
        self.A = nn.Parameter(omega_scale * torch.randn(n_omega, D, D, generator=g,
                                                        dtype=torch.float64))

    @property
    def omega(self) -> torch.Tensor:
        """The antisymmetric natural-frequency matrices, shape (n_osc or channels, D, D)."""
        return self.A - self.A.transpose(1, 2)

    def couple(self, x):
        """J x, same shape as x."""
        if self.coupling == "dense":
            return (x.reshape(x.shape[0], -1) @ self.J.T).reshape(x.shape)
        B, C, D, H, W = x.shape
        y = nn.functional.conv2d(x.reshape(B, C * D, H, W), self.J,
                                 padding=self.J.shape[-1] // 2)
        return y.reshape(x.shape)

    def rotate(self, x):
        """Omega x, same shape as x."""
        if self.coupling == "dense":
            return torch.einsum("nab,znb->zna", self.omega, x)
        return torch.einsum("cab,zcbhw->zcahw", self.omega, x)

    def step(self, x, c):
        """One update of unit vectors x (D on dim 2)."""
        y = c + self.couple(x)
        v = x + self.gamma * (self.rotate(x) + y - (y * x).sum(2, keepdim=True) * x)
        return v / v.norm(dim=2, keepdim=True)

    def energy(self, x, c):
        """E = -1/2 <x, J x> - <c, x> per sample, shape (B,)."""
        B = x.shape[0]
        return (-0.5 * (x * self.couple(x)).reshape(B, -1).sum(1)
                - (c * x).reshape(B, -1).sum(1))

    def random_state(self, shape, generator=None):
        """Unit vectors drawn uniformly (D on dim 2 of ``shape``)."""
        x = torch.randn(shape, generator=generator, dtype=self.J.dtype, device="cpu")
        x = x.to(self.J.device)
        return x / x.norm(dim=2, keepdim=True)

    def trajectory(self, c, x0):
        """All states (T+1, ...) and energies (T+1, B) from x0."""
        xs, es = [x0], [self.energy(x0, c)]
        for _ in range(self.n_steps):
            xs.append(self.step(xs[-1], c))
            es.append(self.energy(xs[-1], c))
        return torch.stack(xs), torch.stack(es)

    def forward(self, c, x0=None, generator=None):
        x = self.random_state(c.shape, generator) if x0 is None else x0
        for _ in range(self.n_steps):
            x = self.step(x, c)
        return x


class NormReadout(nn.Module):
    """The AKOrN readout: a 1x1 linear map of the oscillator state to ``out_channels``
    groups of D, then the Euclidean norm of each group (rotation-invariant features).

    (B, channels, D, H, W) -> (B, out_channels, H, W)."""

    def __init__(self, channels, n_dim, out_channels):
        super().__init__()
        self.D = _dim(n_dim)
        self.out_channels = check.integer("out_channels", out_channels, low=1)
        channels = check.integer("channels", channels, low=1)
        self.map = nn.Conv2d(channels * self.D, self.out_channels * self.D, 1,
                             dtype=torch.float64)

    def forward(self, x):
        B, C, D, H, W = x.shape
        y = self.map(x.reshape(B, C * D, H, W)).reshape(B, self.out_channels, D, H, W)
        return y.norm(dim=2)
