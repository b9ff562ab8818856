"""``biosim vpr make-synthetic|baseline|train|eval``: place recognition on the shell.

``biosim vpr make-synthetic --places 100 --out data/synthetic`` writes the procedural route as
PNG folders (one per condition). ``biosim vpr baseline --reference R --query Q --gt G`` scores
SAD on patch-normalised images (and SAD with sequence matching), prints Recall@1/5/10, AUC and
R@100P, and saves the PR curve and the similarity-matrix plot.

``biosim vpr train --config train.toml --out model/`` trains a
:class:`biosim.vpr.recognizer.SpikingPlaceRecognizer` and saves it; the config (TOML or
JSON) has a ``[data]`` table, either ``synthetic = {n_places, conditions, seed}`` (the
procedural route: all conditions but the last are references) or
``references = ["folder_or.npy", ...]`` (an entry may also be a table
``{path = "...", every = 8, offset = 0, count = 100}`` selecting frames), and a ``[model]`` table of constructor arguments
(``params`` for network constants). ``biosim vpr eval --model model/ --query Q --gt G``
scores query images (a folder or a uint8 ``.npy`` stack; ``synthetic`` for the query
condition of a synthetic training config) and prints Recall@K, AUC and the
precision/recall summary (:func:`biosim.vpr.metrics.summary`), for the SAD baseline too
when the references are known.

The table of every recogniser on real Nordland frames is a benchmark, not a command:
``python benchmarks/vpr_nordland.py --places 100,200,400`` (see the README).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from biosim.core.validation import BiosimError, fail, memory


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="vpr_command", required=True)
    m = sub.add_parser("make-synthetic", help="write the procedural route as image folders")
    m.add_argument("--places", type=int, default=100, help="number of places")
    m.add_argument("--conditions", default="summer,winter,night",
                   help="comma-separated: " + "summer, autumn, winter, night, rain")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--out", required=True, help="folder to write (one subfolder per condition)")
    b = sub.add_parser("baseline", help="SAD (+ sequence matching) on a reference/query pair")
    b.add_argument("--reference", required=True, help="image folder or uint8 .npy stack")
    b.add_argument("--query", required=True, help="image folder or uint8 .npy stack")
    b.add_argument("--gt", default="same", help="'same', a .npy matrix or a .csv (see "
                   "biosim.vpr.datasets.load_ground_truth)")
    b.add_argument("--tolerance", type=int, default=0, help="ground-truth tolerance in frames")
    b.add_argument("--sequence", type=int, default=5, help="sequence length (0: none)")
    b.add_argument("--out", default="results/vpr_baseline", help="folder for plots and report")
    t = sub.add_parser("train", help="train a spiking place recogniser and save it")
    t.add_argument("--config", required=True, help="TOML or JSON file with [data] and [model]")
    t.add_argument("--out", required=True, help="model folder to write")
    t.add_argument("--epochs", type=int, help="override model.epochs")
    t.add_argument("--backend", choices=("numba", "torch"), help="override model.backend")
    t.add_argument("--device", help="torch device, e.g. cuda")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    e = sub.add_parser("eval", help="score queries with a trained model")
    e.add_argument("--model", required=True, help="model folder from `biosim vpr train`")
    e.add_argument("--query", required=True,
                   help="image folder, uint8 .npy stack, or 'synthetic' (the training config's "
                        "query condition)")
    e.add_argument("--gt", default="same", help="'same', a .npy matrix or a .csv (see "
                   "biosim.vpr.datasets.load_ground_truth)")
    e.add_argument("--tolerance", type=int, default=0, help="ground-truth tolerance in frames")
    e.add_argument("--every", type=int, default=1, help="keep every n-th query frame")
    e.add_argument("--offset", type=int, default=0, help="first query frame kept")
    e.add_argument("--count", type=int, help="number of query frames kept")
    e.add_argument("--assignment", choices=("weighted", "standard"))
    e.add_argument("--out", help="write the report (JSON) and similarity (.npy) here")


def check_args(args) -> None:
    """The numbers and paths of a subcommand, checked before anything is loaded or trained."""
    from biosim.core.validation import integer, seed

    cmd = args.vpr_command
    if cmd == "make-synthetic":
        places = integer("--places", args.places, low=1)
        n_cond = len([c for c in args.conditions.split(",") if c.strip()])
        memory("--places", 64 * 32 * 4.0 * places * max(n_cond, 1), f"{places} places", places)
        seed("--seed", args.seed)
    if cmd in ("baseline", "eval"):
        integer("--tolerance", args.tolerance, low=0)
    if cmd == "baseline":
        integer("--sequence", args.sequence, low=0)
    if cmd == "train" and args.epochs is not None:
        integer("--epochs", args.epochs, low=1)
    if cmd == "eval":
        integer("--every", args.every, low=1)
        integer("--offset", args.offset, low=0)
        if args.count is not None:
            integer("--count", args.count, low=1)
        if not Path(args.model).is_dir():
            fail("--model", "a model folder written by `biosim vpr train`", args.model)
    if cmd == "train" and not Path(args.config).is_file():
        fail("--config", "an existing TOML or JSON file", args.config)


def _read_config(path) -> dict:
    path = Path(path)
    if not path.is_file():
        fail("config", "an existing TOML or JSON file", str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        fail("config", "a readable UTF-8 TOML or JSON file", f"{path} ({e})")
    try:
        if path.suffix.lower() == ".json":
            cfg = json.loads(text)
        else:
            import tomllib

            cfg = tomllib.loads(text)
    except ValueError as e:
        fail("config", f"valid {path.suffix.lstrip('.') or 'TOML'} ({e})", str(path))
    if not isinstance(cfg, dict):
        fail("config", "a table with [data] and [model]", cfg)
    if not isinstance(cfg.get("data"), dict):
        fail("config.data", "a table with 'synthetic' or 'references'", cfg.get("data"))
    return cfg


def _images(spec, field, every=1, offset=0, count=None):
    """A uint8 image stack from a .npy file or an image folder, or from a table
    ``{path, every, offset, count}``; frames ``offset, offset + every, ...`` (``count``)."""
    if isinstance(spec, dict):
        if "path" not in spec:
            fail(field, "a path or a table with 'path'", spec)
        return _images(spec["path"], field, spec.get("every", 1), spec.get("offset", 0),
                       spec.get("count"))
    from biosim.vpr.datasets import load_traverse, select_frames
    from biosim.vpr.recognizer import image_stack

    if not isinstance(spec, (str, Path)):
        fail(field, "a path or a table {path, every, offset, count}", spec)
    path = Path(spec)
    if path.suffix.lower() == ".npy":
        if not path.is_file():
            fail(field, "an existing .npy image stack", str(path))
        try:
            a = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            fail(field, "a readable .npy image stack", f"{path} ({e})")
        if a.dtype != np.uint8 and a.dtype.kind in "iub" and a.size and \
                0 <= a.min() and a.max() <= 255:
            a = a.astype(np.uint8)  # integers of 8-bit range: nothing is lost
        a = image_stack(f"{field} ({path})", a)  # floats are refused, never rounded
        return a[select_frames(len(a), every, offset, count)]
    try:
        return load_traverse(path, every=every, offset=offset, count=count).images
    except BiosimError as e:  # name the option or config field too
        raise BiosimError(f"{field}: {e}") from None


def _synthetic(data: dict):
    from biosim.vpr.synthetic import synthetic_route

    if not isinstance(data["synthetic"], dict):
        fail("config.data.synthetic", "a table {n_places, conditions, seed}", data["synthetic"])
    syn = dict(data["synthetic"])
    try:
        return synthetic_route(syn.pop("n_places", 100),
                               syn.pop("conditions", ("summer", "autumn", "winter")),
                               syn.pop("seed", 0), **syn)
    except TypeError as e:
        fail("config.data.synthetic", "fields of biosim.vpr.synthetic_route", str(e))


def _references(data: dict):
    if "synthetic" in data:
        return list(_synthetic(data).references)
    return [_images(r, "config.data.references") for r in _reference_list(data)]


def _reference_list(data: dict) -> list:
    refs = data.get("references")
    if isinstance(refs, (str, dict)):  # one traverse, not a list of characters
        refs = [refs]
    if not refs or not isinstance(refs, list):
        fail("config.data.references", "a list of image folders or .npy stacks", refs)
    return refs


def train(args) -> int:
    from biosim.vpr.recognizer import SpikingPlaceRecognizer

    cfg = _read_config(args.config)
    if not isinstance(cfg.get("model", {}), dict):
        fail("config.model", "a table of SpikingPlaceRecognizer arguments", cfg["model"])
    model_cfg = dict(cfg.get("model", {}))
    for key in ("epochs", "backend", "device"):
        if getattr(args, key) is not None:
            model_cfg[key] = getattr(args, key)
    model_cfg["progress"] = not args.no_progress
    try:
        model = SpikingPlaceRecognizer(**model_cfg)
    except TypeError as e:
        fail("config.model", "SpikingPlaceRecognizer arguments", str(e))
    model.fit(_references(cfg["data"]))
    out = model.save(args.out)
    (out / "train_config.json").write_text(json.dumps(cfg, indent=1))
    print(f"trained {len(model.places_)} places in {len(model.modules_)} module(s); "
          f"saved to {out}")
    return 0


def evaluate(args) -> int:
    from biosim.vpr.baselines import sad_similarity
    from biosim.vpr.datasets import load_ground_truth
    from biosim.vpr.metrics import summary
    from biosim.vpr.preprocess import preprocess
    from biosim.vpr.recognizer import SpikingPlaceRecognizer

    model = SpikingPlaceRecognizer.load(args.model)
    cfg_path = Path(args.model) / "train_config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.is_file() else None
    refs = None
    if args.query == "synthetic":
        if cfg is None or "synthetic" not in cfg.get("data", {}):
            fail("query", "an image folder or .npy stack (the model was not trained on the "
                 "synthetic route)", args.query)
        ds = _synthetic(cfg["data"])
        query, refs = ds.query.images, ds.reference.images
    else:
        query = _images(args.query, "query", args.every, args.offset, args.count)
        if cfg is not None and "references" in cfg.get("data", {}):
            refs = _images(_reference_list(cfg["data"])[0], "references")
    gt = load_ground_truth(args.gt, len(model.places_), len(query), args.tolerance)
    similarity = model.predict(query, args.assignment)
    report = {"snn": summary(similarity, gt)}
    if refs is not None and len(refs) == len(model.places_):
        p = model.preprocess
        pr = (preprocess(refs, model.size, model.patch) if p else refs)
        pq = (preprocess(query, model.size, model.patch) if p else query)
        report["sad"] = summary(sad_similarity(pr, pq), gt)
    keys = list(report["snn"])
    print("method  " + "  ".join(f"{k:>7}" for k in keys))
    for name, row in report.items():
        print(f"{name:<7} " + "  ".join(f"{row[k]:7.3f}" for k in keys))
    if args.out:
        from biosim.core.io import atomic_path, output_dir

        out = output_dir("--out", args.out)
        np.save(out / "similarity.npy", similarity)
        with atomic_path(out / "report.json") as tmp:
            tmp.write_text(json.dumps(report, indent=1))
    return 0


def make_synthetic(args) -> int:
    from biosim.vpr.synthetic import write_route

    conditions = tuple(c.strip() for c in args.conditions.split(",") if c.strip())
    folders = write_route(args.out, args.places, conditions, args.seed)
    for condition, folder in folders.items():
        print(f"{condition}: {args.places} images in {folder}")
    return 0


def baseline(args) -> int:
    from biosim import plot
    from biosim.core.io import atomic_path, output_dir
    from biosim.vpr.baselines import sad_similarity, sequence_match
    from biosim.vpr.datasets import load_ground_truth
    from biosim.vpr.metrics import precision_recall_curve, summary
    from biosim.vpr.preprocess import preprocess

    ref = preprocess(_images(args.reference, "reference"))
    query = preprocess(_images(args.query, "query"))
    gt = load_ground_truth(args.gt, len(ref), len(query), args.tolerance)
    similarity = {"sad": sad_similarity(ref, query)}
    if args.sequence > 1:
        similarity[f"sad+seq{args.sequence}"] = sequence_match(similarity["sad"], args.sequence)
    report = {name: summary(s, gt) for name, s in similarity.items()}
    keys = list(report["sad"])
    print("method     " + "  ".join(f"{k:>7}" for k in keys))
    for name, row in report.items():
        print(f"{name:<10} " + "  ".join(f"{row[k]:7.3f}" for k in keys))
    out = output_dir("--out", args.out)
    ax = None
    for name, s in similarity.items():
        precision, recall, _ = precision_recall_curve(s, gt)
        ax = plot.pr_curve(precision, recall, ax=ax, label=name)
    ax.figure.savefig(out / "pr_curve.png", dpi=120)
    ax = plot.similarity_matrix(similarity["sad"], gt)
    ax.figure.savefig(out / "similarity.png", dpi=120)
    with atomic_path(out / "report.json") as tmp:
        tmp.write_text(json.dumps(report, indent=1))
    print(f"wrote {out / 'pr_curve.png'}, {out / 'similarity.png'}, {out / 'report.json'}")
    return 0


def main(args) -> int:
    commands = {"make-synthetic": make_synthetic, "baseline": baseline, "train": train,
                "eval": evaluate}
    return commands[args.vpr_command](args)
