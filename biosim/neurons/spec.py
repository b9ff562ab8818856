"""The neuron models that TOML specs can name: ``model = "izhikevich"`` and ``model = "lif"``
(registered with :mod:`biosim.core.spec` when :mod:`biosim.neurons` is imported)."""
from __future__ import annotations

from biosim.core.spec import BOOL, NUM, STR, register_population_model
from biosim.core.validation import fail
from biosim.neurons.izhikevich import PRESETS, SCHEMES, Izhikevich
from biosim.neurons.lif import LIF

IZHIKEVICH = {
    "preset": (STR, tuple(PRESETS)), "heterogeneity": (STR, ("excitatory", "inhibitory")),
    "scheme": (STR, SCHEMES), "a": (NUM, None), "b": (NUM, None), "c": (NUM, None),
    "d": (NUM, None), "v0": (NUM, None), "v_peak": (NUM, None),
}
LIF_FIELDS = {
    "tau_m": (NUM, "pos"), "v_rest": (NUM, None), "v_reset": (NUM, None),
    "v_thresh": (NUM, None), "R": (NUM, None), "refractory": (NUM, "nonneg"),
    "conductance": (BOOL, None), "v0": (NUM, None),
}


def build_izhikevich(n, name, table) -> Izhikevich:
    if "preset" in table and "heterogeneity" in table:
        fail("preset", "either preset or heterogeneity (the 2003 draw sets its own a-d; "
                       "give a-d to override them)", "both")
    kw = {k: table[k] for k in ("a", "b", "c", "d", "v0", "v_peak", "scheme") if k in table}
    if "heterogeneity" in table:
        return Izhikevich.heterogeneous(n, table["heterogeneity"], name=name, **kw)
    if "preset" in table:
        return Izhikevich.preset(table["preset"], n, name=name, **kw)
    return Izhikevich(n, name=name, **kw)


def build_lif(n, name, table) -> LIF:
    return LIF(n, name=name, **{k: v for k, v in table.items() if k in LIF_FIELDS})


register_population_model(
    "izhikevich", build_izhikevich, IZHIKEVICH,
    max_dt=lambda t: 1.0 if t.get("scheme", "published") == "published" else 0.5)
register_population_model("lif", build_lif, LIF_FIELDS,
                          max_dt=lambda t: 0.5 * t.get("tau_m", 20.0))
