"""Bit-packed binary vectors, the one layout shared by the binary memories and the SDRs.

A vector of n bits is ``ceil(n / 64)`` little-endian ``uint64`` words: bit i lives in word
``i >> 6`` at position ``i & 63`` (so ``np.packbits(bitorder="little")`` viewed as ``<u8``),
padding bits zero. :func:`pack` / :func:`unpack` convert along the last axis of an array; the
``@njit`` helpers (:func:`test_bit`, :func:`set_bit`, :func:`clear_bit`, :func:`popcount64`,
:func:`lowest_bit_index`, :func:`overlap`) are for kernels that walk the words.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["words", "pack", "unpack", "popcount64", "lowest_bit_index", "test_bit",
           "set_bit", "clear_bit", "overlap"]

_ONE = np.uint64(1)
_M63 = np.uint64(63)


def words(n: int) -> int:
    """uint64 words needed for n bits."""
    return (int(n) + 63) // 64


def pack(bits, n_words: int | None = None) -> np.ndarray:
    """Pack the last axis of a bool array (length n <= 64 ``n_words``; default
    ``words(n)``) into uint64 words, shape (..., n_words)."""
    a = np.asarray(bits, dtype=bool)
    n_words = words(a.shape[-1]) if n_words is None else n_words
    pad = n_words * 64 - a.shape[-1]
    a = np.concatenate([a, np.zeros(a.shape[:-1] + (pad,), bool)], axis=-1) if pad else a
    return np.ascontiguousarray(np.packbits(a, axis=-1, bitorder="little")).view(np.uint64)


def unpack(packed, n: int) -> np.ndarray:
    """Inverse of :func:`pack`: the first n bits of each row of words as bool (..., n)."""
    u8 = np.ascontiguousarray(packed, dtype=np.uint64).view(np.uint8)
    return np.unpackbits(u8, axis=-1, count=n, bitorder="little").view(bool)


@intrinsic
def popcount64(typingctx, x):
    """Number of set bits of a uint64 (LLVM ``ctpop``: one instruction on x86-64)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


@intrinsic
def _cttz(typingctx, x):
    """Trailing zeros of a nonzero uint64 (LLVM ``cttz``: one instruction on x86-64)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], context.get_constant(types.boolean, True))

    return types.uint64(types.uint64), codegen


@njit(cache=True)
def lowest_bit_index(x):
    """Index of the lowest set bit of a nonzero uint64."""
    return np.int64(_cttz(x))


@njit(cache=True)
def test_bit(w, i):
    """Bit i (0 or 1) of the words ``w``."""
    return (w[i >> 6] >> (np.uint64(i) & _M63)) & _ONE


@njit(cache=True)
def set_bit(w, i):
    w[i >> 6] |= _ONE << (np.uint64(i) & _M63)


@njit(cache=True)
def clear_bit(w, i):
    w[i >> 6] &= ~(_ONE << (np.uint64(i) & _M63))


@njit(cache=True)
def overlap(x, y):
    """Number of bits set in both word vectors (popcount of the AND)."""
    c = 0
    for k in range(x.shape[0]):
        c += popcount64(x[k] & y[k])
    return c
