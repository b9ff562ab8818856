"""``biosim vpr make-synthetic|baseline|train|eval``: place recognition on the shell.

``biosim vpr make-synthetic --places 100 --out data/synthetic`` writes the procedural route as
PNG folders (one per condition). ``biosim vpr baseline --reference R --query Q --gt G`` scores
SAD on patch-normalised images (and SAD with sequence matching), prints Recall@1/5/10, AUC and
R@100P, and saves the PR curve and the similarity-matrix plot.

``biosim vpr train --config train.toml --out model/`` trains a
:class:`biosim.vpr.recognizer.SpikingPlaceRecognizer` and saves it; the config (TOML or
JSON) has a ``[data]`` table, either ``synthetic = {n_places, conditions, seed, ...}`` (the
procedural route: all conditions but the last are references) or
``references = ["folder_or.npy", ...]`` (an entry may also be a table
``{path = "...", every = 8, offset = 0, count = 100}`` selecting frames), with optional
``every``, ``drop_dark``, ``offset``, ``count`` selecting places of all references together
(as :func:`biosim.vpr.datasets.load_nordland`: every ``every``-th frame, then the places dark
in any reference dropped -- mean grey level below ``drop_dark`` -- then ``count`` places from
``offset``), and a ``[model]`` table of constructor arguments (``params`` for network
constants). Every key is checked: an unknown one is an error naming it and the valid ones.
``biosim vpr train --model surrogate ...`` trains a
:class:`biosim.vpr.surrogate.SurrogatePlaceRecognizer` instead (``[model]`` holds its
arguments; ``[data] validation = {reference = ..., query = ...}``, two image folders or
``.npy`` stacks of other places, same index = same place, drives early stopping); its
``eval`` takes ``--references`` (images of places it never saw, selected like the query).
``biosim vpr eval --model model/ --query Q --gt G`` scores query images (a folder or a uint8
``.npy`` stack; ``synthetic`` for the query condition of a synthetic training config; by
default the frames the model was trained on) and prints Recall@K, AUC and the
precision/recall summary (:func:`biosim.vpr.metrics.summary`), for the SAD baseline too when
the references are known. ``train``, ``eval`` and ``baseline`` select frames with
``every``/``offset``/``count``/``drop_dark`` (flags ``--every`` ... ``--drop-dark``), warn when
many of the frames used are dark, and report the chance level. Ground truth is read on the
original frame numbers, so a selection on either side stays aligned.

The table of every recogniser on real Nordland frames is a benchmark, not a command:
``python benchmarks/vpr_nordland.py`` (means over test blocks and seeds; see the README).
"""
from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np

from biosim.core.validation import BiosimError, fail, memory, warn

#: dark-frame rule: mean grey level (0-255) below this is a tunnel frame; warn above this share
DARK_LEVEL, DARK_SHARE = 20.0, 0.05
DATA_KEYS = ("synthetic", "references", "every", "offset", "count", "drop_dark", "validation")
MODELS = ("vprsnn", "surrogate")
ENTRY_KEYS = ("path", "every", "offset", "count")


def _selection_flags(p) -> None:
    p.add_argument("--every", type=int, default=None, help="keep every n-th frame")
    p.add_argument("--offset", type=int, default=None, help="places skipped (after every, "
                   "drop-dark)")
    p.add_argument("--count", type=int, default=None, help="number of places kept")
    p.add_argument("--drop-dark", type=float, default=None, metavar="LEVEL",
                   help=f"drop dark places (mean grey level below LEVEL, e.g. {DARK_LEVEL:g}: "
                        "Nordland's tunnels)")


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
    _selection_flags(b)
    b.add_argument("--out", default="results/vpr_baseline", help="folder for plots and report")
    t = sub.add_parser("train", help="train a spiking place recogniser and save it")
    t.add_argument("--config", required=True, help="TOML or JSON file with [data] and [model]")
    t.add_argument("--out", required=True, help="model folder to write")
    t.add_argument("--model", choices=MODELS, default="vprsnn",
                   help="vprsnn (STDP, SpikingPlaceRecognizer) or surrogate (surrogate "
                        "gradients, SurrogatePlaceRecognizer)")
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
    _selection_flags(e)
    e.add_argument("--assignment", choices=("weighted", "standard"))
    e.add_argument("--references", help="surrogate models: image folder or uint8 .npy stack "
                   "of the reference places (same frames selected as the query)")
    e.add_argument("--cosine", action="store_true", help="surrogate models: the plain cosine "
                   "of the descriptors (no per-traverse centring or hub correction; needed "
                   "for a single query image)")
    e.add_argument("--out", help="write the report (JSON) and similarity (.npy) here")


