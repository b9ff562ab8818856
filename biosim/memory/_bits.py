"""Bit-packing helpers shared by the binary memories: rows of uint64 words, bit p of word w
is unit 64 w + p (little-endian, so ``np.packbits(bitorder="little")`` viewed as ``<u8``)."""
from __future__ import annotations

import numpy as np
from numba import njit

# de Bruijn sequence for the index of the lowest set bit of a uint64
_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN_TABLE = np.zeros(64, np.int64)
for _i in range(64):
    _DEBRUIJN_TABLE[((1 << _i) * 0x03F79D71B4CB0A89 & 0xFFFFFFFFFFFFFFFF) >> 58] = _i


@njit(cache=True)
def lowest_bit_index(x):
    """Index of the lowest set bit of a nonzero uint64."""
    bit = x & (~x + np.uint64(1))
    return _DEBRUIJN_TABLE[(bit * _DEBRUIJN) >> np.uint64(58)]


def words(n: int) -> int:
    """uint64 words needed for n bits."""
    return (n + 63) // 64


def pack(bits_bool: np.ndarray, n_words: int) -> np.ndarray:
    """Pack the last axis of a bool array (length <= 64 n_words) into uint64 words."""
    a = np.asarray(bits_bool, dtype=bool)
    pad = n_words * 64 - a.shape[-1]
    a = np.concatenate([a, np.zeros(a.shape[:-1] + (pad,), bool)], axis=-1) if pad else a
    return np.ascontiguousarray(np.packbits(a, axis=-1, bitorder="little")).view("<u8")


def unpack(words_u64: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`pack`: the first n bits of each row as bool."""
    u8 = np.ascontiguousarray(words_u64).view(np.uint8)
    return np.unpackbits(u8, axis=-1, count=n, bitorder="little").view(bool)
