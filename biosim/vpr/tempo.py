"""``TempoPlaceRecognizer``: the VPRTempo-speed place recogniser (Hines et al., ICRA 2024).

A single-timestep, amplitude-coded spiking network (BLiTNet neurons): every image is one
step. The input layer carries one spike per pixel whose amplitude is the preprocessed grey
level / 255 in [0, 1]. A neuron's output is a spike amplitude

    x_j = clip(sum_i W_ji x_i - theta_j, 0, 0.9)

with a signed weight matrix W (excitatory entries > 0, inhibitory < 0, unconnected 0; the
sign of an entry never changes). Each module of up to ``module_size`` places is one network
``n_input -> n_feature (= feature_ratio * n_input) -> n_places``:

- feature layer: sparse random excitation (probability ``p_feature[0]``) and inhibition
  (``p_feature[1]``), thresholds U[``thr_range``], target firing rates rising linearly over
  the neurons from ``fire_rate[0]`` to ``fire_rate[1]``; trained unsupervised by
  :func:`stdp_update` (amplitudes drift towards 0.5), :func:`itp_update` (intrinsic threshold
  plasticity towards the target rate) and :func:`homeostasis` (inhibition scaled by the
  drive);
- output layer: one neuron per place (probabilities ``p_output``, thresholds 0), trained
  after the feature layer, with the feature layer frozen, by :func:`forcing_update` (spike
  forcing: the place's neuron is forced to ``force`` = 0.5 and every weight follows the
  delta rule) and :func:`homeostasis`.

Every layer sees ``epochs`` passes over the module's reference images (all traverses),
shuffled, one image per step; both learning rates are annealed as
``eta0 ((T - t) / T)^2`` with ``t`` rounded down to a multiple of ``anneal_every`` steps and
``T`` the number of steps of the layer. A query's similarity to the places is the drive of
the output neurons ``W_o x_feature`` (before the 0.9 clip, so that strong matches do not tie;
the released VPRTempo inference likewise reads the unclipped linear outputs); the module
outputs are concatenated, rows in the order of ``places_``.

Measured (synthetic route, references summer + autumn, query winter, 28x28, defaults, one
CPU core): Recall@1 0.50-0.60 at 50 places (route seeds 0-1 x model seeds 0-1; SAD
0.44-0.48), 0.49 at 100 (SAD 0.38), 0.38 at 500 (SAD 0.32); query rain at 50 places 0.88
(SAD 0.84-0.86). Training takes ~2-3 ms per image and layer step (~4-5 s for 100 places,
~25 s for 500), 85-120x less than VPRSNN's RA-L protocol in numba
(``benchmarks/bench_vpr_tempo.py``); queries run at ~9,000-10,000/s. With few places (20)
the default 4 epochs are too few steps for the delta rule (R@1 0.15-0.25; 16 epochs
0.30-0.35; SAD 0.40).

The output layer's connection probabilities and the gamma correction are the released
code's (``p_output = (1, 1)``: every feature neuron excites and inhibits every output
neuron, the two parts summed; gamma correction to a mean of 0.5 always on). An earlier
default, ``p_output = (0.25, 0.75)`` without gamma correction, is worse on real frames:
Nordland validation blocks (lit places 200-299, 1400-1499, 2600-2699; 8 epochs; 3 seeds,
mean over blocks and seeds) summer -> winter Recall@1 0.229 -> 0.278, winter -> summer
0.252 -> 0.290, better in each of the 6 block/direction cells; the gain is the output
connectivity's (``p_output`` alone: 0.283 / 0.281; gamma alone: 0.238 / 0.249). On the
synthetic route the two agree within the seeds' spread at 50 places and the released
settings gain 0.05-0.07 at 100 and 500 places.

Differences from the released code (QVPR/VPRTempo), all deliberate: initial weights are
normalised per neuron (each neuron's excitatory and inhibitory input weights sum to +1 and
-1; the released code divides the whole matrix by one row's L1 norm, the same in
expectation); threshold plasticity uses the formula of the paper, ``Heaviside(x) - f`` (the
released code adds ``-f`` every step, as it reads a state that is never set); the sign clamp
comes after the homeostatic scaling, so no weight can change sign.
"""
from __future__ import annotations

