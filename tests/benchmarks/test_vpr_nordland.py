"""The Nordland results table of the README (benchmarks/vpr_nordland.py) on real frames
(../shared/data/nordland_trimmed; skipped where absent): recognition floors on the first
P = 100 block (the earlier single-block table's, now a validation span), the test blocks,
and the command line."""
import importlib.util
import sys
from pathlib import Path

import pytest

from biosim.core.validation import BiosimError

ROOT = Path(__file__).resolve().parents[2]


def _load_benchmark():
    import cloudpickle

    spec = importlib.util.spec_from_file_location("vpr_nordland",
                                                  ROOT / "benchmarks" / "vpr_nordland.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    # the sweep's workers cannot import benchmarks/: they get the table's points by value
    cloudpickle.register_pickle_by_value(module)
    return module


bench = _load_benchmark()


#: VPRSNN at its RA-L time step (Brian2's 0.1 ms): there the block trains into a firing
#: network on every seed measured (0-3); at the table's 0.5 ms about one seed in four
#: trains it silent (thresholds ~56 mV, no spike per query, R@1 0.01 = chance) on either
#: random stream, so a single-seed floor at 0.5 ms tests the seed more than the model
#: (vprrng's note). 20 epochs: at 10 the standard row is at 0.05.
SNN = {"dt": 0.1}


@pytest.fixture(scope="module")
def block_scores(nordland_dir):
    """The first P = 100 summer -> winter block (offset 0), at the table's settings (VPRSNN
    at dt 0.1 ms, :data:`SNN`)."""
    return {family: bench.evaluate_block(nordland_dir, "summer", "winter", 100, family,
                                         snn_params=SNN)
            for family in ("sad", "vprsnn", "tempo")}


# Floors: measured value minus a margin of about 40% (VPRSNN: the lowest of seeds 0-3 minus
# about 20%, still 7x chance of 0.01). Everything is seeded, so on one machine the numbers
# repeat exactly; the margins absorb other BLAS/numba builds, and a change that breaks
# recognition falls far below them.
FLOORS = {("sad", "SAD"): 0.30,                        # measured 0.37
          ("sad", "SAD + seq"): 0.55,                  # measured 0.72
          ("vprsnn", "VPRSNN weighted"): 0.08,         # seed 0: 0.17 (seeds 0-3: 0.10-0.17)
          ("vprsnn", "VPRSNN standard"): 0.07,         # seed 0: 0.09 (seeds 0-3: 0.09-0.15)
          ("tempo", "VPRTempo-speed"): 0.18}           # measured 0.29 (earlier defaults: 0.21)


@pytest.mark.parametrize("family, row", list(FLOORS))
def test_recall_floor_on_real_frames(block_scores, family, row):
    assert block_scores[family][f"{row}|R@1"] >= FLOORS[family, row]


def test_vprsnn_block_trains_a_firing_network(block_scores):
    """The trained network still answers: spikes per labelling image and per query (seeds
    0-3 at dt 0.1 ms: 31-32 and 59-64; a silent network, as 0.5 ms trains on one seed in
    four, has 0) and thresholds below the silent network's ~56 mV (measured 32.6-32.9)."""
    s = block_scores["vprsnn"]
    assert s["label_spikes"] >= 10 and s["query_spikes"] >= 10
    assert s["theta_mean"] < 45.0


def test_test_blocks_avoid_the_validation_spans():
    """The table's blocks never overlap the lit places used for choosing parameters, are
    disjoint and spread along the route (3,351 lit places)."""
    offs = bench.block_offsets(3351, 100, 5)
    assert offs == [100, 900, 1700, 2400, 3200]
    assert bench.block_offsets(3351, 400, 5) == [400, 800, 1600, 2000, 2800]
    for p in (100, 400):
        for a in bench.block_offsets(3351, p, 5):
            assert all(a + p <= lo or a >= hi for lo, hi in bench.VALIDATION)
    with pytest.raises(BiosimError, match="^blocks"):
        bench.block_offsets(3351, 400, 6)


def test_table_command_writes_the_table_and_resumes(nordland_dir, tmp_path, capsys):
    """`benchmarks/vpr_nordland.py --places ...` on a tiny configuration: the Markdown it
    prints is the file it writes (means and standard deviations over blocks and seeds), a
    rerun reads the finished points from runs.sqlite, bad input is one line."""
    import pandas as pd

    main = bench.main
    argv = ["--root", str(nordland_dir), "--places", "10,20", "--workers", "1",
            "--methods", "sad,tempo", "--tempo-epochs", "1", "--out", str(tmp_path),
            "--blocks", "2", "--seeds", "2", "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    table = (tmp_path / "nordland_table.md").read_text()
    assert table in printed and "| SAD + seq |" in table and " ± " in table
    assert (tmp_path / "recall_vs_places.png").stat().st_size > 10_000
    first = pd.read_csv(tmp_path / "nordland_results.csv")
    # directions x P x blocks x (SAD: 1 seed, Tempo: 2 seeds) x sequence
    assert len(first) == 2 * 2 * 2 * 3 * 2
    assert set(first["direction"]) == {"summer -> winter", "winter -> summer"}
    assert sorted(set(first["offset"])) == [100, 3320, 3340]
    # the printed mean and sd are those of the stored runs
    r = first[(first["method"] == "VPRTempo-speed") & ~first["sequence"] & (first["places"] == 20)
              & (first["direction"] == "summer -> winter")]["R@1"]
    assert len(r) == 4 and f"{r.mean():.3f} ± {r.std():.3f}" in table
    assert main(argv) == 0
    again = pd.read_csv(tmp_path / "nordland_results.csv")
    pd.testing.assert_frame_equal(first, again)   # same points, timings included: not rerun
    capsys.readouterr()
    assert main([*argv[:7], "sad,snn", *argv[8:]]) == 2
    assert "families" in capsys.readouterr().err
