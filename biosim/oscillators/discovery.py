"""Unsupervised object discovery with AKOrN (after Miyato et al., ICLR 2025, sec. 5.1),
small enough to train on a CPU in minutes.

Model: a small convolutional encoder turns a grayscale image into the conditional stimulus
c (channels x D per pixel); a convolutional :class:`KuramotoLayer` (coupling J = 3x3
convolution, initialised as a neighbour-synchronising prior plus noise) runs ``n_steps``
updates from random unit vectors. Objects appear as groups of synchronised oscillators;
k-means on the final oscillator states segments the image.

Training is self-supervised from the images alone (no masks): neighbouring pixels of
similar intensity should synchronise, neighbours of different intensity should be
orthogonal, and bright pixels more than ``radius`` apart (mostly on different objects)
should be orthogonal (Gestalt similarity, continuity and a weak separation prior).
This objective is ours, chosen for a minutes-long CPU demo; the paper trains deeper
AKOrN networks with a contrastive objective.

Scoring (:func:`discovery_scores`): segments are computed on the pixels brighter than
``threshold`` (the background of this image set is black), with k = number of objects,
both for AKOrN (k-means on the oscillator states) and for the baseline (k-means on the
raw pixel values); FG-ARI against the ground-truth masks. Also reported: both clustered
on all pixels with k = objects + 1 (the paper's protocol).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from biosim.core import validation as check
from biosim.core.random import make_rng
from biosim.oscillators.akorn_torch import KuramotoLayer
from biosim.oscillators.objects import fg_ari, kmeans_segments

__all__ = ["ObjectDiscovery", "binding_loss", "train_object_discovery", "discovery_scores"]

_OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))


class ObjectDiscovery(nn.Module):
    """Encoder (3x3 conv, ReLU, 1x1 conv) -> stimulus c -> conv :class:`KuramotoLayer`.

    ``forward(images)`` takes (B, H, W) in [0, 1] and returns the final oscillator states
    (B, channels, D, H, W). float32."""

    def __init__(self, channels=4, n_dim=4, n_steps=12, gamma=0.5, prior=0.3, hidden=16,
                 seed=0):
        super().__init__()
        torch.manual_seed(int(make_rng(seed).integers(2 ** 62)))
        self.channels, self.D = channels, n_dim
        self.encoder = nn.Sequential(nn.Conv2d(1, hidden, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(hidden, channels * n_dim, 1))
        self.kuramoto = KuramotoLayer(n_dim=n_dim, coupling="conv", channels=channels,
                                      kernel_size=3, gamma=gamma, n_steps=n_steps,
                                      J_scale=0.01, seed=seed).float()
        with torch.no_grad():  # neighbour synchrony prior: J_ij = prior I for the 8 neighbours
            eye = prior * torch.eye(channels * n_dim)
            for dy, dx in [(a, b) for a in range(3) for b in range(3) if (a, b) != (1, 1)]:
                self.kuramoto.J[:, :, dy, dx] += eye

    def forward(self, images, generator=None):
        B, H, W = images.shape
        c = self.encoder(images[:, None]).reshape(B, self.channels, self.D, H, W)
        return self.kuramoto(c, generator=generator)


def _shift_pairs(a, dy, dx):
    H, W = a.shape[-2:]
    return (a[..., max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)],
            a[..., max(-dy, 0):H + min(-dy, 0), max(-dx, 0):W + min(-dx, 0)])


def binding_loss(x, images, sigma=0.1, radius=5.0, separation=1.0, threshold=0.3):
    """The self-supervised objective above. ``x``: (B, C, D, H, W) unit vectors;
    ``images``: (B, H, W). Similarity of two pixels = mean over channels of <x_i, x_j>."""
    B, C, D, H, W = x.shape
    f = x.reshape(B, C * D, H, W) / math.sqrt(C)
    loss = 0.0
    for dy, dx in _OFFSETS:
        fa, fb = _shift_pairs(f, dy, dx)
        ia, ib = _shift_pairs(images, dy, dx)
        a = torch.exp(-(ia - ib) ** 2 / (2 * sigma ** 2))
        s = (fa * fb).sum(1)
        loss = loss + (a * (1 - s)).mean() + ((1 - a) * s ** 2).mean()
    loss = loss / len(_OFFSETS)
    v = f.reshape(B, C * D, H * W)
    bright = (images.reshape(B, H * W) > threshold).to(x.dtype)
    yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    pos = torch.stack([yy.ravel(), xx.ravel()], 1).to(x.dtype)
    far = (torch.cdist(pos, pos) > radius).to(x.dtype)
    m = bright[:, :, None] * bright[:, None, :] * far[None]
    S = torch.einsum("bfi,bfj->bij", v, v)
    return loss + separation * (m * S ** 2).sum() / m.sum().clamp(min=1.0)


def train_object_discovery(images, iters=300, batch=16, lr=3e-3, seed=0, model=None,
                           progress=False, **model_kw):
    """Train an :class:`ObjectDiscovery` model on ``images`` (N, H, W) with Adam on
    :func:`binding_loss`; returns (model, losses)."""
    images = check.array("images", images, ndim=3, low=0.0, high=1.0)
    iters = check.integer("iters", iters, low=1)
    batch = check.integer("batch", batch, low=1)
    model = model or ObjectDiscovery(seed=seed, **model_kw)
    opt = torch.optim.Adam(model.parameters(), lr=check.positive("lr", lr))
    X = torch.tensor(images, dtype=torch.float32)
    g = torch.Generator().manual_seed(int(make_rng(seed).integers(2 ** 62)))
    losses = []
    it = range(iters)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="AKOrN training")
    for _ in it:
        idx = torch.randint(0, len(X), (batch,), generator=g)
        loss = binding_loss(model(X[idx], generator=g), X[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, np.array(losses)


def discovery_scores(model, images, labels, threshold=0.3, seed=0):
    """Mean FG-ARI over the images of AKOrN and of the k-means-on-pixels baseline (see the
    module docstring); returns a dict with ``akorn``, ``kmeans``, ``akorn_all_pixels``,
    ``kmeans_all_pixels`` and the per-image segmentations ``segments_akorn`` / ``segments_kmeans`` (0 = background)."""
    images = check.array("images", images, ndim=3)
    labels = check.array("labels", labels, dtype=np.int64, shape=images.shape)
    with torch.no_grad():
        x = model(torch.tensor(images, dtype=torch.float32),
                  generator=torch.Generator().manual_seed(seed))
    B, C, D, H, W = x.shape
    feats = x.reshape(B, C * D, H, W).permute(0, 2, 3, 1).numpy()
    out = {"akorn": [], "kmeans": [], "akorn_all_pixels": [], "kmeans_all_pixels": [],
           "segments_akorn": [], "segments_kmeans": []}
    for f, img, lab in zip(feats, images, labels):
        k = int(lab.max())
        fg = img > threshold
        seg_a, seg_k = np.zeros(lab.shape, np.int64), np.zeros(lab.shape, np.int64)
        seg_a[fg] = 1 + kmeans_segments(f[fg][:, None, :], k, seed).ravel()
        seg_k[fg] = 1 + kmeans_segments(img[fg][:, None, None], k, seed).ravel()
        out["akorn"].append(fg_ari(seg_a, lab))
        out["kmeans"].append(fg_ari(seg_k, lab))
        out["akorn_all_pixels"].append(fg_ari(kmeans_segments(f, k + 1, seed), lab))
        out["kmeans_all_pixels"].append(fg_ari(kmeans_segments(img, k + 1, seed), lab))
        out["segments_akorn"].append(seg_a)
        out["segments_kmeans"].append(seg_k)
    for key in ("akorn", "kmeans", "akorn_all_pixels", "kmeans_all_pixels"):
        out[key] = float(np.mean(out[key]))
    return out