import numpy as np

from biosim.core.estimator import Estimator
from biosim.core.random import make_rng
from biosim.core.validation import BiosimError, fail, integer, number
from biosim.vpr.recognizer import PlacePredictions, image_stack, reference_traverses

__all__ = ["TempoPlaceRecognizer", "stdp_update", "itp_update", "forcing_update",
           "homeostasis", "clamp_signs", "sign_bounds", "spikes"]

W_MIN, W_MAX = 1e-6, 10.0   # |weight| range of a connected synapse (released code)
X_MAX = 0.9                 # largest spike amplitude


# ---- the neuron and its learning rules (torch tensors; W is (n_post, n_pre)) -------------
def spikes(W, theta, x):
    """Spike amplitudes ``clip(x @ W.T - theta, 0, 0.9)`` for inputs ``x`` (..., n_pre)."""
    import torch

    return torch.clamp(x @ W.T - theta, 0.0, X_MAX)


def stdp_update(W, sign, x_pre, x_post, eta):
    """Feature-layer STDP (VPRTempo eq. 2): for every connected synapse whose pre- and
    postsynaptic neurons both spiked, the weight's magnitude changes by
    ``eta (0.5 - x_post)`` (``W += eta sign (0.5 - x_j) H(x_j) H(x_i)``); ``sign`` is +1 / -1 /
    0 for excitatory / inhibitory / unconnected entries."""
    import torch

    post = (x_post > 0) * (0.5 - x_post)
    return torch.addcmul(W, sign, torch.outer(post, (x_pre > 0).to(W.dtype)), value=eta)


def itp_update(theta, x_post, target, eta):
    """Intrinsic threshold plasticity (VPRTempo eq. 5): ``theta += eta (H(x_post) - target)``,
    kept >= 0, so that a neuron's firing probability approaches its ``target`` rate."""
    import torch

    return torch.clamp(theta + eta * ((x_post > 0).to(theta.dtype) - target), min=0.0)


def forcing_update(W, sign, x_pre, rate_pre, x_out, place, eta, force=0.5):
    """Spike forcing (VPRTempo eq. 6), a delta rule on the output layer: the neuron of
    ``place`` should spike with amplitude ``force`` and all others stay silent;
    ``W_ji += eta (x_i / f_i) (force_j - x_j)`` for every connected synapse, ``f_i`` the
    presynaptic neuron's target rate (rarely firing inputs learn faster)."""
    import torch

    want = torch.zeros_like(x_out)
    want[place] = force
    return torch.addcmul(W, sign.abs(), torch.outer(want - x_out, x_pre / rate_pre), value=eta)


def homeostasis(W, drive, gain):
    """Inhibitory homeostasis: every inhibitory (negative) weight onto neuron j is scaled by
    ``1 + gain drive_j`` (``drive = W x``, before the threshold): net excitation strengthens
    the neuron's inhibition, net inhibition weakens it (released code: gain = 50 eta_stdp)."""
    import torch

    return torch.addcmul(W, W.clamp(max=0.0), drive[:, None], value=gain)


def sign_bounds(sign):
    """Per-entry (low, high) bounds for :func:`clamp_signs`: [1e-6, 10] for excitatory
    (+1), [-10, -1e-6] for inhibitory (-1) and [0, 0] for unconnected (0) entries."""
    import torch

    lo = torch.where(sign > 0, W_MIN, torch.where(sign < 0, -W_MAX, 0.0)).to(sign.dtype)
    hi = torch.where(sign > 0, W_MAX, torch.where(sign < 0, -W_MIN, 0.0)).to(sign.dtype)
    return lo, hi


def clamp_signs(W, bounds):
    """Keep every connected weight's sign and its magnitude in [1e-6, 10]; ``bounds`` from
    :func:`sign_bounds`."""
    import torch

    return torch.clamp(W, bounds[0], bounds[1])


