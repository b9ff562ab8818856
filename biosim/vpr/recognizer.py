"""``SpikingPlaceRecognizer``: VPRSNN as a place recogniser with fit / predict / save / load.

Training (Hussaini, Milford & Fischer, RA-L 2022): the reference places are split into
modules of ``module_size`` consecutive places (ICRA 2023), each an independent network of
``n_neurons`` excitatory neurons (default 4 per place, VPRSNN's 400 for 100). For ``epochs``
epochs every reference traverse is shown, place after place (shuffled within the module
when ``shuffle``), with STDP on. Then, with weights and thresholds frozen, each reference
image is shown once more and the spike counts give ``S`` (n_neurons, n_places) per module
and ``activity_``, the number of reference images each neuron fired for
(``assignment_data="labelling"``, the default); with ``assignment_data="training"``, as the
RA-L code, ``S`` sums instead the spike counts of the training presentations of the last
3 epochs (STDP on, thresholds adapting; no labelling pass). With
``hyperactive_tau`` (ICRA 2023) every module is shown every reference image (of all modules,
all traverses: modules x images presentations) and the neurons that fire for at least
``hyperactive_tau`` of them never vote. A query
is shown once (350 ms); its spike counts are scored against ``S`` (weighted or standard
assignment) and the module scores are concatenated: ``predict`` returns a
similarity matrix (n_places x n_queries), rows in the order of ``places_``.
"""
from __future__ import annotations

import numpy as np

from biosim.core.estimator import Estimator
from biosim.core.random import make_rng
from biosim.core.validation import BiosimError, choice, fail, integer, memory, number
from biosim.vpr import assignment as asg
from biosim.vpr.snn_numba import NumbaVPRSNN, SNNParams

ASSIGNMENT_DATA = ("labelling", "training")
TRAINING_EPOCHS = 3   # assignment_data="training": the RA-L code reads the last 3 epochs

def _backend(name, n_modules, n_input, n_e, params, seed, device, n_jobs=1):
    if name == "numba":
        return NumbaVPRSNN(n_modules, n_input, n_e, params, seed, n_jobs)
    from biosim.vpr.snn_torch import TorchVPRSNN

    return TorchVPRSNN(n_modules, n_input, n_e, params, seed, device=device)


def image_stack(field, images, input_shape=None) -> np.ndarray:
    """A non-empty uint8 stack (n, H, W) or (n, H, W, 3), of ``input_shape`` when given (the
    shape of the images a model was trained on)."""
    a = np.asarray(images)
    if a.dtype != np.uint8 or a.ndim not in (3, 4) or len(a) == 0:
        fail(field, "a non-empty uint8 image stack (n, H, W) or (n, H, W, 3)",
             f"{a.dtype} array of shape {a.shape}")
    if input_shape is not None and tuple(a.shape[1:]) != tuple(input_shape):
        fail(field, f"images of shape {tuple(input_shape)} like the references the model was "
             "trained on", f"shape {a.shape[1:]}")
    return a


