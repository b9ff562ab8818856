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


def generator_state(rng: np.random.Generator) -> dict:
    """A Generator's state as JSON-safe data (its large integers as strings), for files."""
    s = rng.bit_generator.state
    inner = {k: str(v) if isinstance(v, int) else v for k, v in s["state"].items()}
    return {**{k: v for k, v in s.items() if k != "state"}, "state": inner}


def set_generator_state(rng: np.random.Generator, state: dict) -> None:
    """Put ``rng`` back to a state from :func:`generator_state`."""
    inner = {k: int(v) if isinstance(v, str) else v for k, v in state["state"].items()}
    rng.bit_generator.state = {**state, "state": inner}
