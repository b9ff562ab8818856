"""What every benchmark shares: alternating rounds, median [min-max], the machine's load,
and one CSV row per ratio in ``results/bench.csv`` (read by ``report.py``).

A ratio is ``peer time / biosim time`` (> 1: biosim is faster), taken round by round: the
rounds alternate biosim and its peer, so a drift in the machine's speed hits both."""
from __future__ import annotations

import csv
import os
import statistics
import time
from pathlib import Path

QUICK = os.environ.get("BIOSIM_BENCH_QUICK") == "1"
CSV = Path(os.environ.get("BIOSIM_BENCH_CSV", Path(__file__).resolve().parents[1] / "results"
                          / "bench.csv"))
FIELDS = ["benchmark", "case", "biosim", "peer", "ratio", "ratio_min", "ratio_max",
          "biosim_s", "peer_s", "unit", "load", "quick", "date"]


def load() -> str:
    """The machine's load averages (1, 5, 15 min) and its core count, as one phrase."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def header(title: str) -> None:
    print(f"{title}{' (QUICK sizes)' if QUICK else ''}; {load()}")


def rounds(fns: dict, n: int) -> dict:
    """Call every function of ``fns`` (name -> fn() returning seconds, or a dict with key
    ``"s"``) once per round, in turn, for ``n`` rounds; returns name -> list of results."""
    out = {k: [] for k in fns}
    for _ in range(n):
        for k, fn in fns.items():
            out[k].append(fn())
    return out


def seconds(x):
    return x["s"] if isinstance(x, dict) else x


def cpu(fn, *args, **kw):
    """(CPU seconds of this process, result) of ``fn(*args, **kw)``."""
    t0 = time.process_time()
    out = fn(*args, **kw)
    return time.process_time() - t0, out


def wall(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t0, out


def spread(values, fmt="{:.3g}") -> str:
    """``median [min-max]``."""
    v = sorted(values)
    return f"{fmt.format(statistics.median(v))} [{fmt.format(v[0])}-{fmt.format(v[-1])}]"


def ratio(benchmark, case, biosim_s, peer_s, peer, biosim="biosim", unit="s") -> str:
    """Print-ready ``median [min-max]x`` of peer/biosim, pairing round k with round k, and
    one CSV row for it."""
    b, p = [seconds(x) for x in biosim_s], [seconds(x) for x in peer_s]
    if len(b) == len(p):
        r = [pk / bk for bk, pk in zip(b, p)]
    else:  # unpaired (one side measured once): every pairing
        r = [pk / bk for bk in b for pk in p]
    record(benchmark, case, biosim, peer, statistics.median(r), min(r), max(r),
           statistics.median(b), statistics.median(p), unit)
    return spread(r, "{:.2f}") + "x"


def record(benchmark, case, biosim, peer, r, r_min, r_max, biosim_s, peer_s, unit="s"):
    CSV.parent.mkdir(parents=True, exist_ok=True)
    new = not CSV.exists() or CSV.read_text().partition("\n")[0] != ",".join(FIELDS)
    with open(CSV, "w" if new else "a", newline="") as f:  # (rows of older columns dropped)
        w = csv.DictWriter(f, FIELDS)
        if new:
            w.writeheader()
        w.writerow({"benchmark": benchmark, "case": case, "biosim": biosim, "peer": peer,
                    "ratio": f"{r:.4g}", "ratio_min": f"{r_min:.4g}",
                    "ratio_max": f"{r_max:.4g}", "biosim_s": f"{biosim_s:.4g}",
                    "peer_s": f"{peer_s:.4g}", "unit": unit,
                    "load": f"{os.getloadavg()[0]:.2f}", "quick": int(QUICK),
                    "date": time.strftime("%Y-%m-%d")})
