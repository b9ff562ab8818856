"""Every place recogniser on real Nordland frames: the results table of the README.

    python benchmarks/vpr_nordland.py

It is ``biosim vpr bench-nordland`` three times into one folder: summer -> winter and
winter -> summer, P = 100, 200, 400 contiguous lit places (tunnel frames dropped), SAD,
VPRSNN (standard and weighted assignment), the modular network and its ensemble, and the
VPRTempo-speed mode, each with and without sequence matching; then, as time allows on two
cores, P = 800 without the modular network and its ensemble (each module sees every reference
and every query: ~1 h per direction) and P = 1600 for SAD and VPRTempo-speed only. Metrics:
Recall@1, Recall@5, AUC, recall at 100% precision, training time per 100 places and queries
per second on this machine's CPU (one core per worker). Writes results/vpr_nordland/nordland_table.md,
nordland_results.csv and recall_vs_places.png; a rerun resumes from runs.sqlite.
``BIOSIM_BENCH_QUICK=1``: P = 20, 2 epochs, into results/vpr_nordland_quick.
Needs the Nordland frames ($BIOSIM_NORDLAND or ../shared/data/nordland_trimmed).
"""
import os
import sys

from biosim.vpr import nordland

QUICK = os.environ.get("BIOSIM_BENCH_QUICK") == "1"


def main() -> int:
    root = nordland.default_root()
    if not root.is_dir():
        print(f"Nordland frames not found at {root}; set BIOSIM_NORDLAND")
        return 0
    if QUICK:
        table = nordland.run(root, places=(20,), out="results/vpr_nordland_quick", epochs=2,
                             tempo_epochs=2, ensemble=2, workers=1)
    else:
        workers = int(os.environ.get("BIOSIM_BENCH_WORKERS", "2"))
        nordland.run(root, workers=workers)
        nordland.run(root, places=(800,), families=("sad", "vprsnn", "tempo"), workers=workers)
        table = nordland.run(root, places=(1600,), families=("sad", "tempo"), workers=workers)
    print(nordland.markdown_table(table))
    print_ratios(table)
    return 0


def print_ratios(table) -> None:
    """The paper's claims as ratios: each spiking recogniser's Recall@1 over SAD's, weighted
    minus standard assignment, and training time against VPRSNN's."""
    single = table[~table["sequence"]].set_index(["direction", "places", "method"])
    for (d, p), part in single.groupby(level=["direction", "places"]):
        r = part.droplevel(["direction", "places"])
        sad = r.loc["SAD", "R@1"]
        cells = [f"{m} {r.loc[m, 'R@1'] / sad:.2f}x SAD" for m in r.index if m != "SAD"]
        line = f"{d}, P={p}: " + ", ".join(cells)
        if {"VPRSNN weighted", "VPRSNN standard"} <= set(r.index):
            gain = r.loc["VPRSNN weighted", "R@1"] - r.loc["VPRSNN standard", "R@1"]
            line += f"; weighted - standard {gain:+.2f}"
        if {"VPRSNN weighted", "VPRTempo-speed"} <= set(r.index):
            speed = r.loc["VPRSNN weighted", "train_s"] / r.loc["VPRTempo-speed", "train_s"]
            line += f"; VPRTempo-speed trains {speed:.0f}x faster than VPRSNN"
        print(line)


if __name__ == "__main__":
    sys.exit(main())
