"""Smoke test of ``benchmarks/bench_vpr_gpu.py`` on a machine without CUDA: it says that it
skips the GPU part, then times its tiny CPU version (torch eager and numba) and prints the
summary table. (With CUDA the script itself is the check: docs in its docstring.)"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.torch
@pytest.mark.skipif(torch.cuda.is_available(), reason="with CUDA the bench runs minutes")
def test_bench_vpr_gpu_runs_its_cpu_version():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BIOSIM_BENCH_QUICK": "1"}
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_vpr_gpu.py")],
                         capture_output=True, text=True, env=env, timeout=600, check=True).stdout
    assert out.startswith("CUDA not available: GPU part skipped")
    rows = dict(re.findall(r"^\s+(\d+)\s+([\d.]+\s+[\d.]+)\s+[\d.]+x$", out, re.M))
    assert set(rows) == {"1", "2"}, out
    assert all(float(v) > 0 for r in rows.values() for v in r.split()), out
    assert "needs CUDA" in out