def _init_layer(n_pre, n_post, p_exc, p_inh, gen, dtype, device):
    """Signed weights (n_post, n_pre): |N(0.5, 1/6)| excitation with probability p_exc plus
    -|N(0.5, 1/6)| inhibition with probability p_inh (summed where both), each part
    normalised per neuron to an L1 norm of 1; and the sign of every entry."""
    import torch

    def part(p):
        w = torch.empty(n_post, n_pre, dtype=dtype).normal_(0.5, 1 / 6, generator=gen)
        w = w.clamp(min=0.0) * (torch.rand(n_post, n_pre, generator=gen, dtype=dtype) < p)
        norm = w.sum(dim=1, keepdim=True)
        return w / torch.where(norm > 0, norm, torch.ones_like(norm))

    W = (part(p_exc) - part(p_inh)).to(device)
    return W, torch.sign(W)


class TempoPlaceRecognizer(PlacePredictions, Estimator):
    """VPRTempo place recogniser (see the module docstring for the network and rules).

    Parameters: ``module_size`` places per module (VPRTempo: up to ~1,000); ``epochs`` passes
    over the references per layer (VPRTempo: 4); ``feature_ratio`` feature neurons per input
    pixel (2); ``thr_range`` initial feature thresholds; ``fire_rate`` (low, high) target
    rates; ``eta_ip`` (0.15) and ``eta_stdp`` (0.005) initial learning rates, annealed every
    ``anneal_every`` steps; ``homeostasis_gain`` (50: gain = 50 eta_stdp); ``p_feature`` and
    ``p_output``: (excitatory, inhibitory) connection probabilities (released code: (0.1, 0.5)
    and (1, 1)); ``force`` the forced amplitude; ``preprocess``: grey, ``gamma`` correction
    (:func:`biosim.vpr.preprocess.gamma_correct`, released code: 0.5; None: off), resize to
    ``size``, patch normalisation ``patch``; ``device`` ``"cpu"`` or ``"cuda"``; ``progress`` bar; ``seed``.
    ``save(folder)``/``load(folder)`` come from :class:`~biosim.core.estimator.Estimator`.
    """

    _format = "biosim.vpr.TempoPlaceRecognizer"
    _format_version = 2   # 2: the Estimator layout (1: hand-written arrays)

    def __init__(self, module_size: int = 1000, epochs: int = 4, feature_ratio: int = 2,
                 thr_range=(0.0, 0.5), fire_rate=(0.2, 0.9), eta_ip: float = 0.15,
                 eta_stdp: float = 0.005, anneal_every: int = 100,
                 homeostasis_gain: float = 50.0, p_feature=(0.1, 0.5), p_output=(1.0, 1.0),
                 force: float = 0.5, preprocess: bool = True, size=(28, 28),
                 patch: int | None = 7, gamma: float | None = 0.5, device: str = "cpu",
                 progress: bool = False, seed=0):
        self.module_size = module_size
        self.epochs = epochs
        self.feature_ratio = feature_ratio
        self.thr_range = tuple(thr_range)
        self.fire_rate = tuple(fire_rate)
        self.eta_ip = eta_ip
        self.eta_stdp = eta_stdp
        self.anneal_every = anneal_every
        self.homeostasis_gain = homeostasis_gain
        self.p_feature = tuple(p_feature)
        self.p_output = tuple(p_output)
        self.force = force
        self.preprocess = preprocess
        self.size = tuple(size)
        self.patch = patch
        self.gamma = gamma
        self.device = device
        self.progress = progress
        self.seed = seed

    def _check(self):
        integer("module_size", self.module_size, low=1)
        integer("epochs", self.epochs, low=1)
        integer("feature_ratio", self.feature_ratio, low=1)
        integer("anneal_every", self.anneal_every, low=1)
        for field in ("thr_range", "fire_rate", "p_feature", "p_output"):
            pair = getattr(self, field)
            if len(pair) != 2:
                fail(field, "a pair (low, high)", pair)
            for k, v in enumerate(pair):
                number(f"{field}[{k}]", v, low=0.0, high=1.0)
        if self.thr_range[0] > self.thr_range[1]:
            fail("thr_range", "low <= high", self.thr_range)
        if not 0 < self.fire_rate[0] <= self.fire_rate[1]:
            fail("fire_rate", "0 < low <= high <= 1", self.fire_rate)
        number("eta_ip", self.eta_ip, low=0.0)
        number("eta_stdp", self.eta_stdp, low=0.0)
        number("homeostasis_gain", self.homeostasis_gain, low=0.0)
        number("force", self.force, low=0.0, low_open=True, high=X_MAX)
        if self.gamma is not None:
            number("gamma", self.gamma, low=0.0, low_open=True, high=1.0)
        if self.device not in ("cpu", "cuda") and not str(self.device).startswith("cuda:"):
            fail("device", "'cpu', 'cuda' or 'cuda:N'", self.device)
        if not isinstance(self.seed, (int, np.integer)):
            fail("seed", "an int (it is saved with the model)", self.seed)

    # ---- images ------------------------------------------------------------------------
    def _pixels(self, field, images) -> np.ndarray:
        """Spike amplitudes (n, n_input) in [0, 1] from a uint8 stack."""
        a = image_stack(field, images, getattr(self, "input_shape_", None))
        if self.preprocess:
            from biosim.vpr.preprocess import gamma_correct, preprocess

            if self.gamma is not None:
                a = gamma_correct(a, self.gamma)
            a = preprocess(a, self.size, self.patch)
        elif a.ndim != 3 or a.shape[1:] != (self.size[1], self.size[0]):
            fail(field, f"grey images of {self.size[1]}x{self.size[0]} pixels when "
                 "preprocess=False", f"shape {a.shape[1:]}")
        return a.reshape(len(a), -1).astype(np.float32) / 255.0

    # ---- training ----------------------------------------------------------------------
    def _train_layer(self, x, labels, W, sign, theta, rate, gen, feature, bar=None):
        """``epochs`` shuffled passes of one layer over its inputs ``x`` (n, n_pre); ``rate``:
        the target rates of the layer (feature) or of its inputs (output)."""
        import torch

        n = len(x)
        T = n * self.epochs
        bounds = sign_bounds(sign)
        for t in range(T):
            if t % n == 0:
                order = torch.randperm(n, generator=gen)
                if bar is not None and t:
                    bar.update(1)
            i = int(order[t % n])
            block = (t // self.anneal_every) * self.anneal_every
            anneal = ((T - block) / T) ** 2
            eta_stdp = self.eta_stdp * anneal
            x_pre = x[i]
            drive = W @ x_pre
            x_post = torch.clamp(drive - theta, 0.0, X_MAX)
            if feature:
                W = stdp_update(W, sign, x_pre, x_post, eta_stdp)
                theta = itp_update(theta, x_post, rate, self.eta_ip * anneal)
            else:
                W = forcing_update(W, sign, x_pre, rate, x_post, int(labels[i]),
                                   eta_stdp, self.force)
            W = clamp_signs(homeostasis(W, drive, self.homeostasis_gain * eta_stdp), bounds)
        if bar is not None and T:
            bar.update(1)
        return W, theta

    def fit(self, references, place_ids=None) -> "TempoPlaceRecognizer":
        """Train on reference traverses (a :class:`biosim.vpr.datasets.Traverse`, a uint8
        stack, or a list of either; ``place_ids`` for stacks: the place of each image, one
        array per traverse). Places are split into modules of ``module_size``."""
        import torch

        self._check()
        self.__dict__.pop("input_shape_", None)
        travs = reference_traverses(references, place_ids)
        shape0 = np.asarray(travs[0][0]).shape[1:]
        pix, ids = [], []
        for k, (images, pid) in enumerate(travs):
            if np.asarray(images).shape[1:] != shape0:
                fail(f"references[{k}]", f"images of shape {shape0} like references[0]",
                     f"shape {np.asarray(images).shape[1:]}")
            pix.append(self._pixels(f"references[{k}]", images))
            ids.append(pid)
        pix, ids = np.concatenate(pix), np.concatenate(ids)
        places = np.unique(ids)
        chunks = [places[i:i + self.module_size]
                  for i in range(0, len(places), self.module_size)]
        gen = torch.Generator().manual_seed(int(make_rng(self.seed).integers(2**62)))
        n_in = pix.shape[1]
        n_f = self.feature_ratio * n_in
        dev = torch.device(self.device)
        modules = []
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            # one tick per epoch of each layer of each module
            bar = tqdm(total=2 * self.epochs * len(chunks), desc="VPRTempo epochs",
                       unit="epoch")
        for ch in chunks:
            sel = np.flatnonzero(np.isin(ids, ch))
            x = torch.from_numpy(pix[sel]).to(dev)
            labels = np.searchsorted(ch, ids[sel])
            Wf, sf = _init_layer(n_in, n_f, *self.p_feature, gen, torch.float32, dev)
            thf = (torch.rand(n_f, generator=gen) * (self.thr_range[1] - self.thr_range[0])
                   + self.thr_range[0]).to(dev)
            lo, hi = self.fire_rate
            rate = torch.tensor(lo + (hi - lo) * np.arange(1, n_f + 1) / n_f,
                                dtype=torch.float32, device=dev)
            Wf, thf = self._train_layer(x, labels, Wf, sf, thf, rate, gen, feature=True,
                                        bar=bar)
            Wo, so = _init_layer(n_f, len(ch), *self.p_output, gen, torch.float32, dev)
            tho = torch.zeros(len(ch), device=dev)
            Wo, _ = self._train_layer(spikes(Wf, thf, x), labels, Wo, so, tho, rate, gen,
                                      feature=False, bar=bar)
            modules.append({"W_feature": Wf.cpu().numpy(), "theta_feature": thf.cpu().numpy(),
                            "W_output": Wo.cpu().numpy()})
        if bar is not None:
            bar.close()
        self.places_ = places
        self.module_places_ = chunks
        self.input_shape_ = tuple(shape0)
        self.modules_ = modules
        return self

    # ---- predict -----------------------------------------------------------------------
    def predict(self, query_images) -> np.ndarray:
        """Similarity (n_places, n_queries), higher = more similar: the drive of every
        module's output neurons, concatenated; rows = ``places_``. Deterministic."""
        import torch

        if not hasattr(self, "modules_"):
            raise BiosimError("TempoPlaceRecognizer: call fit (or load) before predict")
        dev = torch.device(self.device)
        x = torch.from_numpy(self._pixels("query_images", query_images)).to(dev)
        out = []
        with torch.no_grad():
            for m in self.modules_:
                Wf = torch.from_numpy(m["W_feature"]).to(dev)
                th = torch.from_numpy(m["theta_feature"]).to(dev)
                Wo = torch.from_numpy(m["W_output"]).to(dev)
                out.append((spikes(Wf, th, x) @ Wo.T).T.cpu().numpy())
        return np.concatenate(out, axis=0).astype(np.float64)

    # ---- files -------------------------------------------------------------------------
    @classmethod
    def _legacy_readers(cls):
        def v1(meta, arr):  # the hand-written layout of format version 1
            n = int(meta["n_modules"])
            return {"params": dict(meta["config"]), "state": {
                "places_": arr["places"],
                "module_places_": [arr[f"module_places_{m}"] for m in range(n)],
                "modules_": [{k: arr[f"{k}_{m}"] for k in
                              ("W_feature", "theta_feature", "W_output")} for m in range(n)],
                "input_shape_": tuple(meta["input_shape"])}}

        return {1: v1}

    def _check_loaded(self):
        for m, mod in enumerate(getattr(self, "modules_", [])):
            n_f, _ = mod["W_feature"].shape
            if (mod["theta_feature"].shape != (n_f,)
                    or mod["W_output"].shape != (len(self.module_places_[m]), n_f)):
                fail("model", "consistent array shapes; weights.npz is corrupted",
                     f"module {m}")
        self._check()
