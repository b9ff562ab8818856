"""biosim.core.bits, the one bit layout of the memories and the SDRs, against a plain
Python reference: bit i of a vector is bit i % 64 of word i // 64."""
import numpy as np
from numba import njit

from biosim.core import bits


def reference_pack(row, n_words):
    out = [0] * n_words
    for i, b in enumerate(row):
        if b:
            out[i // 64] |= 1 << (i % 64)
    return np.array(out, np.uint64)


@njit
def _kernel_ops(x, y, i):
    w = x.copy()
    bits.set_bit(w, i)
    on = bits.test_bit(w, i)
    bits.clear_bit(w, i)
    return on, bits.test_bit(w, i), bits.overlap(x, y), bits.lowest_bit_index(x[0] | 1 << 63)


def test_pack_unpack_and_kernels_match_the_reference():
    rng = np.random.default_rng(3)
    a = rng.random((5, 150)) < 0.3
    p = bits.pack(a)
    assert p.dtype == np.uint64 and p.shape == (5, 3)
    for r in range(5):
        np.testing.assert_array_equal(p[r], reference_pack(a[r], 3))
    assert bits.pack(a, 4).shape == (5, 4)
    np.testing.assert_array_equal(bits.unpack(p, 150), a)
    x, y = p[0], p[1]
    for i in (0, 63, 64, 149):
        on, off, ov, low = _kernel_ops(x, y, i)
        assert on == 1 and off == 0
        assert ov == int((a[0] & a[1]).sum())
        first = int(np.flatnonzero(a[0][:64])[0]) if a[0][:64].any() else 63
        assert low == first
