"""``biosim run SPEC --duration MS --out DIR``: build a spec, run it, write spikes and a raster."""
from __future__ import annotations

import json
import time
from pathlib import Path


from biosim.core.io import atomic_path, output_dir, save_npz


def add_arguments(parser) -> None:
    parser.add_argument("spec", help="path to a TOML spec or a model name (models/NAME.toml)")
    parser.add_argument("--duration", default=None,
                        help="biological time in ms, or with units ('2 s') (default: the "
                             "spec's network.duration)")
    parser.add_argument("--seed", type=int, default=None, help="override network.seed")
    parser.add_argument("--out", default="results", help="output folder")
    parser.add_argument("--format", choices=("npz", "parquet"), default="npz",
                        help="spike file format")
    parser.add_argument("--no-plot", action="store_true", help="skip the raster PNG")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")


def check_args(args) -> None:
    """Every argument checked before anything runs."""
    from biosim.core import validation as check

    if args.duration is not None:  # ms, or with units ("2 s")
        args.duration = check.positive("--duration", args.duration, "ms")
    check.seed("--seed", args.seed)


def main(args) -> int:
    from biosim.core.spec import build, load_spec

    spec = load_spec(args.spec)
    if spec.get("kind", "network") != "network":
        from biosim.core.spec import evaluate

        metrics = evaluate(spec, args.seed if args.seed is not None else 0)
        print(json.dumps(metrics, indent=2))
        return 0
    net, monitors = build(spec, args.seed)
    duration = args.duration if args.duration is not None else \
        spec["network"].get("duration", 1000.0)
    out = output_dir("--out", args.out)  # before the run: a bad path fails at once
    start = time.perf_counter()
    net.run(duration, progress=args.progress or None)
    wall = time.perf_counter() - start
    spikes = {k[7:]: m for k, m in monitors.items() if k.startswith("spikes.")}
    if args.format == "npz":
        arrays = {}
        for name, m in spikes.items():
            arrays[f"{name}_t_ms"], arrays[f"{name}_i"] = m.t, m.i
        save_npz(out / "spikes.npz", **arrays)
    else:
        import pandas as pd

        table = pd.concat([m.to_pandas().assign(population=name) for name, m in spikes.items()])
        with atomic_path(out / "spikes.parquet") as tmp:
            table.to_parquet(tmp, index=False)
    summary = {"spec": str(args.spec), "duration_ms": duration, "wall_s": round(wall, 3),
               "rates_hz": {n: float(m.count.mean() / (duration * 1e-3))
                            for n, m in spikes.items()}}
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    print(f"ran {duration:g} ms in {wall:.2f} s; mean rates (Hz): " +
          ", ".join(f"{k} {v:.2f}" for k, v in summary["rates_hz"].items()))
    if not args.no_plot and spikes:
        from biosim import plot

        ax = plot.raster(list(spikes.values()), labels=list(spikes))
        ax.set_title(spec.get("description", spec.get("name", "")))
        with atomic_path(out / "raster.png") as tmp:
            ax.figure.savefig(tmp, dpi=120, format="png")
        print(f"wrote {out / 'raster.png'}")
    print(f"wrote {out / ('spikes.' + args.format)}, {out / 'summary.json'}")
    return 0
