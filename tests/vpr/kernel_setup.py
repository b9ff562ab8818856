"""The VPRSNN kernel's inputs from a module and its params, as the tests run it directly."""
from biosim.vpr import snn_numba as sn


def fresh_kernel(p, mod, n_in: int, n_e: int):
    """(constants, trace tables, Module, State) of a module (``W``, ``theta``, ``delays``;
    W and theta copied) in the state after the initial rest."""
    k = sn.kernel_constants(p)
    tabs = sn.Tables(*(sn.trace_table(t, p.dt) for t in (p.tau_pre, p.tau_post1, p.tau_post2)))
    st = sn.fresh_state(n_in, n_e, p)
    m = sn.Module(mod["W"].copy(), mod["theta"].copy(), mod["delays"],
                  *sn.delay_buckets(mod["delays"], p.delay_steps))
    return k, tabs, m, sn.State(*(st[f] for f in sn.State._fields))
