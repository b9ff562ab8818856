"""Grids: Cartesian order, ranges, seeded samples, CLI value syntax, bad input."""

import numpy as np
import pytest

import biosim.sweep as sw
from biosim.core.validation import BiosimError
from biosim.sweep.grid import point_key, points


def test_cartesian_last_axis_fastest():
    pts = sw.cartesian({"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(pts) == 6
    assert pts[:3] == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"}]
    assert sw.cartesian({"a": 0.5}) == [{"a": 0.5}]


def test_ranges_match_numpy():
    """Log and linear ranges against numpy.geomspace / linspace (endpoints included)."""
    assert sw.logspace(1e-4, 1e-1, 7) == pytest.approx(np.geomspace(1e-4, 1e-1, 7), rel=1e-12)
    assert sw.logspace(1e-4, 1e-1, 4)[1] == pytest.approx(1e-3, rel=1e-12)
    assert sw.linspace(0, 1, 5) == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_parse_values():
    assert sw.parse_values("f", "20,50,100") == [20, 50, 100]
    assert sw.parse_values("f", "1e-4:1e-1:log:4") == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])
    assert sw.parse_values("f", "0:1:lin:3") == sw.parse_values("f", "0:1:3") == [0, 0.5, 1]
    assert sw.parse_values("f", "0.5") == [0.5]
    for bad in ("", "a,b", "1:2", "1:2:cube:3", "nan", "0:1:log:3"):
        with pytest.raises(BiosimError, match=r"^(f|start)"):
            sw.parse_values("f", bad)


def test_random_points_seeded_and_in_range():
    ranges = {"eta": (1e-4, 1e-1, "log"), "w": (20, 100)}
    p1, p2 = sw.random_points(ranges, 200, seed=3), sw.random_points(ranges, 200, seed=3)
    assert p1 == p2 != sw.random_points(ranges, 200, seed=4)
    eta = np.array([p["eta"] for p in p1])
    assert eta.min() >= 1e-4 and eta.max() <= 1e-1
    # log-uniform: the median of log10(eta) is near the middle, -2.5 (sd of median ~0.08)
    assert abs(np.median(np.log10(eta)) + 2.5) < 0.3
    with pytest.raises(BiosimError, match="ranges\\['eta'\\]"):
        sw.random_points({"eta": (0, 1, "log")}, 3)


@pytest.mark.parametrize("grid, field", [({}, "grid"), ({"a": []}, "grid\\['a'\\]"),
                                         ({"a": [1, float("nan")]}, "grid\\['a'\\]"),
                                         ({"a": [[1]]}, "grid\\['a'\\]")])
def test_empty_or_bad_grid_is_an_error(grid, field):
    with pytest.raises(BiosimError, match=f"^{field}: expected"):
        points(grid=grid)


def test_samples_checks():
    assert points(samples=[{"a": np.float64(1.5)}, {"a": np.int64(2)}]) == [{"a": 1.5}, {"a": 2}]
    for samples, field in (([], "samples"), ([{"a": 1}, {"b": 2}], "samples\\[1\\]")):
        with pytest.raises(BiosimError, match=f"^{field}"):
            points(samples=samples)
    with pytest.raises(BiosimError, match="exactly one"):
        points(grid={"a": [1]}, samples=[{"a": 1}])


def test_point_key_ignores_dict_order():
    assert point_key({"a": 1, "b": 2.0}, 3) == point_key({"b": 2.0, "a": 1}, 3)
    assert point_key({"a": 1}, 0) != point_key({"a": 1.0}, 0)  # int and float differ
