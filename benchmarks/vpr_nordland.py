"""The Nordland results table of the README: every place recogniser on real frames, side by
side, as the field reports results: means and standard deviations over several disjoint blocks
of places and several model seeds, both directions (benchmark code, not part of the library;
the library keeps the loader, :func:`biosim.vpr.datasets.load_nordland`).

    python benchmarks/vpr_nordland.py          # the README's table (resumes; ~1 h of CPU)
    python benchmarks/vpr_nordland.py --places 100 --blocks 5 --seeds 3 --methods sad,tempo
    python benchmarks/vpr_nordland.py --help   # every option (methods, epochs, out, ...)

Without table options it computes P = 100 for SAD, VPRSNN and VPRTempo-speed, then P = 400
for SAD and VPRTempo-speed (VPRSNN's 4 networks of 100 places per P = 400 block cost ~4x
the CPU); ``--blocks`` disjoint test blocks per P, ``--seeds`` model seeds per block (SAD is
deterministic: one). ``BIOSIM_BENCH_QUICK=1``: P = 20, 2 blocks, 2 seeds, 2 epochs, into
results/vpr_nordland_quick. Needs the Nordland frames ($BIOSIM_NORDLAND or
../shared/data/nordland_trimmed).

``run`` trains and scores each recogniser on blocks of ``P`` contiguous lit places of the
Nordland railway (``root/<season>/images-NNNNN.png``, tunnel places dropped, see
:func:`biosim.vpr.datasets.load_nordland`): one season is the reference traverse, the other
the query traverse (summer -> winter and the reverse). Ground truth: the same frame.

Blocks: the lit places are cut into consecutive blocks of P; the blocks that overlap a span
used for choosing parameters (:data:`VALIDATION`: VPRTempo-speed's settings, the modular
network's tau, and the earlier single-block table at offset 0) are never test blocks;
``blocks`` of the rest are spread evenly along the route (:func:`block_offsets`).

Recognisers (``families``; each gives one or more table rows, each row also with sequence
matching of length ``sequence``, :func:`biosim.vpr.baselines.sequence_match`):

- ``"sad"``: SAD on patch-normalised 28x28 images (row ``SAD``);
- ``"vprsnn"``: VPRSNN (RA-L 2022): networks of 100 places and 400 excitatory neurons (one
  for P = 100, P / 100 side by side beyond), ``epochs`` epochs; one trained model scored with
  both assignments (rows ``VPRSNN standard``, ``VPRSNN weighted``);
- ``"modular"``: the modular network with the ICRA 2023 settings: modules of
  ``module_places`` places with 400 neurons each, ``tau_gi`` 0.5 ms, the standard
  assignment, hyperactive neurons silenced with the ``tau`` that gives the best Recall@1 on
  the validation block (lit places 200-299, same direction and seed; P = 100 only) (row
  ``Modular``), and the ensemble (T-RO 2024) summing the scores of ``ensemble`` differently
  seeded modular networks (row ``Ensemble of N``). Not in the default table (CPU budget);
- ``"tempo"``: :class:`biosim.vpr.tempo.TempoPlaceRecognizer` with ``tempo_epochs`` epochs
  (row ``VPRTempo-speed``).

Nothing is tuned on the test blocks: the constants are the papers', except the number of
epochs (fixed by the compute budget; the papers train on two reference traverses, here there
is one, see the defaults).

Each (direction, P, family, block, seed) is one point of a :func:`biosim.sweep.sweep` stored
in ``out/runs.sqlite`` and committed as soon as it is done: a rerun computes only what has not
finished, and more blocks, seeds or P extend the table. Timings: training time (s,
preprocessing included) and query rate (queries/s, preprocessing included) on one CPU core.
"""
from __future__ import annotations

import argparse
import functools
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
DEFAULTS = dict(every=1, dark=20.0, epochs=20, tempo_epochs=8, module_places=25,
                ensemble=3, sequence=4)
# the rows of each family, in table order
ROWS = {"sad": ("SAD",), "vprsnn": ("VPRSNN standard", "VPRSNN weighted"),
        "modular": ("Modular", "Ensemble"), "tempo": ("VPRTempo-speed",)}
# spans of lit places [start, stop) used for choosing parameters, never test blocks: the
# earlier single-block table (offset 0), VPRTempo-speed's settings (the three blocks of 100,
# see biosim/vpr/tempo.py) and the modular network's tau (200-299)
VALIDATION = ((0, 100), (200, 300), (1400, 1500), (2600, 2700))
TAU_BLOCK = 200          # offset of the modular network's validation block (P = 100)


