"""Write docs/performance.md (the table of ratios) and docs/figures/scaling.png (ns per
synaptic event against N) from the rows the benchmarks wrote to results/bench.csv.

The table's data is kept, versioned, in docs/performance.csv. By default the new rows
replace the rows of the same case there and the others stay, so rerunning one benchmark
(``python benchmarks/bench_scaling.py 1e6 && python benchmarks/report.py``) updates its
rows only; ``--replace`` (what ``make bench`` uses) writes this run's rows alone."""
from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from _common import CSV, FIELDS  # noqa: E402

from biosim.core.io import atomic_path  # noqa: E402

TABLE = ROOT / "docs" / "performance.csv"


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{k: r.get(k) or "" for k in FIELDS} for r in csv.DictReader(f)]


def _key(r: dict) -> tuple:
    return r["benchmark"], r["case"], r["biosim"], r["peer"]


def merge(old: list[dict], new: list[dict]) -> list[dict]:
    """``old`` in its order with each case that ``new`` has replaced by new's (last) row; new
    cases after, in new's order."""
    fresh = {_key(r): r for r in new}                # the last row of a case counts
    rows = [fresh.pop(_key(r), r) for r in old]
    return rows + list(fresh.values())


def main(replace=False, table=TABLE, out=ROOT / "docs" / "performance.md",
         fig=ROOT / "docs" / "figures" / "scaling.png"):
    new = _read(CSV)
    rows = merge([], new) if replace else merge(_read(table), new)
    if not rows:
        sys.exit(f"report: no benchmark rows in {CSV}; run a benchmark first "
                 "(python benchmarks/bench_*.py, or make bench)")
    with atomic_path(table) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        w.writerows(rows)
    quick = any(r["quick"] == "1" for r in rows)
    lines = [
        "# Performance",
        "",
        f"Written by `benchmarks/report.py` from `docs/performance.csv` (`make bench` reruns "
        f"every case), {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
        f"{'; cases marked * ran at QUICK sizes (BIOSIM_BENCH_QUICK=1)' if quick else ''}. "
        "Ratio = peer time / "
        "biosim time (> 1: biosim is faster), median [min-max] over alternating rounds, "
        "CPU time against CPU time, one core unless the case says otherwise. Each peer is "
        "the strongest straightforward implementation (see each benchmark's docstring); "
        "`load` is the machine's 1-minute load average when the row was written: on a "
        "shared machine, compare ratios, not times.",
        "",
        "| benchmark | case | biosim | peer | ratio | biosim | peer | load | date |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        case = r["case"] + (" *" if r["quick"] == "1" else "")
        lines.append(f"| {r['benchmark']} | {case} | {r['biosim']} | {r['peer']} | "
                     f"**{float(r['ratio']):.2f}x** [{float(r['ratio_min']):.2f}-"
                     f"{float(r['ratio_max']):.2f}] | {float(r['biosim_s']):.3g} {r['unit']} | "
                     f"{float(r['peer_s']):.3g} {r['unit']} | {r['load']} | {r['date']} |")
    scaling = [r for r in rows if r["benchmark"] == "scaling" and r["unit"] == "ns/event"]
    if scaling:
        plot_scaling(scaling, fig)
        lines += ["", "## Sparse networks: ns per synaptic event against N", "",
                  f"![scaling](figures/{fig.name})", ""]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {table}, {out}" + (f" and {fig}" if scaling else ""))


def plot_scaling(rows, fig):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {}
    for r in rows:
        n = float(r["case"].split("N=")[1].split()[0])
        series.setdefault(r["biosim"], {})[n] = float(r["biosim_s"])
        series.setdefault(r["peer"], {})[n] = float(r["peer_s"])
    f, ax = plt.subplots(figsize=(5, 3.5))
    for name, pts in series.items():
        n = sorted(pts)
        ax.plot(n, [pts[k] for k in n], "o-", label=name)
    ax.set(xscale="log", yscale="log", xlabel="neurons N (100 synapses each)",
           ylabel="CPU ns per synaptic event")
    ax.legend(frameon=False)
    f.tight_layout()
    fig.parent.mkdir(parents=True, exist_ok=True)
    f.savefig(fig, dpi=120)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replace", action="store_true",
                        help="the table holds this run's rows only (make bench)")
    main(replace=parser.parse_args().replace)
