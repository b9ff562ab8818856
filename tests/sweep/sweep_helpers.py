"""Functions swept by the tests: importable, so process pools and Dask workers can load them."""
import math
import os
import signal
import time

import numpy as np

from biosim.core.validation import BiosimError


def toy(a, b, seed):
    """A noisy function of two parameters: the noise depends only on the seed."""
    noise = np.random.default_rng(seed).normal()
    return {"y": a * math.log(b) + noise, "z": float(a) - b}


def spin(n, seed):
    """CPU-bound: ~n * 10 us of pure-Python work."""
    x = seed % 7
    for i in range(int(n) * 100):
        x = (x * 1103515245 + i) % 2147483648
    return {"x": float(x)}


def trivial(a, seed):
    return {"out": float(a)}


class Counted:
    """Appends 'a seed' to ``calls`` on every call (to count calls across processes)."""

    def __init__(self, calls, sleep=0.0, fail_unless=None, kill_at=None, die_at=None,
                 fixed=None):
        self.calls, self.sleep = str(calls), sleep
        self.fail_unless = fail_unless  # a == 2 raises unless this file exists
        self.kill_at = kill_at  # a == kill_at SIGKILLs its own process once (marker file)
        self.die_at, self.fixed = die_at, fixed  # a == die_at: os._exit(7) unless fixed exists

    def __call__(self, a, seed):
        with open(self.calls, "a") as f:
            f.write(f"{a} {seed}\n")
        time.sleep(self.sleep)
        if self.fail_unless is not None and a == 2 and not os.path.exists(self.fail_unless):
            raise ValueError("point a=2 is broken")
        if self.kill_at is not None and a == self.kill_at:
            marker = self.calls + ".killed"
            if not os.path.exists(marker):
                open(marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
        if self.die_at is not None and a == self.die_at and not (
                self.fixed is not None and os.path.exists(self.fixed)):
            os._exit(7)
        return {"y": 2.0 * a}

    def counts(self):
        with open(self.calls) as f:
            lines = f.read().split()
        return {int(a): lines[::2].count(a) for a in set(lines[::2])}


def bad_metric(a, seed):
    return {"y": "high"}


# --- a stand-in for biosim.core.spec (load_spec / override / evaluate) -------------------
SPEC = {"name": "toy", "readout": {"eta": 0.01, "mode": "delta"}, "gate": {"width": 50}}


def load_spec(path_or_name):
    return {k: dict(v) if isinstance(v, dict) else v for k, v in SPEC.items()}


def override(spec, field, value):
    *path, last = field.split(".")
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in spec.items()}
    node = out
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or last not in node:
        raise BiosimError(f"{field}: unknown spec field")
    if isinstance(node[last], str) or isinstance(value, str):
        raise BiosimError(f"{field}: expected a numeric field and value, got {value!r}")
    node[last] = value
    return out


def evaluate(spec, seed):
    noise = np.random.default_rng(seed).uniform()
    return {"adaptation_trials": 10 * spec["gate"]["width"] * spec["readout"]["eta"] + noise,
            "accuracy": 1.0 - spec["readout"]["eta"]}


def install_fake_spec(monkeypatch):
    """Make ``biosim.core.spec`` the stand-in above (forked pool workers inherit it)."""
    import sys
    import types

    module = types.ModuleType("biosim.core.spec")
    module.load_spec, module.override, module.evaluate = load_spec, override, evaluate
    monkeypatch.setitem(sys.modules, "biosim.core.spec", module)
