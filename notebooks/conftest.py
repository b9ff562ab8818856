"""Notebooks that need the real Nordland frames are skipped, with the reason, where the
frames are absent (a user's fresh clone); here and in CI they always run."""
import pytest

from biosim.vpr.datasets import nordland_root

NEEDS_NORDLAND = {"spiking_vpr_nordland.ipynb", "vpr_surrogate.ipynb"}


def pytest_collection_modifyitems(config, items):
    root = nordland_root()
    if root.is_dir():
        return
    skip = pytest.mark.skip(reason=f"Nordland frames not found at {root}; set BIOSIM_NORDLAND")
    for item in items:
        if item.path.name in NEEDS_NORDLAND:
            item.add_marker(skip)