def reference_traverses(references, place_ids=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(images, place_ids), ...]`` from a Traverse, an image stack, or a list of either
    (``place_ids``: one array per stack, default the image index)."""
    from biosim.vpr.datasets import Traverse

    refs = references if isinstance(references, (list, tuple)) else [references]
    if not refs:
        fail("references", "at least one traverse", "an empty list")
    if place_ids is not None and len(refs) != 1 and not isinstance(place_ids, (list, tuple)):
        place_ids = [place_ids] * len(refs)
    out = []
    for k, r in enumerate(refs):
        if isinstance(r, Traverse):
            out.append((r.images, r.place_ids))
            continue
        n = len(np.asarray(r))
        ids = (np.arange(n) if place_ids is None
               else place_ids[k] if len(refs) > 1 else place_ids)
        ids = np.asarray(ids)
        if ids.shape != (n,) or ids.dtype.kind not in "iu":
            fail("place_ids", f"{n} integer place ids for traverse {k}", f"shape {ids.shape}")
        out.append((r, ids.astype(np.int64)))
    return out


class PlacePredictions:
    """What every place recogniser shares on top of ``predict`` (a similarity matrix with
    rows in the order of ``places_``): the best place of each query."""

    def predict_places(self, query_images, **kwargs) -> tuple[np.ndarray, np.ndarray]:
        """``(labels, scores)``, each of length n_queries: the place (an entry of
        ``places_``) most similar to each query and its similarity. ``kwargs`` go to
        ``predict``."""
        s = self.predict(query_images, **kwargs)
        best = s.argmax(axis=0)
        return self.places_[best], s[best, np.arange(s.shape[1])]


def place_counts(counts: np.ndarray, cols: np.ndarray, n_places: int):
    """``(S, n)``: spike counts per presentation (n_presentations, n_neurons) summed per place,
    ``S[i, l]`` (n_neurons, n_places), and ``n[l]`` the presentations of place ``l``;
    ``cols[k]`` is the place (column) of presentation ``k``."""
    S = np.zeros((counts.shape[1], n_places))
    np.add.at(S.T, cols, counts)
    return S, np.bincount(cols, minlength=n_places).astype(float)


class TrainingCounts:
    """``assignment_data="training"``: the spike counts of the training presentations of the
    last :data:`TRAINING_EPOCHS` epochs, summed per module and place (RA-L code): ``S``,
    ``n`` (presentations per place) and ``activity`` (presentations each neuron fired for),
    one array per module. Kept per epoch, so that a checkpointed fit trained on to more
    epochs still sums the last ones."""

    def __init__(self, chunks, n_e: int):
        self.shapes = [(n_e, len(ch)) for ch in chunks]
        self.epochs: list[dict] = []

    def add(self, counts, cols) -> None:
        """Record one epoch's counts (per module: (n_presentations, n_e)) and their places."""
        S, n = zip(*(place_counts(c, col, shape[1])
                     for c, col, shape in zip(counts, cols, self.shapes)))
        act = [(c > 0).sum(axis=0).astype(float) for c in counts]
        self.epochs = [*self.epochs, {"S": list(S), "n": list(n), "activity": act}]
        self.epochs = self.epochs[-TRAINING_EPOCHS:]

    def total(self, key: str) -> list[np.ndarray]:
        """``key`` ("S", "n" or "activity") summed over the recorded epochs, per module."""
        return [sum(e[key][m] for e in self.epochs) for m in range(len(self.shapes))]

    def state(self) -> dict:
        return {"epochs": self.epochs}

    def set_state(self, saved: dict) -> None:
        self.epochs = [{k: [np.array(a, float) for a in e[k]] for k in ("S", "n", "activity")}
                       for e in saved["epochs"]]


def _sorted_members(ids: np.ndarray, places: np.ndarray) -> np.ndarray:
    """Indices of the images showing one of ``places``, ordered by place id (stable)."""
    sel = np.flatnonzero(np.isin(ids, places))
    return sel[np.argsort(ids[sel], kind="stable")]


