"""The Nordland results table of the README: every place recogniser on real frames, side by
side (benchmark code, not part of the library; the library keeps the loader,
:func:`biosim.vpr.datasets.load_nordland`).

    python benchmarks/vpr_nordland.py          # the README's table: three runs, below
    python benchmarks/vpr_nordland.py --places 100,200,400 --workers 2   # one table
    python benchmarks/vpr_nordland.py --help   # every option (methods, epochs, out, ...)

Without table options it runs three times into one folder: summer -> winter and winter ->
summer, P = 100, 200, 400 contiguous lit places, every method; then, as time allows on two
cores, P = 800 without the modular network and its ensemble (each module sees every
reference and every query: ~1 h per direction) and P = 1600 for SAD and VPRTempo-speed
only; it prints the paper's claims as ratios. ``BIOSIM_BENCH_QUICK=1``: P = 20, 2 epochs,
into results/vpr_nordland_quick. Needs the Nordland frames ($BIOSIM_NORDLAND or
../shared/data/nordland_trimmed).

``run`` trains and scores each recogniser on contiguous blocks of ``P`` lit places of the
Nordland railway footage (``root/<season>/images-NNNNN.png``, tunnel places dropped, see
:func:`biosim.vpr.datasets.load_nordland`): one season is the reference traverse, the other
the query traverse (summer -> winter and the reverse). Ground truth: the same frame.

Recognisers (``families``; each gives one or more table rows, each row also with sequence
matching of length ``sequence``, :func:`biosim.vpr.baselines.sequence_match`):

- ``"sad"``: SAD on patch-normalised 28x28 images (row ``SAD``);
- ``"vprsnn"``: VPRSNN (RA-L 2022): networks of 100 places and 400 excitatory neurons (one
  for P = 100, P / 100 side by side beyond), ``epochs`` epochs; one trained model scored with
  both assignments (rows ``VPRSNN standard``, ``VPRSNN weighted``);
- ``"modular"``: the modular network (ICRA 2023): modules of ``module_places`` places with
  400 neurons each and hyperactive neurons silenced (a neuron that fires for at least
  ``module_places`` of all reference images), weighted assignment (row ``Modular``), and the
  ensemble (T-RO 2024) summing the scores of ``ensemble`` differently seeded modular networks
  (row ``Ensemble of N``);
- ``"tempo"``: :class:`biosim.vpr.tempo.TempoPlaceRecognizer` with ``tempo_epochs`` epochs
  (row ``VPRTempo-speed``).

Nothing is tuned on the query traverse: the constants are the papers', except the number of
epochs (fixed by the compute budget; the papers train on two reference traverses, here there
is one, see the defaults).

Each (direction, P, family) is one point of a :func:`biosim.sweep.sweep` stored in
``out/runs.sqlite``: a rerun computes only what has not finished, and a larger ``places``
list extends the table. Timings: training time (s, preprocessing included) and query rate
(queries/s, preprocessing included) on one CPU core per worker.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from biosim.core.validation import BiosimError, choice, fail, integer, number
from biosim.vpr.datasets import nordland_root

QUICK = os.environ.get("BIOSIM_BENCH_QUICK") == "1"

FAMILIES = ("sad", "vprsnn", "modular", "tempo")
METRICS = ("R@1", "R@5", "AUC", "R@100P")
DEFAULTS = dict(offset=0, every=1, dark=20.0, epochs=20, tempo_epochs=8, module_places=25,
                ensemble=3, sequence=4, model_seed=0)
# the rows of each family, in table order
ROWS = {"sad": ("SAD",), "vprsnn": ("VPRSNN standard", "VPRSNN weighted"),
        "modular": ("Modular", "Ensemble"), "tempo": ("VPRTempo-speed",)}


def _direction(text: str) -> tuple[str, str]:
    parts = str(text).split(":")
    if len(parts) != 2 or not all(parts):
        fail("directions", "entries 'reference:query', e.g. 'summer:winter'", text)
    return parts[0], parts[1]


def _scores(sim, gt, sequence: int, label: str, train_s: float, query_s: float) -> dict:
    from biosim.vpr.baselines import sequence_match
    from biosim.vpr.metrics import summary

    out = {}
    n = sim.shape[1]
    for seq, s in ((False, sim), (True, sequence_match(sim, sequence))):
        m = summary(s, gt, ks=(1, 5))
        key = f"{label}{' + seq' if seq else ''}"
        out.update({f"{key}|{k}": float(m[k]) for k in METRICS})
        out[f"{key}|train_s"] = float(train_s)
        out[f"{key}|queries_per_s"] = float(n / query_s)
    return out


_WARM: set = set()


def _warm_up(family: str) -> None:
    """Compile (or load from numba's cache) the family's kernels on two tiny images, so that
    the timings are those of a warm process."""
    if family in _WARM:
        return
    from biosim.vpr.baselines import sad_similarity
    from biosim.vpr.preprocess import preprocess
    from biosim.vpr.recognizer import SpikingPlaceRecognizer
    from biosim.vpr.tempo import TempoPlaceRecognizer

    images = np.random.default_rng(0).integers(0, 256, (2, 32, 64), dtype=np.uint8)
    if family == "sad":
        sad_similarity(preprocess(images), preprocess(images))
    elif family == "tempo":
        TempoPlaceRecognizer(epochs=1).fit(images).predict(images)
    else:
        SpikingPlaceRecognizer(module_size=2, epochs=1, hyperactive_tau=1).fit(images).predict(
            images)
    _WARM.add(family)


def evaluate_block(root, reference: str, query: str, places: int, family: str,
                   offset: int = 0, every: int = 1, dark: float = 20.0, epochs: int = 20,
                   tempo_epochs: int = 8, module_places: int = 25, ensemble: int = 3,
                   sequence: int = 4, model_seed: int = 0) -> dict:
    """Train and score one recogniser family on one block of ``places`` lit places.

    Returns ``{"<row>|<metric>": value}`` for every row of the family (see the module
    docstring), metrics ``R@1``, ``R@5``, ``AUC``, ``R@100P`` (VPR-Tutorial convention),
    ``train_s`` and ``queries_per_s``, plus ``dark_dropped`` (tunnel places skipped inside
    the block's span).
    """
    from biosim.vpr.datasets import load_nordland
    from biosim.vpr.preprocess import preprocess

    choice("family", family, FAMILIES)
    ensemble = integer("ensemble", ensemble, low=1)
    ds = load_nordland(root, reference, query, every=every, offset=offset,
                       count=integer("places", places, low=2), drop_dark=dark)
    ref, qry, gt = ds.reference.images, ds.query.images, ds.ground_truth
    out = {"dark_dropped": float(len(ds.notes["dark_in_block"]))}
    _warm_up(family)
    if family == "sad":
        from biosim.vpr.baselines import sad_similarity

        t0 = time.perf_counter()
        r = preprocess(ref)
        t1 = time.perf_counter()
        sim = sad_similarity(r, preprocess(qry))
        out.update(_scores(sim, gt, sequence, "SAD", t1 - t0, time.perf_counter() - t1))
    elif family == "tempo":
        from biosim.vpr.tempo import TempoPlaceRecognizer

        t0 = time.perf_counter()
        model = TempoPlaceRecognizer(epochs=tempo_epochs, seed=model_seed).fit(ref)
        t1 = time.perf_counter()
        sim = model.predict(qry)
        out.update(_scores(sim, gt, sequence, "VPRTempo-speed", t1 - t0,
                           time.perf_counter() - t1))
    elif family == "vprsnn":
        from biosim.vpr.recognizer import SpikingPlaceRecognizer

        t0 = time.perf_counter()
        model = SpikingPlaceRecognizer(module_size=100, epochs=epochs, seed=model_seed).fit(ref)
        t1 = time.perf_counter()
        counts = model.query_counts(qry)
        t2 = time.perf_counter()
        for method in ("standard", "weighted"):
            t3 = time.perf_counter()
            sim = model.scores(counts, method)
            query_s = t2 - t1 + time.perf_counter() - t3
            out.update(_scores(sim, gt, sequence, f"VPRSNN {method}", t1 - t0, query_s))
    else:
        from biosim.vpr.recognizer import SpikingPlaceRecognizer

        total, train_s, query_s = None, 0.0, 0.0
        for k in range(ensemble):
            t0 = time.perf_counter()
            model = SpikingPlaceRecognizer(module_size=module_places, n_neurons=400,
                                           epochs=epochs, hyperactive_tau=module_places,
                                           seed=model_seed + k).fit(ref)
            t1 = time.perf_counter()
            sim = model.predict(qry, "weighted")
            t2 = time.perf_counter()
            train_s += t1 - t0
            query_s += t2 - t1
            if k == 0:
                out.update(_scores(sim, gt, sequence, "Modular", t1 - t0, t2 - t1))
            total = sim if total is None else total + sim
        out.update(_scores(total, gt, sequence, "Ensemble", train_s, query_s))
    return out


class _Point:
    """One (direction, P, family) of the table, picklable for the sweep's workers."""

    def __init__(self, root):
        self.root = str(root)

    def __call__(self, direction, places, family, seed=None, **config):
        try:
            import torch

            torch.set_num_threads(1)    # one core per worker, as the timings say
        except ImportError:
            pass
        reference, query = _direction(direction)
        return evaluate_block(self.root, reference, query, places, family, **config)


def run(root=None, places=(100, 200, 400), directions=("summer:winter", "winter:summer"),
        families=FAMILIES, out="results/vpr_nordland", workers: int = 1,
        progress: bool = True, **config) -> pd.DataFrame:
    """Compute (or resume) the Nordland table and write the report (see
    :func:`write_report`). ``config`` overrides :data:`DEFAULTS`. Returns the long table:
    one row per direction, P, method and sequence matching (True/False), for every point of
    this configuration in the store (earlier calls with other ``places``, ``directions`` or
    ``families`` included)."""
    from biosim.sweep import load, sweep

    root = Path(root) if root is not None else nordland_root()
    if not root.is_dir():
        fail(f"root ({root})", "the nordland_trimmed folder (summer/, winter/); set "
             "BIOSIM_NORDLAND or pass --root", "no such folder")
    unknown = set(config) - set(DEFAULTS)
    if unknown:
        fail("config", f"names among {sorted(DEFAULTS)}", sorted(unknown))
    cfg = dict(DEFAULTS, **config)
    number("dark", cfg["dark"], low=0.0)
    for key in ("every", "epochs", "tempo_epochs", "module_places", "ensemble", "sequence"):
        integer(key, cfg[key], low=1)
    places = [integer("places", p, low=2) for p in places]
    directions = [":".join(_direction(d)) for d in directions]
    families = [choice("families", f, FAMILIES) for f in families]
    if not (places and directions and families):
        fail("run", "at least one P, one direction and one family", "an empty list")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # expensive points first, so that workers finish together
    samples = [dict(direction=d, places=p, family=f, **cfg)
               for p in sorted(places, reverse=True) for f in families for d in directions]
    done = sweep(_Point(root), samples=samples, seeds=1, store=out / "runs.sqlite",
                 workers=workers, progress=progress, extend=True)
    failed = done[done["status"] != "ok"]
    if len(failed):
        r = failed.iloc[0]
        raise RuntimeError(f"{len(failed)} table point(s) failed, e.g. {r['direction']} "
                           f"P={r['places']} {r['family']}: {r['error']}")
    # the report holds every finished point of this configuration, also those of earlier
    # calls (e.g. a larger P for the cheaper families only)
    raw = load(out / "runs.sqlite")
    same = (raw["status"] == "ok") & np.logical_and.reduce(
        [raw[key] == value for key, value in cfg.items()])
    table = _long(raw[same])
    write_report(table, out)
    return table


def _long(raw: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in raw.iterrows():
        metrics = {c: r[c] for c in raw.columns if "|" in c and pd.notna(r[c])}
        for label in ROWS[r["family"]]:
            for seq in (False, True):
                key = f"{label}{' + seq' if seq else ''}"
                name = f"Ensemble of {int(r['ensemble'])}" if label == "Ensemble" else label
                row = {"direction": r["direction"].replace(":", " -> "),
                       "places": int(r["places"]), "method": name, "sequence": seq}
                row.update({m: metrics[f"{key}|{m}"]
                            for m in (*METRICS, "train_s", "queries_per_s")})
                row["train_s_per_100"] = row["train_s"] * 100.0 / row["places"]
                row["dark_dropped"] = int(r["dark_dropped"])
                rows.append(row)
    order = [name for f in FAMILIES for name in ROWS[f]]
    df = pd.DataFrame(rows)
    df["_order"] = df["method"].map(lambda m: order.index(m.split(" of ")[0]))
    df = df.sort_values(["direction", "places", "sequence", "_order"], kind="stable")
    return df.drop(columns="_order").reset_index(drop=True)


def markdown_table(table: pd.DataFrame, direction: str | None = None) -> str:
    """Markdown: one row per method (and ``+ seq``), per P the Recall@1, Recall@5, AUC and
    R@100P, then training time per 100 places and query rate at the row's largest P."""
    lines = []
    for d, part in table.groupby("direction", sort=False):
        if direction is not None and d != direction:
            continue
        ps = sorted(part["places"].unique())
        head = ["method"] + [f"P={p} R@1 / R@5 / AUC / R@100P" for p in ps] + [
            "train s per 100 places (largest P)", "queries/s (largest P)"]
        skipped = part.groupby("places")["dark_dropped"].first()
        dark = ", ".join(f"{n} at P={p}" for p, n in skipped.items())
        lines += [f"**{d}** (same frame = match; tunnel places skipped inside the block: {dark})",
                  "",
                  "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for (method, seq), rows in part.groupby(["method", "sequence"], sort=False):
            cells = [method + (" + seq" if seq else "")]
            for p in ps:
                r = rows[rows["places"] == p]
                cells.append(" / ".join(f"{r[m].iloc[0]:.2f}" for m in METRICS)
                             if len(r) else "-")
            big = rows[rows["places"] == rows["places"].max()].iloc[0]
            cells += [f"{big['train_s_per_100']:.2f}", f"{big['queries_per_s']:.0f}"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot_recall_vs_places(table: pd.DataFrame, axes=None):
    """Recall@1 against the number of places, one panel per direction; one colour per
    method, solid without and dashed with sequence matching. Returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    dirs = list(dict.fromkeys(table["direction"]))
    if axes is None:
        _, axes = plt.subplots(1, len(dirs), figsize=(5 * len(dirs), 4.2), squeeze=False,
                               sharey=True)
        axes = axes[0]
    methods = list(dict.fromkeys(table["method"]))
    colors = {m: f"C{k}" for k, m in enumerate(methods)}
    ps = sorted(table["places"].unique())
    for ax, d in zip(axes, dirs):
        part = table[table["direction"] == d]
        for (method, seq), rows in part.groupby(["method", "sequence"], sort=False):
            rows = rows.sort_values("places")
            ax.plot(rows["places"], rows["R@1"], "--" if seq else "-", marker="o", ms=3,
                    color=colors[method])
        ax.set_xscale("log")
        ax.set_xticks(ps, [str(p) for p in ps])
        ax.minorticks_off()
        ax.set_xlabel("places P")
        ax.set_title(d)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Recall@1")
    handles = [Line2D([], [], color=colors[m], label=m) for m in methods] + [
        Line2D([], [], color="k", label="single frames"),
        Line2D([], [], color="k", ls="--", label="with sequence matching")]
    axes[0].figure.legend(handles=handles, loc="lower center", ncol=4, fontsize=8,
                          frameon=False)
    axes[0].figure.subplots_adjust(left=0.07, right=0.98, bottom=0.27, wspace=0.08)
    return axes


def write_report(table: pd.DataFrame, out) -> dict:
    """Write ``nordland_results.csv`` (long table), ``nordland_table.md`` and
    ``recall_vs_places.png`` into ``out`` (atomically); returns their paths."""
    import matplotlib.pyplot as plt

    from biosim.core.io import atomic_path

    out = Path(out)
    paths = {"csv": out / "nordland_results.csv", "markdown": out / "nordland_table.md",
             "figure": out / "recall_vs_places.png"}
    with atomic_path(paths["csv"]) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(paths["markdown"]) as tmp:
        Path(tmp).write_text(markdown_table(table))
    axes = plot_recall_vs_places(table)
    fig = axes[0].figure
    with atomic_path(paths["figure"]) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return paths


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


# ------------------------------------------------------------------ command line
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", help="nordland_trimmed folder (default: $BIOSIM_NORDLAND or "
                   "../shared/data/nordland_trimmed)")
    p.add_argument("--places", help="comma-separated block sizes P (one table; default: "
                   "the README's three runs)")
    p.add_argument("--directions", default="summer:winter,winter:summer",
                   help="comma-separated reference:query seasons")
    p.add_argument("--methods", default=",".join(FAMILIES),
                   help="comma-separated families: " + ", ".join(FAMILIES))
    for key, value in DEFAULTS.items():
        p.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value,
                       help=f"default {value}")
    p.add_argument("--workers", type=int,
                   default=int(os.environ.get("BIOSIM_BENCH_WORKERS", "2")),
                   help="processes (one core each)")
    p.add_argument("--out", default="results/vpr_nordland",
                   help="folder: runs.sqlite (resume), nordland_results.csv, "
                   "nordland_table.md, recall_vs_places.png")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)

    def items(text):
        return [t.strip() for t in text.split(",") if t.strip()]

    root = Path(args.root) if args.root else nordland_root()
    try:
        if args.places is not None:
            try:
                places = [int(p) for p in items(args.places)]
            except ValueError:
                fail("--places", "comma-separated integers, e.g. 100,200,400", args.places)
            config = {key: getattr(args, key) for key in DEFAULTS}
            table = run(root, places, items(args.directions), items(args.methods), args.out,
                        args.workers, not args.no_progress, **config)
        elif not root.is_dir():
            print(f"Nordland frames not found at {root}; set BIOSIM_NORDLAND")
            return 0
        elif QUICK:
            table = run(root, places=(20,), out="results/vpr_nordland_quick", epochs=2,
                        tempo_epochs=2, ensemble=2, workers=1)
        else:
            run(root, out=args.out, workers=args.workers)
            run(root, places=(800,), families=("sad", "vprsnn", "tempo"), out=args.out,
                workers=args.workers)
            table = run(root, places=(1600,), families=("sad", "tempo"), out=args.out,
                        workers=args.workers)
    except BiosimError as e:
        print(f"vpr_nordland: error: {e}", file=sys.stderr)
        return 2
    print(markdown_table(table))
    print_ratios(table)
    out = Path("results/vpr_nordland_quick" if QUICK and args.places is None else args.out)
    print(f"wrote {out / 'nordland_table.md'}, nordland_results.csv and recall_vs_places.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