def check_args(args) -> None:
    """The numbers and paths of a subcommand, checked before anything is loaded or trained."""
    from biosim.core.validation import integer, number, seed

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
    if cmd in ("baseline", "eval"):
        for flag, low in (("every", 1), ("offset", 0), ("count", 1)):
            if getattr(args, flag) is not None:
                integer(f"--{flag}", getattr(args, flag), low=low)
        if args.drop_dark is not None:
            number("--drop-dark", args.drop_dark, low=0.0)
    if cmd == "eval":
        if not Path(args.model).is_dir():
            fail("--model", "a model folder written by `biosim vpr train`", args.model)
    if cmd == "train" and not Path(args.config).is_file():
        fail("--config", "an existing TOML or JSON file", args.config)


def _strict(field: str, table, valid) -> dict:
    """``table`` as a dict whose keys are all in ``valid``; else one line naming the key."""
    if not isinstance(table, dict):
        fail(field, "a table", table)
    for key in table:
        if key not in valid:
            raise BiosimError(f"{field}.{key}: unknown key; valid keys: "
                              + ", ".join(sorted(valid)))
    return table


def _model_class(name: str):
    if name == "surrogate":
        from biosim.vpr.surrogate import SurrogatePlaceRecognizer

        return SurrogatePlaceRecognizer
    from biosim.vpr.recognizer import SpikingPlaceRecognizer

    return SpikingPlaceRecognizer


def _read_config(path, model_name: str = "vprsnn") -> dict:
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
    _strict("config", cfg, ("data", "model"))
    data = _strict("config.data", cfg.get("data"), DATA_KEYS)
    if ("synthetic" in data) == ("references" in data):
        fail("config.data", "either 'synthetic' or 'references'", sorted(data))
    if "synthetic" in data:
        from biosim.vpr.synthetic import render_route, synthetic_route

        valid = {*inspect.signature(synthetic_route).parameters,
                 *inspect.signature(render_route).parameters} - {"kwargs", "conditions_seed"}
        _strict("config.data.synthetic", data["synthetic"], valid)
    else:
        for k, r in enumerate(_reference_list(data)):
            if isinstance(r, dict):
                _strict(f"config.data.references[{k}]", r, ENTRY_KEYS)
    if "validation" in data:
        _strict("config.data.validation", data["validation"], ("reference", "query"))
    model = _strict("config.model", cfg.get("model", {}),
                    inspect.signature(_model_class(model_name)).parameters)
    if "params" in model:
        from biosim.vpr.snn_numba import SNNParams

        _strict("config.model.params", model["params"], SNNParams().to_dict())
    return cfg


def _images(spec, field, every=1, offset=0, count=None):
    """``(stack, frames)``: a uint8 image stack from a .npy file or an image folder (or a
    table ``{path, every, offset, count}``) and the original numbers of its frames."""
    if isinstance(spec, dict):
        if "path" not in spec:
            fail(field, "a path or a table with 'path'", spec)
        return _images(spec["path"], field, spec.get("every", 1), spec.get("offset", 0),
                       spec.get("count"))
    from biosim.vpr.datasets import list_images, load_images, select_frames
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
        idx = select_frames(len(a), every, offset, count)
        return a[idx], idx
    try:
        files = list_images(path)
        idx = select_frames(len(files), every, offset, count)
        return load_images([files[i] for i in idx]), idx
    except BiosimError as e:  # name the option or config field too
        raise BiosimError(f"{field}: {e}") from None