class SpikingPlaceRecognizer(PlacePredictions, Estimator):
    """VPRSNN place recogniser.

    Parameters: ``module_size`` places per module; ``n_neurons`` excitatory neurons per
    module (default ``neurons_per_place`` x places); ``epochs`` (RA-L: 60); ``assignment``
    ``"weighted"`` | ``"standard"`` (``biosim.vpr.assignment.probability_based`` turns either
    into VPRSNN's probability-based scores); ``gamma``, ``relevance`` and ``gamma_rule``
    (``"released"`` | ``"ral"``, see :func:`biosim.vpr.assignment.weighted_scores`) of the
    weighted assignment; ``assignment_data`` where ``S`` comes from: ``"labelling"`` (a
    frozen pass over the references after training) or ``"training"`` (the last 3 epochs'
    training counts, RA-L code); ``hyperactive_tau`` (None: keep all neurons); ``backend``
    ``"numba"`` (CPU, event-driven; ``n_jobs`` modules at a time in threads, same results
    for any ``n_jobs``) or ``"torch"`` (``device`` ``"cpu"`` or ``"cuda"``; all modules in
    one batch);
    ``params``: :class:`SNNParams` or a dict of overrides; ``preprocess``: apply
    :func:`biosim.vpr.preprocess.preprocess` (grey, resize to ``size``, patch normalisation
    ``patch``) to every image; ``shuffle`` the presentation order within each epoch;
    ``progress`` shows a progress bar; ``seed``.

    ``save(folder)``/``load(folder)`` (:class:`~biosim.core.estimator.Estimator`) keep the
    trained modules, labels and the query seed: a loaded model predicts the same.
    """

    _format = "biosim.vpr.SpikingPlaceRecognizer"
    _format_version = 2   # 2: the Estimator layout (1: hand-written arrays)
    _transient = ("_net",)

    def __init__(self, module_size: int = 100, n_neurons: int | None = None,
                 neurons_per_place: int = 4, epochs: int = 60, assignment: str = "weighted",
                 gamma: float = 0.02, relevance: float = 0.1, hyperactive_tau: int | None = None,
                 backend: str = "numba", device: str = "cpu", n_jobs: int = 1, params=None,
                 preprocess: bool = True, size=(28, 28), patch: int | None = 7,
                 shuffle: bool = False, progress: bool = False, seed=0,
                 assignment_data: str = "labelling", gamma_rule: str = "released"):
        self.module_size = module_size
        self.n_neurons = n_neurons
        self.neurons_per_place = neurons_per_place
        self.epochs = epochs
        self.assignment = assignment
        self.gamma = gamma
        self.relevance = relevance
        self.hyperactive_tau = hyperactive_tau
        self.backend = backend
        self.device = device
        self.n_jobs = n_jobs
        self.params = params
        self.preprocess = preprocess
        self.size = tuple(size)
        self.patch = patch
        self.shuffle = shuffle
        self.progress = progress
        self.seed = seed
        self.assignment_data = assignment_data
        self.gamma_rule = gamma_rule

    # ---- configuration -------------------------------------------------------------
    def _snn_params(self) -> SNNParams:
        if self.params is None:
            return SNNParams()
        if isinstance(self.params, SNNParams):
            return self.params
        if not isinstance(self.params, dict):
            fail("params", "an SNNParams or a dict of its fields", self.params)
        known = set(SNNParams().to_dict())
        for key in self.params:
            if key not in known:
                fail("params", "names of SNNParams fields", key)
        return SNNParams(**self.params)

    def _check(self):
        integer("module_size", self.module_size, low=1)
        integer("neurons_per_place", self.neurons_per_place, low=1)
        integer("epochs", self.epochs, low=0)
        choice("assignment", self.assignment, tuple(asg.SCORES))
        choice("backend", self.backend, ("numba", "torch"))
        integer("n_jobs", self.n_jobs, low=1)
        number("gamma", self.gamma, low=0.0)
        number("relevance", self.relevance, low=0.0, high=1.0, high_open=True)
        if self.hyperactive_tau is not None:
            integer("hyperactive_tau", self.hyperactive_tau, low=1)
        choice("gamma_rule", self.gamma_rule, asg.GAMMA_RULES)
        if choice("assignment_data", self.assignment_data, ASSIGNMENT_DATA) == "training":
            if self.hyperactive_tau is not None:
                fail("assignment_data", "'labelling' with hyperactive_tau (hyperactive "
                     "neurons are found in a labelling pass over every reference image)",
                     self.assignment_data)
            if self.epochs < 1:
                fail("epochs", "at least 1 with assignment_data='training'", self.epochs)
        if not isinstance(self.seed, (int, np.integer)):
            fail("seed", "an int (it is saved with the model)", self.seed)
        return self._snn_params()

    # ---- images --------------------------------------------------------------------
    def _pixels(self, field, images) -> np.ndarray:
        a = image_stack(field, images, getattr(self, "input_shape_", None))
        if self.preprocess:
            from biosim.vpr.preprocess import preprocess

            a = preprocess(a, self.size, self.patch)
        elif a.ndim != 3 or a.shape[1:] != (self.size[1], self.size[0]):
            fail(field, f"grey images of {self.size[1]}x{self.size[0]} pixels when "
                 "preprocess=False", f"shape {a.shape[1:]}")
        return a.reshape(len(a), -1).astype(np.float64)

    # ---- fit / predict ---------------------------------------------------------------
    def fit(self, references, place_ids=None, checkpoint=None) -> "SpikingPlaceRecognizer":
        """Train on reference traverses.

        ``references``: a :class:`biosim.vpr.datasets.Traverse`, a uint8 image stack, or a
        list of either (e.g. VPRSNN's two reference traverses); ``place_ids`` (for stacks):
        the place of each image (default: image index), one array per traverse.
        ``checkpoint``: a folder where the training state is written after
        every epoch (data only; the previous checkpoint is replaced only once the new one
        is complete). A fit given a folder holding a checkpoint of the same parameters and
        references resumes after its last epoch and ends with the same model as an
        uninterrupted fit; one of other parameters or references is an error.
        """
        params = self._check()
        self.__dict__.pop("input_shape_", None)     # refitting: any image shape is fine
        travs = reference_traverses(references, place_ids)
        shape0 = np.asarray(travs[0][0]).shape[1:]
        pix = []
        for k, (images, ids) in enumerate(travs):
            if np.asarray(images).shape[1:] != shape0:
                fail(f"references[{k}]", f"images of shape {shape0} like references[0]",
                     f"shape {np.asarray(images).shape[1:]}")
            pix.append(self._pixels(f"references[{k}]", images))
        places = np.unique(np.concatenate([ids for _, ids in travs]))
        chunks = [places[i:i + self.module_size] for i in range(0, len(places), self.module_size)]
        n_e = (self.neurons_per_place * len(chunks[0]) if self.n_neurons is None
               else integer("n_neurons", self.n_neurons, low=1))
        if n_e < len(chunks[0]):
            fail("n_neurons", f"at least as many neurons as places per module "
                 f"({len(chunks[0])})", n_e)
        # per synapse: CSR weight + index, delay, the rule's last arrival, pre_of, col_syn, order
        memory("n_neurons", 64.0 * len(chunks) * pix[0].shape[1] * n_e,
               f"{len(chunks)} module(s) of {n_e} neurons", n_e)
        rng = make_rng(self.seed)
        net = _backend(self.backend, len(chunks), pix[0].shape[1], n_e, params,
                       int(rng.integers(2**62)), self.device, self.n_jobs)
        # the images of each module: (traverse, image indices sorted by place), per traverse
        idx = [[(k, _sorted_members(ids, ch)) for k, (_, ids) in enumerate(travs)]
               for ch in chunks]
        # the place (column of S) of every image of each module, in presentation order
        cols = [np.searchsorted(ch, np.concatenate([travs[k][1][i] for k, i in mod]))
                for ch, mod in zip(chunks, idx)]
        recorded = (TrainingCounts(chunks, n_e)
                    if self.assignment_data == "training" else None)
        start, ckpt = 0, None
        if checkpoint is not None:
            from biosim.vpr.checkpoint import TrainingCheckpoint

            ckpt = TrainingCheckpoint(checkpoint, self._fingerprint(pix, travs))
            start = ckpt.resume(net, rng)
            if recorded is not None and start:
                recorded.set_state(ckpt.extra["training_counts"])
            if start > self.epochs:
                fail("checkpoint", f"at most epochs = {self.epochs} epochs (it holds {start}; "
                     "delete it to start over)", str(checkpoint))
        epochs = range(start, self.epochs)
        if self.progress:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc="VPRSNN epochs", unit="epoch", initial=start,
                          total=self.epochs)
        for epoch in epochs:
            batch, order = [], []
            for mod, col in zip(idx, cols):
                x = np.concatenate([pix[k][i] for k, i in mod])
                perm = rng.permutation(len(x)) if self.shuffle else slice(None)
                batch.append(x[perm])
                order.append(col[perm])
            counts = net.present(batch, train=True)
            if recorded is not None:
                recorded.add(counts, order)
            if ckpt is not None:
                ckpt.write(epoch + 1, net, rng, extra=None if recorded is None else
                           {"training_counts": recorded.state()})
        net.reset_state()
        label_seed = int(rng.integers(2**62))   # drawn in both modes: same predict seed
        self.places_ = places
        self.module_places_ = chunks
        self.input_shape_ = tuple(shape0)
        if recorded is not None:
            self.counts_, self.presentations_, self.activity_ = (
                recorded.total(k) for k in ("S", "n", "activity"))
        else:
            self._labelling_pass(net, pix, travs, idx, label_seed)
        self.modules_ = net.modules
        self.predict_seed_ = int(rng.integers(2**62))
        self._net = net
        return self

    def _labelling_pass(self, net, pix, travs, idx, seed) -> None:
        """Frozen labelling pass: ``S[i, l]`` over one presentation of every reference image
        of the module; with hyperactive_tau, every module sees every reference image (ICRA
        2023) and ``activity_`` counts the images each neuron fired for."""
        every = [(k, np.arange(len(ids))) for k, (_, ids) in enumerate(travs)]
        shown = [every if self.hyperactive_tau is not None else mod for mod in idx]
        labels = net.present([np.concatenate([pix[k][i] for k, i in mod]) for mod in shown],
                             train=False, seed=seed)
        self.counts_, self.presentations_, self.activity_ = [], [], []
        for ch, mod, c in zip(self.module_places_, shown, labels):
            ids = np.concatenate([travs[k][1][i] for k, i in mod])
            own = np.isin(ids, ch)
            S, n = place_counts(c[own], np.searchsorted(ch, ids[own]), len(ch))
            self.counts_.append(S)
            self.presentations_.append(n)
            self.activity_.append((c > 0).sum(axis=0).astype(float))

    def _fingerprint(self, pix, travs) -> str:
        """What a checkpoint must match: the parameters that change the model (but the
        number of epochs: a checkpoint may be trained further), and the references (pixels
        and place ids)."""
        import hashlib
        import json

        params = {k: v for k, v in self.get_params().items()
                  if k not in ("progress", "n_jobs", "epochs")}  # more epochs: train on
        h = hashlib.sha256(json.dumps(params, sort_keys=True, default=repr).encode())
        for x, (_, ids) in zip(pix, travs):
            h.update(np.ascontiguousarray(x).tobytes())
            h.update(np.asarray(ids, np.int64).tobytes())
        return h.hexdigest()

    def _network(self):
        if getattr(self, "_net", None) is None:
            m0 = self.modules_[0]
            self._net = _backend(self.backend, len(self.modules_), m0["W"].shape[0],
                                 m0["W"].shape[1], self._snn_params(), 0, self.device,
                                 self.n_jobs)
            self._net.set_modules(self.modules_)
        return self._net

    def query_counts(self, query_images) -> list[np.ndarray]:
        """Spike counts (n_neurons, n_queries) of every module for the query images."""
        if not hasattr(self, "modules_"):
            raise BiosimError("SpikingPlaceRecognizer: call fit (or load) before predict")
        q = self._pixels("query_images", query_images)
        net = self._network()
        net.reset_state()
        counts = net.present([q] * len(self.modules_), train=False, seed=self.predict_seed_)
        return [c.T.astype(np.float64) for c in counts]

    def scores(self, counts: list[np.ndarray], assignment: str | None = None) -> np.ndarray:
        """Similarity (n_places, n_queries) from query spike counts, module by module."""
        method = choice("assignment", assignment or self.assignment, tuple(asg.SCORES))
        out = []
        for S, n, a, q in zip(self.counts_, self.presentations_, self.activity_, counts):
            if self.hyperactive_tau is not None:
                S = np.where((a >= self.hyperactive_tau)[:, None], 0.0, S)
            if method == "weighted":
                out.append(asg.weighted_scores(S, q, gamma=self.gamma, relevance=self.relevance,
                                               gamma_rule=self.gamma_rule))
            else:
                out.append(asg.standard_scores(S, q, presentations=n))
        return np.concatenate(out, axis=0)

    def predict(self, query_images, assignment: str | None = None) -> np.ndarray:
        """Similarity matrix (n_places, n_queries), higher = more similar; rows = ``places_``.

        The query's Poisson draws are fixed by the model's seed: the same model gives the
        same similarity every time, also after ``save``/``load``.
        """
        return self.scores(self.query_counts(query_images), assignment)

    # ---- files -----------------------------------------------------------------------
    @classmethod
    def _legacy_readers(cls):
        def v1(meta, arr):  # the hand-written layout of format version 1
            n = int(meta["n_modules"])
            per = {k: [arr[f"{k}_{m}"] for m in range(n)] for k in
                   ("module_places", "counts", "presentations", "activity")}
            modules = [{k: arr[f"{k}_{m}"] for k in ("W", "theta", "delays")}
                       for m in range(n)]
            state = {f"{k}_": v for k, v in per.items()}
            state.update(places_=arr["places"], modules_=modules,
                         input_shape_=tuple(meta["input_shape"]),
                         predict_seed_=int(meta["predict_seed"]))
            return {"params": dict(meta["config"]), "state": state}

        return {1: v1}

    def _check_loaded(self):
        for m, mod in enumerate(getattr(self, "modules_", [])):
            n_in, n_e = mod["W"].shape
            if (mod["theta"].shape != (n_e,) or mod["delays"].shape != (n_in, n_e)
                    or self.counts_[m].shape != (n_e, len(self.module_places_[m]))
                    or self.activity_[m].shape != (n_e,)):
                fail("model", "consistent array shapes; weights.npz is corrupted",
                     f"module {m}")
        self._check()


def ensemble_predict(models, query_images, assignment: str | None = None) -> np.ndarray:
    """Sum of the similarity matrices of several (differently seeded) models (T-RO 2024)."""
    models = list(models)
    if not models:
        fail("models", "at least one trained SpikingPlaceRecognizer", "none")
    places = models[0].places_
    total = None
    for m in models:
        if not np.array_equal(m.places_, places):
            fail("models", "models trained on the same places", "different places")
        s = m.predict(query_images, assignment)
        total = s if total is None else total + s
    return total
