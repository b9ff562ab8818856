"""Write docs/performance.md (the table of ratios) and docs/figures/scaling.png (ns per
synaptic event against N) from results/bench.csv, which ``make bench`` fills."""
from __future__ import annotations

import csv
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from _common import CSV  # noqa: E402


def main(out=ROOT / "docs" / "performance.md", fig=ROOT / "docs" / "figures" / "scaling.png"):
    with open(CSV) as f:
        rows = list(csv.DictReader(f))
    quick = any(r["quick"] == "1" for r in rows)
    lines = [
        "# Performance",
        "",
        f"Written by `make bench` (`benchmarks/report.py`) on {time.strftime('%Y-%m-%d')}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
        f"{'; cases marked * ran at QUICK sizes (BIOSIM_BENCH_QUICK=1)' if quick else ''}. "
        "Ratio = peer time / "
        "biosim time (> 1: biosim is faster), median [min-max] over alternating rounds, "
        "CPU time against CPU time, one core unless the case says otherwise. Each peer is "
        "the strongest straightforward implementation (see each benchmark's docstring); "
        "`load` is the machine's 1-minute load average when the row was written: on a "
        "shared machine, compare ratios, not times.",
        "",
        "| benchmark | case | biosim | peer | ratio | biosim | peer | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        case = r["case"] + (" *" if r["quick"] == "1" else "")
        lines.append(f"| {r['benchmark']} | {case} | {r['biosim']} | {r['peer']} | "
                     f"**{float(r['ratio']):.2f}x** [{float(r['ratio_min']):.2f}-"
                     f"{float(r['ratio_max']):.2f}] | {float(r['biosim_s']):.3g} {r['unit']} | "
                     f"{float(r['peer_s']):.3g} {r['unit']} | {r['load']} |")
    scaling = [r for r in rows if r["benchmark"] == "scaling" and r["unit"] == "ns/event"]
    if scaling:
        plot_scaling(scaling, fig)
        lines += ["", "## Sparse networks: ns per synaptic event against N", "",
                  f"![scaling](figures/{fig.name})", ""]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}" + (f" and {fig}" if scaling else ""))


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
    main()