def _select(stacks, field, every=None, offset=None, count=None, drop_dark=None):
    """Frames kept from aligned image stacks (the same places in the same order): every
    ``every``-th, then the places dark in any stack dropped (``drop_dark``), then ``count``
    places from ``offset``. Returns the kept positions; warns when many kept frames are dark."""
    from biosim.vpr.datasets import dark_frames, select_frames

    n = len(stacks[0])
    idx = select_frames(n, every or 1)
    if drop_dark is not None:
        dark = np.zeros(idx.size, bool)
        for a in stacks:
            dark |= dark_frames(a[idx], drop_dark)
        if dark.all():
            fail(f"{field} drop_dark", f"a level that keeps some of the {idx.size} places",
                 drop_dark)
        idx = idx[~dark]
    kept = select_frames(idx.size, 1, offset or 0, count)
    if count is not None and kept.size < count:
        fail(f"{field} count", f"at most {kept.size} places after offset {offset or 0}", count)
    idx = idx[kept]
    if drop_dark is None:
        dark = np.zeros(idx.size, bool)
        for a in stacks:
            dark |= dark_frames(a[idx], DARK_LEVEL)
        if dark.sum() > DARK_SHARE * idx.size:
            warn(field, f"{dark.sum()} of {idx.size} places are dark (mean grey level < "
                 f"{DARK_LEVEL:g}, e.g. tunnels); after patch normalisation they match almost "
                 f"any query. Drop them with drop_dark = {DARK_LEVEL:g} (--drop-dark "
                 f"{DARK_LEVEL:g})", stacklevel=2)
    return idx


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
    """``(stacks, frames, n_frames)``: the reference stacks after every selection, the
    original number of each kept frame, and the length of the original traverse."""
    if "synthetic" in data:
        refs = list(_synthetic(data).references)
        return refs, np.arange(len(refs[0])), len(refs[0])
    refs = _reference_list(data)
    loaded = [_images(r, "config.data.references") for r in refs]
    if any(len(a) != len(loaded[0][0]) for a, _ in loaded):
        fail("config.data.references", "traverses of equal length (the same places)",
             [len(a) for a, _ in loaded])
    from biosim.vpr.datasets import list_images

    first = refs[0]
    path = Path(first["path"] if isinstance(first, dict) else first)
    n_frames = (len(np.load(path, mmap_mode="r")) if path.suffix.lower() == ".npy"
                else len(list_images(path)))
    idx = _select([a for a, _ in loaded], "config.data", data.get("every"),
                  data.get("offset"), data.get("count"), data.get("drop_dark"))
    return [a[idx] for a, _ in loaded], loaded[0][1][idx], n_frames


def _report(report: dict, gt) -> dict:
    """Print the report table with its chance row (and add it to ``report``)."""
    from biosim.vpr.metrics import chance_recall

    keys = list(next(iter(report.values())))
    ks = [int(k[2:]) for k in keys if k.startswith("R@") and k[2:].isdigit()]
    report["chance"] = {f"R@{k}": v for k, v in zip(ks, chance_recall(gt, ks))}
    width = max(len(n) for n in report) + 1
    print(f"{'method':<{width}} " + "  ".join(f"{k:>7}" for k in keys))
    for name, row in report.items():
        print(f"{name:<{width}} " + "  ".join(f"{row[k]:7.3f}" if k in row else f"{'-':>7}"
                                            for k in keys))
    return report


def _reference_list(data: dict) -> list:
    refs = data.get("references")
    if isinstance(refs, (str, dict)):  # one traverse, not a list of characters
        refs = [refs]
    if not refs or not isinstance(refs, list):
        fail("config.data.references", "a list of image folders or .npy stacks", refs)
    return refs


def train(args) -> int:
    """Train and save. VPRSNN (either backend) writes a checkpoint to ``OUT/checkpoint``
    after every epoch, and the same command resumes an interrupted run from it."""
    from biosim.core.io import atomic_path

    cfg = _read_config(args.config, args.model)
    model_cfg = dict(cfg.get("model", {}))
    for key in ("epochs", "backend", "device"):
        if getattr(args, key) is not None:
            model_cfg[key] = getattr(args, key)
    model_cfg["progress"] = not args.no_progress
    if args.model == "surrogate" and model_cfg.pop("backend", None) is not None:
        fail("--backend", "no backend for --model surrogate (it runs on torch; use --device)",
             args.backend)
    model = _model_class(args.model)(**model_cfg)
    refs, frames, n_frames = _references(cfg["data"])
    if args.model == "surrogate":
        val = cfg["data"].get("validation")
        if val is not None:
            val = tuple(_images(val.get(k), f"config.data.validation.{k}")[0]
                        for k in ("reference", "query"))
        model.fit(refs, validation=val)
        out = model.save(args.out)
        with atomic_path(out / "train_config.json") as tmp:
            tmp.write_text(json.dumps(dict(cfg, frames=frames.tolist(),
                                           n_frames=int(n_frames)), indent=1))
        print(f"trained on {len(model.places_)} places ({len(model.history_['epoch'])} "
              f"epochs, best {model.best_epoch_}); saved to {out}")
        return 0
    from biosim.vpr.checkpoint import TrainingCheckpoint

    checkpoint = Path(args.out) / "checkpoint"  # every epoch: the same command resumes a kill
    if checkpoint.exists() or checkpoint.with_name("checkpoint.old").exists():
        print(f"resuming from the checkpoint in {checkpoint}")
    model.fit(refs, checkpoint=checkpoint)
    out = model.save(args.out)
    saved = dict(cfg, frames=frames.tolist(), n_frames=int(n_frames))
    with atomic_path(out / "train_config.json") as tmp:
        tmp.write_text(json.dumps(saved, indent=1))
    TrainingCheckpoint(checkpoint, "").remove()
    print(f"trained {len(model.places_)} places in {len(model.modules_)} module(s); "
          f"saved to {out}")
    return 0


