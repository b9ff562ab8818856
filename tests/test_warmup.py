"""``python -m biosim.warmup`` (run by ``make``) fills numba's cache so that a user's first run
loads the kernels instead of compiling them: checked in a fresh process with an empty cache
directory, through numba's own cache statistics."""
import os
import subprocess
import sys

import pytest

CHECK = """
import biosim as bs
from biosim.neurons import Izhikevich
from biosim.neurons.fused import _run_steps
from biosim.oscillators import simulate
import numpy as np
net = bs.Network(dt=1.0, seed=5)
e = net.add(Izhikevich.heterogeneous(80, "excitatory"))
net.connect(e, e, bs.fixed_probability(0.01), weight=bs.uniform(0.0, 0.5))
net.add(bs.GaussianNoise(e, 5.0))
net.monitor(e)
net.run(10.0)
simulate(np.zeros(5), np.ones(5), 0.1, 3, K=1.0)
print(sum(_run_steps.stats.cache_hits.values()), sum(_run_steps.stats.cache_misses.values()))
"""


@pytest.mark.slow
def test_warmup_fills_the_cache_a_fresh_process_uses(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-m", "biosim.warmup", "neurons", "oscillators"], env=env,
                   check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", CHECK], env=env, check=True,
                         capture_output=True, text=True)
    hits, misses = out.stdout.split()[-2:]
    assert int(hits) >= 1 and int(misses) == 0, out.stdout