def _direction(text: str) -> tuple[str, str]:
    parts = str(text).split(":")
    if len(parts) != 2 or not all(parts):
        fail("directions", "entries 'reference:query', e.g. 'summer:winter'", text)
    return parts[0], parts[1]


def block_offsets(n_lit: int, places: int, blocks: int) -> list[int]:
    """Offsets (in lit places) of ``blocks`` test blocks of ``places`` places: the route's
    ``n_lit`` lit places cut into consecutive blocks, those overlapping a :data:`VALIDATION`
    span dropped, ``blocks`` of the rest spread evenly along the route."""
    starts = [a for a in range(0, n_lit - places + 1, places)
              if all(a + places <= lo or a >= hi for lo, hi in VALIDATION)]
    if len(starts) < blocks:
        fail("blocks", f"at most {len(starts)} test blocks of {places} places outside the "
             "validation spans", blocks)
    return [starts[i] for i in np.round(np.linspace(0, len(starts) - 1, blocks)).astype(int)]


@functools.lru_cache(maxsize=2)
def _route(root: str, reference: str, query: str, every: int, dark: float):
    """Every lit place of the route (read once per process and direction)."""
    from biosim.vpr.datasets import load_nordland

    return load_nordland(root, reference, query, every=every, drop_dark=dark)


def _block(root, reference, query, places, offset, every, dark):
    """``(reference images, query images, ground truth, dark places inside the block's
    span)`` of the block of ``places`` lit places from ``offset``, as
    ``load_nordland(..., offset=, count=, drop_dark=)`` cuts it."""
    from biosim.vpr.datasets import same_index_ground_truth

    full = _route(str(root), reference, query, every, float(dark))
    n = len(full.reference)
    if offset < 0 or offset + places > n:
        fail("places", f"at most {n - offset} lit places after offset {offset}", places)
    ref = full.reference.subset(slice(offset, offset + places))
    first, last = ref.files[0], ref.files[-1]
    dark_in = sum(first < f < last for f in full.notes["dropped_dark"])  # names sort by frame
    return (ref.images, full.query.images[offset:offset + places],
            same_index_ground_truth(places, places), dark_in)


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


def _modular(module_places: int, epochs: int, seed: int, tau: int):
    """The modular network with the ICRA 2023 settings (``tau_gi`` 0.5 ms, standard
    assignment, hyperactive neurons of ``tau`` silenced)."""
    from biosim.vpr.recognizer import SpikingPlaceRecognizer

    return SpikingPlaceRecognizer(module_size=module_places, n_neurons=400, epochs=epochs,
                                  hyperactive_tau=tau, assignment="standard",
                                  params={"tau_gi": 0.5}, seed=seed)


def calibrate_tau(root, reference: str, query: str, epochs: int = 20, module_places: int = 25,
                  every: int = 1, dark: float = 20.0, model_seed: int = 0) -> int:
    """The modular network's ``tau``: the smallest of those giving the best Recall@1 on the
    validation block (100 lit places from :data:`TAU_BLOCK`, never a test block), same
    direction and seed."""
    from biosim.vpr.metrics import recall_at_k

    ref, qry, gt, _ = _block(root, reference, query, 100, TAU_BLOCK, every, dark)
    model = _modular(module_places, epochs, model_seed, 1).fit(ref)
    counts = model.query_counts(qry)
    best, best_tau = -1.0, 1
    for tau in range(1, len(ref) + 1):
        model.hyperactive_tau = tau          # scoring only: the fit saw every image already
        r1 = recall_at_k(model.scores(counts), gt)
        if r1 > best:
            best, best_tau = r1, tau
    return best_tau


