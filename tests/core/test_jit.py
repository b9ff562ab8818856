"""numba's start-up (biosim.core.jit): the BLAS probe skipped, BLAS still there when used."""
import gc
import json
import subprocess
import sys

import numpy as np

from biosim.core.jit import gc_paused

SCRIPT = """
import json, sys
import numpy as np
import biosim
from biosim.neurons import Izhikevich
from numba import njit

net = biosim.Network(dt=1.0, seed=1)
pop = net.add(Izhikevich(10))
net.add(biosim.ConstantCurrent(pop, 10.0))
net.run(20.0)
after_run = "scipy.linalg" in sys.modules

@njit
def dot(a, b):
    return np.dot(a, b)

a = np.arange(6.0).reshape(2, 3)
print(json.dumps({"after_run": after_run, "dot": dot(a, a.T).tolist(),
                  "after_dot": "scipy.linalg" in sys.modules}))
"""


def test_kernels_run_without_scipy_linalg_and_blas_stays_available():
    out = json.loads(subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True,
                                    text=True, check=True).stdout.splitlines()[-1])
    assert out["after_run"] is False  # a run loads numba's registries, not scipy.linalg
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(out["dot"], a @ a.T)  # numba's np.dot, through scipy's BLAS
    assert out["after_dot"] is True


def test_gc_paused_restores_the_collector():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # left as it was
    finally:
        gc.enable()