def _flags(args) -> dict:
    return {k: getattr(args, k) for k in ("every", "offset", "count", "drop_dark")}


def evaluate(args) -> int:
    from biosim.vpr.baselines import sad_similarity
    from biosim.vpr.datasets import load_ground_truth
    from biosim.vpr.metrics import summary
    from biosim.vpr.preprocess import preprocess

    meta_path = Path(args.model) / "model.json"
    try:
        fmt = json.loads(meta_path.read_text()).get("format", "")
    except (OSError, ValueError, AttributeError):
        fmt = ""
    surrogate = fmt == "biosim.vpr.SurrogatePlaceRecognizer"
    model = _model_class("surrogate" if surrogate else "vprsnn").load(args.model)
    if args.references is not None and not surrogate:
        fail("--references", "a surrogate model (VPRSNN knows only its training places)",
             args.references)
    if args.cosine:
        if not surrogate:
            fail("--cosine", "a surrogate model (VPRSNN compares assignments, not "
                 "descriptors)", True)
        model.set_params(centre=False, csls_k=0)
    cfg_path = Path(args.model) / "train_config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
    data = cfg.get("data", {})
    n_places = len(model.places_)
    ref_frames = np.asarray(cfg.get("frames", np.arange(n_places)))
    n_ref = int(cfg.get("n_frames", n_places))
    refs = None
    if args.query == "synthetic":
        if "synthetic" not in data:
            fail("query", "an image folder or .npy stack (the model was not trained on the "
                 "synthetic route)", args.query)
        ds = _synthetic(data)
        query, refs = ds.query.images, ds.reference.images
        q_frames, n_query = np.arange(len(query)), len(query)
    else:
        query, _ = _images(args.query, "query")
        n_query = len(query)
        flags = _flags(args)
        if args.references is not None:    # new places: the same frames of both
            refs, _ = _images(args.references, "--references")
            if len(refs) != n_query:
                fail("--references", f"{n_query} frames like the query (the same places)",
                     len(refs))
            q_frames = _select([refs, query], "query", **flags)
            ref_frames, n_ref = q_frames, n_query
            refs = refs[q_frames]
            model.set_references(refs)
            n_places = len(refs)
        elif all(v is None for v in flags.values()) and "frames" in cfg and n_query == n_ref:
            q_frames = ref_frames           # the places the model was trained on
            _select([query[q_frames]], "query")  # warns on dark frames
        else:
            q_frames = _select([query], "query", **flags)
        query = query[q_frames]
        if args.references is None and "references" in data:
            refs = _images(_reference_list(data)[0], "references")[0]
            refs = refs[ref_frames] if len(refs) == n_ref and "frames" in cfg else refs
    gt = load_ground_truth(args.gt, n_ref, n_query, args.tolerance)[np.ix_(ref_frames, q_frames)]
    similarity = model.predict(query) if surrogate else model.predict(query, args.assignment)
    report = {"snn": summary(similarity, gt)}
    if refs is not None and len(refs) == n_places:
        p = getattr(model, "preprocess", True)
        pr = (preprocess(refs, model.size, model.patch) if p else refs)
        pq = (preprocess(query, model.size, model.patch) if p else query)
        report["sad"] = summary(sad_similarity(pr, pq), gt)
    _report(report, gt)
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

    ref, _ = _images(args.reference, "reference")
    query, _ = _images(args.query, "query")
    flags = _flags(args)
    if len(ref) == len(query):       # aligned traverses: one selection for both
        rf = qf = _select([ref, query], "reference/query", **flags)
    else:
        rf, qf = _select([ref], "reference", **flags), _select([query], "query", **flags)
    gt = load_ground_truth(args.gt, len(ref), len(query), args.tolerance)[np.ix_(rf, qf)]
    ref, query = preprocess(ref[rf]), preprocess(query[qf])
    similarity = {"sad": sad_similarity(ref, query)}
    if args.sequence > 1:
        similarity[f"sad+seq{args.sequence}"] = sequence_match(similarity["sad"], args.sequence)
    report = _report({name: summary(s, gt) for name, s in similarity.items()}, gt)
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