def evaluate_block(root, reference: str, query: str, places: int, family: str,
                   offset: int = 0, every: int = 1, dark: float = 20.0, epochs: int = 20,
                   tempo_epochs: int = 8, module_places: int = 25, ensemble: int = 3,
                   sequence: int = 4, model_seed: int = 0, snn_params=None) -> dict:
    """Train and score one recogniser family on one block of ``places`` lit places.

    Returns ``{"<row>|<metric>": value}`` for every row of the family (see the module
    docstring), metrics ``R@1``, ``R@5``, ``AUC``, ``R@100P`` (VPR-Tutorial convention),
    ``train_s`` and ``queries_per_s``, plus ``dark_dropped`` (tunnel places skipped inside
    the block's span); for VPRSNN ``theta_mean`` (mV, after training), ``label_spikes`` and
    ``query_spikes`` (spikes per image of the labelling pass and of the queries); for the
    modular network ``tau``. ``snn_params``: overrides of
    :class:`~biosim.vpr.snn_numba.SNNParams` for VPRSNN (e.g. ``{"dt": 0.1}``).
    """
    from biosim.vpr.preprocess import preprocess

    choice("family", family, FAMILIES)
    ensemble = integer("ensemble", ensemble, low=1)
    ref, qry, gt, dark_in = _block(root, reference, query, integer("places", places, low=2),
                                   offset, every, dark)
    out = {"dark_dropped": float(dark_in)}
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
        model = SpikingPlaceRecognizer(module_size=100, epochs=epochs, seed=model_seed,
                                       params=snn_params).fit(ref)
        t1 = time.perf_counter()
        counts = model.query_counts(qry)
        t2 = time.perf_counter()
        for method in ("standard", "weighted"):
            t3 = time.perf_counter()
            sim = model.scores(counts, method)
            query_s = t2 - t1 + time.perf_counter() - t3
            out.update(_scores(sim, gt, sequence, f"VPRSNN {method}", t1 - t0, query_s))
        # what the trained network does: a network whose thresholds overshoot falls silent
        out.update(theta_mean=float(np.mean([m["theta"].mean() for m in model.modules_])),
                   label_spikes=float(sum(S.sum() for S in model.counts_) / len(ref)),
                   query_spikes=float(sum(c.sum() for c in counts) / len(qry)))
    else:
        if places != 100 or any(offset < hi and offset + places > lo for lo, hi in VALIDATION):
            fail("modular", "blocks of 100 places outside the validation spans (tau is "
                 "calibrated on lit places 200-299)", f"P = {places} at offset {offset}")
        tau = calibrate_tau(root, reference, query, epochs, module_places, every, dark,
                            model_seed)
        out["tau"] = float(tau)
        total, train_s, query_s = None, 0.0, 0.0
        for k in range(ensemble):
            t0 = time.perf_counter()
            model = _modular(module_places, epochs, model_seed + k, tau).fit(ref)
            t1 = time.perf_counter()
            sim = model.predict(qry)
            t2 = time.perf_counter()
            train_s += t1 - t0
            query_s += t2 - t1
            if k == 0:
                out.update(_scores(sim, gt, sequence, "Modular", t1 - t0, t2 - t1))
            total = sim if total is None else total + sim
        out.update(_scores(total, gt, sequence, "Ensemble", train_s, query_s))
    return out


class _Point:
    """One (direction, P, family, block, seed) of the table, picklable for the sweep's
    workers."""

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


def run(root=None, places=(100,), directions=("summer:winter", "winter:summer"),
        families=("sad", "vprsnn", "tempo"), blocks: int = 5, seeds: int = 3,
        out="results/vpr_nordland", workers: int = 1, progress: bool = True,
        **config) -> pd.DataFrame:
    """Compute (or resume) the Nordland table and write the report (see
    :func:`write_report`): ``blocks`` test blocks per P (:func:`block_offsets`) x ``seeds``
    model seeds (SAD: one) x directions x families. ``config`` overrides :data:`DEFAULTS`.
    Returns the long table: one row per direction, P, method, sequence matching, block and
    seed, for every point of this configuration in the store (earlier calls with other
    ``places``, ``directions``, ``families``, blocks or seeds included)."""
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
    blocks, seeds = integer("blocks", blocks, low=1), integer("seeds", seeds, low=1)
    directions = [":".join(_direction(d)) for d in directions]
    families = [choice("families", f, FAMILIES) for f in families]
    if not (places and directions and families):
        fail("run", "at least one P, one direction and one family", "an empty list")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n_lit = len(_route(str(root), *_direction(directions[0]), cfg["every"],
                       float(cfg["dark"])).reference)
    # expensive points first, so that workers finish together; block by block
    samples = [dict(direction=d, places=p, family=f, offset=o, model_seed=s, **cfg)
               for p in sorted(places, reverse=True) for f in families
               for o in block_offsets(n_lit, p, blocks)
               for s in range(1 if f == "sad" else seeds) for d in directions]
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
                       "places": int(r["places"]), "method": name, "sequence": seq,
                       "offset": int(r["offset"]), "model_seed": int(r["model_seed"])}
                row.update({m: metrics[f"{key}|{m}"]
                            for m in (*METRICS, "train_s", "queries_per_s")})
                row["train_s_per_100"] = row["train_s"] * 100.0 / row["places"]
                row["dark_dropped"] = int(r["dark_dropped"])
                rows.append(row)
    order = [name for f in FAMILIES for name in ROWS[f]]
    df = pd.DataFrame(rows)
    df["_order"] = df["method"].map(lambda m: order.index(m.split(" of ")[0]))
    df = df.sort_values(["direction", "places", "sequence", "_order", "offset", "model_seed"],
                        kind="stable")
    return df.drop(columns="_order").reset_index(drop=True)


