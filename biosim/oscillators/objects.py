"""A small synthetic multi-object image set (Tetrominoes-like) and the object-discovery
scores used by the AKOrN demo: FG-ARI of a clustering, and a k-means baseline."""
from __future__ import annotations

import numpy as np

from biosim.core import validation as check
from biosim.core.random import make_rng

__all__ = ["TETROMINOES", "tetromino_images", "fg_ari", "kmeans_segments"]

#: the 7 tetrominoes as (row, col) cells
TETROMINOES = (
    ((0, 0), (0, 1), (0, 2), (0, 3)),      # I
    ((0, 0), (0, 1), (1, 0), (1, 1)),      # O
    ((0, 0), (0, 1), (0, 2), (1, 1)),      # T
    ((0, 1), (0, 2), (1, 0), (1, 1)),      # S
    ((0, 0), (0, 1), (1, 1), (1, 2)),      # Z
    ((0, 0), (1, 0), (2, 0), (2, 1)),      # L
    ((0, 1), (1, 1), (2, 1), (2, 0)),      # J
)


def _shape_mask(kind, rot, cell):
    cells = np.array(TETROMINOES[kind])
    m = np.zeros((cells[:, 0].max() + 1, cells[:, 1].max() + 1), bool)
    m[cells[:, 0], cells[:, 1]] = True
    m = np.rot90(m, rot)
    return np.kron(m, np.ones((cell, cell), bool))


def tetromino_images(n, size=20, n_objects=3, cell=2, gap=2, levels=(0.55, 0.8, 1.0),
                     noise=0.03, seed=None):
    """``n`` grayscale images (n, size, size) in [0, 1] with ``n_objects`` tetrominoes each
    (random kind, rotation, position and gray level from ``levels``; objects keep ``gap``
    background pixels between them), plus ``noise`` (sd) Gaussian pixel noise, and the
    ground-truth label maps (n, size, size): 0 background, 1..n_objects the objects."""
    n = check.integer("n", n, low=1)
    size = check.integer("size", size, low=4)
    n_objects = check.integer("n_objects", n_objects, low=1)
    cell = check.integer("cell", cell, low=1)
    gap = check.integer("gap", gap, low=0)
    noise = check.nonnegative("noise", noise)
    levels = check.array("levels", levels, ndim=1, low=0.0, high=1.0)
    rng = make_rng(seed)
    images = np.zeros((n, size, size))
    labels = np.zeros((n, size, size), np.int64)
    for b in range(n):
        placed = 0
        for _ in range(1000):
            m = _shape_mask(rng.integers(len(TETROMINOES)), rng.integers(4), cell)
            h, w = m.shape
            if h > size or w > size:
                check.fail("size", f"room for a {h} x {w} object", size)
            y, x = rng.integers(size - h + 1), rng.integers(size - w + 1)
            y0, x0 = max(0, y - gap), max(0, x - gap)
            if np.any(labels[b, y0:y + h + gap, x0:x + w + gap]):
                continue
            placed += 1
            labels[b, y:y + h, x:x + w][m] = placed
            images[b, y:y + h, x:x + w][m] = levels[rng.integers(levels.size)]
            if placed == n_objects:
                break
        else:
            check.fail("n_objects", f"objects that fit a {size} x {size} image", n_objects)
    images += noise * rng.standard_normal(images.shape)
    return np.clip(images, 0.0, 1.0), labels


def fg_ari(pred, labels) -> float:
    """Foreground adjusted Rand index (Greff et al. 2019): ARI between a segmentation
    ``pred`` and the ground truth over the pixels where ``labels`` > 0 (sklearn's ARI)."""
    from sklearn.metrics import adjusted_rand_score

    pred, labels = np.asarray(pred).ravel(), np.asarray(labels).ravel()
    if pred.shape != labels.shape:
        check.fail("pred", f"the shape of labels {labels.shape}", f"shape {pred.shape}")
    fg = labels > 0
    return float(adjusted_rand_score(labels[fg], pred[fg]))


def kmeans_segments(features, k, seed=0):
    """Cluster per-pixel ``features`` (H, W, F) into ``k`` segments with k-means (sklearn,
    10 restarts); returns the (H, W) labels."""
    from sklearn.cluster import KMeans

    f = np.asarray(features, float)
    flat = f.reshape(-1, f.shape[-1]) if f.ndim == 3 else f.reshape(-1, 1)
    km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(flat)
    return km.labels_.reshape(f.shape[:2])
