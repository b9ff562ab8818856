import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def nordland_dir():
    """Real Nordland frames (../shared/data/nordland_trimmed or $BIOSIM_NORDLAND)."""
    path = Path(os.environ.get("BIOSIM_NORDLAND", ROOT.parent / "shared/data/nordland_trimmed"))
    if not path.is_dir():
        pytest.skip(f"Nordland frames not found at {path}; set BIOSIM_NORDLAND")
    return path
