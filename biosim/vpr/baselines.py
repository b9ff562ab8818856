"""Classical place-recognition baselines: sum of absolute differences (SAD) and sequence
matching (SeqSLAM-style sums along diagonals), the reference a spiking recognizer is compared to.

SAD as used by VPRSNN's baseline: the mean absolute difference of two (patch-normalised) images,
per pixel; similarity = -SAD so that higher means more similar.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from biosim.core.threads import keep_torch_threads
from biosim.core.validation import array, fail, integer

__all__ = ["sad_similarity", "sequence_match"]


@njit(cache=True, parallel=True)
def _sad(ref, qry, out):
    n_r, d = ref.shape
    n_q = qry.shape[0]
    for i in prange(n_r):
        r = ref[i]
        for j in range(n_q):
            q = qry[j]
            acc = 0
            for k in range(d):
                acc += abs(np.int32(r[k]) - np.int32(q[k]))
            out[i, j] = acc


def _flat(field: str, images) -> np.ndarray:
    a = np.asarray(images)
    if a.ndim < 2 or a.shape[0] == 0:
        fail(field, "a stack of images (n, ...) with n >= 1", f"shape {a.shape}")
    if a.dtype != np.uint8:
        fail(field, "uint8 images (e.g. from biosim.vpr.preprocess.preprocess)", f"dtype {a.dtype}")
    return np.ascontiguousarray(a.reshape(a.shape[0], -1))


def sad_similarity(ref_images, query_images) -> np.ndarray:
    """Negative mean absolute pixel difference, reference x query (float64, in [-255, 0]).

    ``ref_images`` (n_ref, ...) and ``query_images`` (n_query, ...) are uint8 stacks of the
    same image shape (typically patch-normalised 28x28, :func:`biosim.vpr.preprocess.preprocess`).
    """
    r = _flat("ref_images", ref_images)
    q = _flat("query_images", query_images)
    if r.shape[1] != q.shape[1]:
        fail("query_images", f"images of the reference shape {np.shape(ref_images)[1:]}",
             f"shape {np.shape(query_images)[1:]}")
    out = np.empty((r.shape[0], q.shape[0]), np.int64)
    with keep_torch_threads():  # numba's OpenMP threads would reset torch's
        _sad(r, q, out)
    return -out / r.shape[1]


def sequence_match(similarity, length: int) -> np.ndarray:
    """Sequence matching: ``out[i, j]`` = sum of ``similarity[i - k, j - k]`` for k = 0 .. L-1
    (the L most recent reference/query pairs along a diagonal, both traverses at the same
    speed). Near the first row/column, where fewer than L pairs exist, the mean of the available
    ones times L. ``length = 1`` returns a copy. Same shape as ``similarity`` (reference x query).
    """
    s = array("similarity", similarity, ndim=2)
    length = integer("length", length, low=1)
    out = np.zeros_like(s)
    count = np.zeros(s.shape)
    for k in range(min(length, *s.shape)):
        out[k:, k:] += s[:s.shape[0] - k, :s.shape[1] - k]
        count[k:, k:] += 1.0
    return out * (length / count)
