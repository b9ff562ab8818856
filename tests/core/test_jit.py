"""numba's start-up (biosim.core.jit): the BLAS probe skipped, BLAS still there when used."""
import subprocess
import sys

import numpy as np

SCRIPT = """
import sys
import numpy as np
import biosim
from numba import njit

net = biosim.Network(dt=1.0, seed=1)
from biosim.neurons import Izhikevich
pop = net.add(Izhikevich(10))
net.add(biosim.ConstantCurrent(pop, 10.0))
net.run(20.0)
loaded = "scipy.linalg" in sys.modules

@njit
def dot(a, b):
    return np.dot(a, b)

a = np.arange(6.0).reshape(2, 3)
print(loaded, repr(dot(a, a.T).tolist()), "scipy.linalg" in sys.modules)
"""


def test_kernels_run_without_scipy_linalg_and_blas_stays_available():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True).stdout.split(" ", 1)
    loaded_before, rest = out[0], out[1].rsplit(" ", 1)
    assert loaded_before == "False"  # a run loads numba's registries, not scipy.linalg
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(eval(rest[0]), a @ a.T, rtol=0, atol=0)  # numba's np.dot: BLAS
    assert rest[1].strip() == "True"


def test_gc_paused_restores_the_collector():
    import gc

    from biosim.core.jit import gc_paused

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
