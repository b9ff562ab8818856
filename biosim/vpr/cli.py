"""``biosim vpr train`` and ``biosim vpr eval``: the spiking place recogniser on the shell.

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
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from biosim.core.validation import fail


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="vpr_command", required=True)
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


def _read_config(path) -> dict:
    path = Path(path)
    if not path.is_file():
        fail("config", "an existing TOML or JSON file", str(path))
    text = path.read_text()
    try:
        if path.suffix.lower() == ".json":
            cfg = json.loads(text)
        else:
            import tomllib

            cfg = tomllib.loads(text)
    except ValueError as e:
        fail("config", f"valid {path.suffix.lstrip('.') or 'TOML'} ({e})", str(path))
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

    path = Path(spec)
    if path.suffix.lower() == ".npy":
        if not path.is_file():
            fail(field, "an existing .npy image stack", str(path))
        a = np.load(path, allow_pickle=False)
        return a[select_frames(len(a), every, offset, count)]
    return load_traverse(path, every=every, offset=offset, count=count).images


def _synthetic(data: dict):
    from biosim.vpr.synthetic import synthetic_route

    syn = dict(data["synthetic"])
    return synthetic_route(syn.pop("n_places", 100),
                           syn.pop("conditions", ("summer", "autumn", "winter")),
                           syn.pop("seed", 0), **syn)


def _references(data: dict):
    if "synthetic" in data:
        return list(_synthetic(data).references)
    refs = data.get("references")
    if not refs:
        fail("config.data.references", "a list of image folders or .npy stacks", refs)
    return [_images(r, "config.data.references") for r in refs]


def train(args) -> int:
    from biosim.vpr.recognizer import SpikingPlaceRecognizer

    cfg = _read_config(args.config)
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
            refs = _images(cfg["data"]["references"][0], "references")
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
        from biosim.core.io import atomic_path

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / "similarity.npy", similarity)
        with atomic_path(out / "report.json") as tmp:
            tmp.write_text(json.dumps(report, indent=1))
    return 0


def main(args) -> int:
    return train(args) if args.vpr_command == "train" else evaluate(args)
