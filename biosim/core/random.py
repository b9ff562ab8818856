"""Seeds: every random thing in biosim draws from a NumPy ``Generator``."""
from __future__ import annotations

import numpy as np

from biosim.core import validation as check


def make_rng(seed=None) -> np.random.Generator:
    """A Generator from an int, a SeedSequence, a Generator (returned as is) or None."""
    if isinstance(check.seed("seed", seed), np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def spawn_seeds(seed, n: int) -> list[np.random.SeedSequence]:
    """n independent child seeds; the i-th child does not depend on n."""
    check.seed("seed", seed)
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return ss.spawn(n)