def aggregate(table: pd.DataFrame) -> pd.DataFrame:
    """Means and standard deviations (ddof 1) over blocks and seeds: one row per direction,
    P, method and sequence matching, with ``blocks`` and ``runs`` (blocks x seeds) counted
    and ``R@1 seed sd``, the mean over blocks of the standard deviation over seeds."""
    keys = ["direction", "places", "method", "sequence"]
    g = table.groupby(keys, sort=False)
    agg = g[list(METRICS)].agg(["mean", "std"])
    agg.columns = [f"{m} {s}" for m, s in agg.columns]
    agg["blocks"] = g["offset"].nunique()
    agg["runs"] = g.size()
    agg["R@1 seed sd"] = table.groupby([*keys, "offset"], sort=False)["R@1"].std().groupby(
        keys, sort=False).mean()
    for col in ("train_s_per_100", "queries_per_s"):
        agg[col] = g[col].median()
    return agg.reset_index()


def markdown_table(table: pd.DataFrame, direction: str | None = None) -> str:
    """Markdown: one row per method (and ``+ seq``), per P Recall@1 and Recall@5 as mean ± sd
    over blocks and seeds; the runs per P; training time per 100 places and query rate
    (medians at the row's largest P)."""
    agg = aggregate(table)
    lines = []
    for d, part in agg.groupby("direction", sort=False):
        if direction is not None and d != direction:
            continue
        ps = sorted(part["places"].unique())
        head = (["method"] + [f"P={p} R@1" for p in ps] + [f"P={p} R@5" for p in ps]
                + ["blocks x seeds", "train s per 100 places (largest P)", "queries/s (largest P)"])
        lines += [f"**{d}** (mean ± sd over test blocks and model seeds; same frame = match)",
                  "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for (method, seq), rows in part.groupby(["method", "sequence"], sort=False):
            cells = [method + (" + seq" if seq else "")]
            for m in ("R@1", "R@5"):
                for p in ps:
                    r = rows[rows["places"] == p]
                    cells.append(f"{r[m + ' mean'].iloc[0]:.3f} ± {r[m + ' std'].iloc[0]:.3f}"
                                 if len(r) else "-")
            cells.append(", ".join(f"{int(r['blocks'])} x {int(r['runs'] // r['blocks'])}"
                                   for _, r in rows.sort_values("places").iterrows()))
            big = rows[rows["places"] == rows["places"].max()].iloc[0]
            cells += [f"{big['train_s_per_100']:.2f}", f"{big['queries_per_s']:.0f}"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot_recall_vs_places(table: pd.DataFrame, axes=None):
    """Recall@1 (mean ± sd over blocks and seeds) against the number of places, one panel
    per direction; one colour per method, solid without and dashed with sequence matching.
    Returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    agg = aggregate(table)
    dirs = list(dict.fromkeys(agg["direction"]))
    if axes is None:
        _, axes = plt.subplots(1, len(dirs), figsize=(5 * len(dirs), 4.2), squeeze=False,
                               sharey=True)
        axes = axes[0]
    methods = list(dict.fromkeys(agg["method"]))
    colors = {m: f"C{k}" for k, m in enumerate(methods)}
    ps = sorted(agg["places"].unique())
    for ax, d in zip(axes, dirs):
        part = agg[agg["direction"] == d]
        for (method, seq), rows in part.groupby(["method", "sequence"], sort=False):
            rows = rows.sort_values("places")
            ax.errorbar(rows["places"] * (1.04 if seq else 1.0), rows["R@1 mean"],
                        yerr=rows["R@1 std"].fillna(0.0), fmt="--o" if seq else "-o", ms=3,
                        capsize=2, color=colors[method])
        ax.set_xscale("log")
        ax.set_xticks(ps, [str(p) for p in ps])
        ax.minorticks_off()
        ax.set_xlabel("places P")
        ax.set_title(d)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Recall@1 (mean ± sd over blocks and seeds)")
    handles = [Line2D([], [], color=colors[m], label=m) for m in methods] + [
        Line2D([], [], color="k", label="single frames"),
        Line2D([], [], color="k", ls="--", label="with sequence matching")]
    axes[0].figure.legend(handles=handles, loc="lower center", ncol=4, fontsize=8,
                          frameon=False)
    axes[0].figure.subplots_adjust(left=0.07, right=0.98, bottom=0.27, wspace=0.08)
    return axes


def write_report(table: pd.DataFrame, out) -> dict:
    """Write ``nordland_results.csv`` (long table: every block and seed),
    ``nordland_table.md`` and ``recall_vs_places.png`` into ``out`` (atomically); returns
    their paths."""
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
    """The papers' claims as ratios of the means: each spiking recogniser's Recall@1 over
    SAD's, weighted minus standard assignment (paired: same trained networks), and training
    time against VPRSNN's."""
    agg = aggregate(table)
    single = agg[~agg["sequence"]].set_index(["direction", "places", "method"])
    for (d, p), part in single.groupby(level=["direction", "places"]):
        r = part.droplevel(["direction", "places"])
        if "SAD" not in r.index:
            continue
        sad = r.loc["SAD", "R@1 mean"]
        cells = [f"{m} {r.loc[m, 'R@1 mean'] / sad:.2f}x SAD" for m in r.index if m != "SAD"]
        line = f"{d}, P={p}: " + ", ".join(cells)
        if {"VPRSNN weighted", "VPRSNN standard"} <= set(r.index):
            gain = r.loc["VPRSNN weighted", "R@1 mean"] - r.loc["VPRSNN standard", "R@1 mean"]
            line += f"; weighted - standard {gain:+.3f}"
        if {"VPRSNN weighted", "VPRTempo-speed"} <= set(r.index):
            speed = (r.loc["VPRSNN weighted", "train_s_per_100"]
                     / r.loc["VPRTempo-speed", "train_s_per_100"])
            line += f"; VPRTempo-speed trains {speed:.0f}x faster than VPRSNN"
        print(line)


# ------------------------------------------------------------------ command line
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", help="nordland_trimmed folder (default: $BIOSIM_NORDLAND or "
                   "../shared/data/nordland_trimmed)")
    p.add_argument("--places", help="comma-separated block sizes P (one table; default: "
                   "the README's runs)")
    p.add_argument("--directions", default="summer:winter,winter:summer",
                   help="comma-separated reference:query seasons")
    p.add_argument("--methods", default="sad,vprsnn,tempo",
                   help="comma-separated families: " + ", ".join(FAMILIES))
    p.add_argument("--blocks", type=int, default=5, help="test blocks per P (default 5)")
    p.add_argument("--seeds", type=int, default=3, help="model seeds per block (default 3)")
    for key, value in DEFAULTS.items():
        p.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value,
                       help=f"default {value}")
    p.add_argument("--workers", type=int,
                   default=int(os.environ.get("BIOSIM_BENCH_WORKERS", "1")),
                   help="processes (one core each; default 1)")
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
    config = {key: getattr(args, key) for key in DEFAULTS}
    common = dict(directions=items(args.directions), blocks=args.blocks, seeds=args.seeds,
                  out=args.out, workers=args.workers, progress=not args.no_progress)
    try:
        if args.places is not None:
            try:
                places = [int(p) for p in items(args.places)]
            except ValueError:
                fail("--places", "comma-separated integers, e.g. 100,400", args.places)
            table = run(root, places, families=items(args.methods), **common, **config)
        elif not root.is_dir():
            print(f"Nordland frames not found at {root}; set BIOSIM_NORDLAND")
            return 0
        elif QUICK:
            common.update(blocks=2, seeds=2, out="results/vpr_nordland_quick")
            table = run(root, places=(20,), families=items(args.methods), **common,
                        **dict(config, epochs=2, tempo_epochs=2, ensemble=2))
        else:
            run(root, places=(100,), families=("sad", "vprsnn", "tempo"), **common, **config)
            table = run(root, places=(400,), families=("sad", "tempo"), **common, **config)
    except BiosimError as e:
        print(f"vpr_nordland: error: {e}", file=sys.stderr)
        return 2
    print(markdown_table(table))
    print_ratios(table)
    out = Path(common["out"])
    print(f"wrote {out / 'nordland_table.md'}, nordland_results.csv and recall_vs_places.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
