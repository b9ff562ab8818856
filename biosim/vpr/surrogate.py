"""``SurrogatePlaceRecognizer``: a convolutional spiking network (snntorch) trained with
surrogate gradients to give season-invariant place descriptors.

Network (one grey image, patch-normalised to [-1, 1], ``size`` = 64 x 32 pixels by default):
``len(channels)`` convolutions (kernel ``kernels``, stride ``strides``, batch normalisation),
each followed by a layer of leaky integrate-and-fire neurons (``snntorch.Leaky``,
``mem <- beta mem + I - spike``, threshold 1, reset by subtraction), run for ``time_steps``
steps. Direct current encoding: the first convolution of the static image is the constant
input current of the first layer at every step. The place descriptor (channels x positions
of the last layer, L2-normalised) is read out by ``readout``: ``"membrane"`` (default) makes
the last layer a non-firing leaky integrator (``mem <- beta mem + I``, no threshold) of the
current its convolution makes of the previous layer's spikes, and the descriptor is its
membrane potential after the last step; ``"spikes"`` makes it spike like the others, and the
descriptor is its spike counts.

Similarity (:meth:`predict`, chosen on validation, both transductive: a call's references are
one traverse and its queries another): with ``centre`` every traverse's descriptors are
centred on their own mean and L2-normalised again (the mean carries the traverse's global
appearance, e.g. the season), then compared by their cosine; with ``csls_k`` > 0 the cosine is
corrected for hubs (CSLS, Conneau et al. 2018, arXiv:1710.04087): ``2 cos(r, q) - h(r) - h(q)``,
``h(r)`` the mean cosine of reference ``r`` to its ``csls_k`` most similar queries and ``h(q)``
that of query ``q`` to its ``csls_k`` most similar references, so a reference that resembles
every query no longer wins them all.

Training (BPTT through the ``time_steps`` steps, ``snntorch.surrogate.fast_sigmoid`` with
``slope`` as the spike's derivative): every batch holds ``batch_size`` places of the training
stretch, each seen in two of its images (on Nordland its summer and its winter frame), both
randomly shifted by up to ``shift`` = (x, y) pixels and scaled in contrast by up to
``contrast``; the loss is the symmetric InfoNCE (contrastive) loss with temperature
``temperature``: each image must pick its partner among the ``2 batch_size - 1`` others, so
every other place in the batch is a negative and the hardest dominate the softmax. Adam
(``lr``) with a cosine schedule over ``epochs``; after every epoch the mean Recall@1 of both
directions on the ``validation`` stretch decides early stopping (``patience`` epochs without
improvement) and the weights of the best epoch are kept.

New places need no training: :meth:`set_references` computes the descriptors of reference
images of places never seen. ``neuron="relu"`` gives the non-spiking twin of the same
architecture (ReLU units, one pass, the descriptor is the last layer's activation).

Inference (descriptors, :meth:`predict`) runs the same network on a faster path: the snntorch
neurons' update in place (the same spikes, exactly) and the linear membrane readout as one
convolution of the beta-weighted spikes (the same descriptor to float32 rounding); ~3,000
queries per CPU second on one thread, preprocessing included (the snntorch forward: ~1,400).
"""
from __future__ import annotations

import copy
import time

import numpy as np

from biosim.core.estimator import Estimator
from biosim.core.random import make_rng
from biosim.core.validation import BiosimError, choice, fail, integer, number
from biosim.vpr.recognizer import PlacePredictions, image_stack, reference_traverses

__all__ = ["SurrogatePlaceRecognizer", "csls", "resolve_device"]


def resolve_device(device: str):
    """A torch device for ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; one-line error when it is
    not available here."""
    import torch

    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
        fail("device", "'cpu' or 'cuda' (or 'cuda:N')", device)
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            fail("device", "'cpu' (no CUDA device is available here)", device)
        try:
            dev = torch.device(device)
        except RuntimeError:
            fail("device", "'cuda' or 'cuda:N'", device)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            fail("device", f"a CUDA index < {torch.cuda.device_count()}", device)
        return dev
    return torch.device("cpu")


def _network(channels, kernels, strides, time_steps, beta, slope, spiking, membrane):
    """The torch module (built on use, so that ``import biosim.vpr.surrogate`` needs no
    torch)."""
    import snntorch as snn
    import torch
    from snntorch import surrogate

    class ConvSNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            ins = (1, *channels[:-1])
            self.convs = torch.nn.ModuleList(
                torch.nn.Conv2d(i, o, k, s, k // 2) for i, o, k, s in
                zip(ins, channels, kernels, strides))
            self.norms = torch.nn.ModuleList(torch.nn.BatchNorm2d(o) for o in channels)
            grad = surrogate.fast_sigmoid(slope=slope)
            self.neurons = torch.nn.ModuleList(
                snn.Leaky(beta=beta, spike_grad=grad, reset_mechanism="subtract")
                for _ in channels)

        def _run(self, current, neuron):
            """Spikes (T, B, C, H, W) of one layer for a current (T, B, ...) or a constant
            current (B, ...)."""
            mem = neuron.init_leaky()
            out = []
            for t in range(time_steps):
                spk, mem = neuron(current if current.dim() == 4 else current[t], mem)
                out.append(spk)
            return torch.stack(out)

        def forward(self, x, record: bool = False):
            """Descriptor (B, D) before normalisation; with ``record`` also the list of every
            layer's spikes (T, B, C, H, W) (ReLU: activations (B, C, H, W))."""
            layers = []
            if not spiking:
                h = x
                for k, (conv, norm) in enumerate(zip(self.convs, self.norms)):
                    h = norm(conv(h))
                    # the twin of the membrane readout is a linear last layer
                    h = h if membrane and k == len(channels) - 1 else torch.relu(h)
                    layers.append(h)
                return (h.flatten(1), layers) if record else h.flatten(1)
            # layer by layer over all steps: one convolution over T x B images per layer
            spk = self._run(self.norms[0](self.convs[0](x)), self.neurons[0])
            layers.append(spk)
            last = len(channels) - 1 if membrane else len(channels)
            for conv, norm, neuron in list(zip(self.convs, self.norms, self.neurons))[1:last]:
                t, b = spk.shape[:2]
                spk = self._run(norm(conv(spk.flatten(0, 1))).unflatten(0, (t, b)), neuron)
                layers.append(spk)
            if membrane:
                # the last layer integrates its input current without firing (leaky, no
                # threshold): the descriptor is its membrane potential after the last step
                conv, norm = self.convs[-1], self.norms[-1]
                t, b = spk.shape[:2]
                current = norm(conv(spk.flatten(0, 1))).unflatten(0, (t, b))
                mem = torch.zeros_like(current[0])
                for step in current:
                    mem = beta * mem + step
                return (mem.flatten(1), layers) if record else mem.flatten(1)
            counts = spk.sum(0).flatten(1)
            return (counts, layers) if record else counts

        def _spikes(self, current, neuron):
            """Inference twin of :meth:`_run`: the same float32 operations as
            ``snntorch.Leaky.forward`` (``mem <- beta mem + I - reset threshold``, ``spike =
            mem > threshold``), but in place on preallocated tensors, 4 passes per step
            instead of ~16. snntorch's reset is delayed (``reset_delay``): the reset of step t
            is the spike of step t - 1, so it is not computed again."""
            beta, threshold = neuron.beta.clamp(0, 1), float(neuron.threshold)
            spk = current.new_empty((time_steps, *current.shape[-4:]))
            mem = torch.zeros_like(spk[0])
            for t in range(time_steps):
                mem.mul_(beta).add_(current if current.dim() == 4 else current[t])
                if t:       # at t = 0 the reset is 0 (exact to skip)
                    mem.sub_(spk[t - 1], alpha=threshold)    # spike x threshold is exact
                torch.gt(mem, threshold, out=spk[t])
            return spk

        def descriptor(self, x):
            """``forward(x)`` for inference (eval mode, no gradients), faster: equal spikes,
            and a descriptor equal to float32 rounding (the membrane readout's)."""
            if not spiking:
                return self(x)
            spk = self._spikes(self.norms[0](self.convs[0](x)), self.neurons[0])
            last = len(channels) - 1 if membrane else len(channels)
            for conv, norm, neuron in list(zip(self.convs, self.norms, self.neurons))[1:last]:
                t, b = spk.shape[:2]
                spk = self._spikes(norm(conv(spk.flatten(0, 1))).unflatten(0, (t, b)), neuron)
            if not membrane:
                return spk.sum(0).flatten(1)
            # the readout is linear in the spikes: sum_t beta^(T-1-t) BN(conv(spk_t)) is one
            # convolution of the beta-weighted spike sum, with BN (an affine map per channel
            # in eval mode) folded into its weights and bias: 1 convolution instead of T
            conv, norm = self.convs[-1], self.norms[-1]
            decay = beta ** torch.arange(time_steps - 1, -1, -1, dtype=x.dtype, device=x.device)
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            bias = decay.sum() * ((conv.bias - norm.running_mean) * scale + norm.bias)
            return torch.nn.functional.conv2d(
                torch.tensordot(decay, spk, dims=1), conv.weight * scale[:, None, None, None],
                bias, conv.stride, conv.padding).flatten(1)

    return ConvSNN()


class SurrogatePlaceRecognizer(PlacePredictions, Estimator):
    """Spiking place recogniser trained with surrogate gradients (see the module docstring).

    Parameters: ``channels``, ``kernels``, ``strides`` of the convolutional layers;
    ``time_steps``; ``beta`` (membrane decay per step); ``slope`` of the fast-sigmoid
    surrogate; ``centre`` and ``csls_k`` (the similarity of :meth:`predict`, see the module
    docstring; ``centre=False, csls_k=0`` is the plain cosine); ``neuron`` ``"leaky"``
    (spiking) or ``"relu"`` (the non-spiking twin, whose last layer is linear with the
    membrane readout); ``readout`` ``"membrane"`` or
    ``"spikes"`` (the last layer, see the module docstring);
    ``epochs`` (at most), ``batch_size`` (places per batch), ``lr``, ``temperature``,
    ``shift`` (x, y) in pixels and ``contrast`` (augmentation), ``patience`` (epochs without
    a better validation Recall@1 before stopping); ``size`` (width, height) the images are
    resized to and ``patch`` the patch-normalisation window (pixels); ``device`` ``"cpu"``
    or ``"cuda"``; ``batch_predict`` images per inference batch; ``progress`` shows a bar
    per epoch; ``seed``. ``save(folder)``/``load(folder)`` come from
    :class:`~biosim.core.estimator.Estimator` (JSON + ``.npz``: the network's state, the
    reference descriptors, the training history).
    """

    _format = "biosim.vpr.SurrogatePlaceRecognizer"
    _transient = ("_net",)

    def __init__(self, channels=(32, 64, 64), kernels=(7, 3, 3), strides=(4, 2, 1),
                 time_steps: int = 6, beta: float = 0.8, slope: float = 25.0,
                 neuron: str = "leaky", readout: str = "membrane", centre: bool = True,
                 csls_k: int = 3, epochs: int = 30,
                 batch_size: int = 128, lr: float = 2e-3, temperature: float = 0.1, shift=(4, 2),
                 contrast: float = 0.2, patience: int = 6, size=(64, 32), patch: int = 7,
                 device: str = "cpu", batch_predict: int = 128, progress: bool = False,
                 seed=0):
        self.channels = tuple(channels)
        self.kernels = tuple(kernels)
        self.strides = tuple(strides)
        self.time_steps = time_steps
        self.beta = beta
        self.slope = slope
        self.neuron = neuron
        self.readout = readout
        self.centre = centre
        self.csls_k = csls_k
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.temperature = temperature
        self.shift = tuple(shift)
        self.contrast = contrast
        self.patience = patience
        self.size = tuple(size)
        self.patch = patch
        self.device = device
        self.batch_predict = batch_predict
        self.progress = progress
        self.seed = seed

    # ---- configuration -------------------------------------------------------------
    def _check(self):
        n = len(self.channels)
        if n == 0 or len(self.kernels) != n or len(self.strides) != n:
            fail("kernels/strides", f"one kernel and one stride per layer ({n} channels)",
                 (self.kernels, self.strides))
        for key in ("channels", "kernels", "strides"):
            for v in getattr(self, key):
                integer(key, v, low=1)
        integer("time_steps", self.time_steps, low=1)
        number("beta", self.beta, low=0.0, high=1.0)
        number("slope", self.slope, low=0.0, low_open=True)
        choice("neuron", self.neuron, ("leaky", "relu"))
        choice("readout", self.readout, ("spikes", "membrane"))
        if self.readout == "membrane" and len(self.channels) < 2:
            fail("readout", "'spikes' for a single layer (membrane needs a spiking layer "
                 "before the readout)", self.readout)
        if not isinstance(self.centre, (bool, np.bool_)):
            fail("centre", "True or False", self.centre)
        integer("csls_k", self.csls_k, low=0)
        integer("epochs", self.epochs, low=0)
        integer("batch_size", self.batch_size, low=2)
        number("lr", self.lr, low=0.0, low_open=True)
        number("temperature", self.temperature, low=0.0, low_open=True)
        if len(self.shift) != 2:
            fail("shift", "(x, y) in pixels", self.shift)
        for v in self.shift:
            integer("shift", v, low=0)
        number("contrast", self.contrast, low=0.0, high=1.0, high_open=True)
        integer("patience", self.patience, low=1)
        if len(self.size) != 2:
            fail("size", "(width, height) in pixels", self.size)
        integer("patch", self.patch, low=1)
        integer("batch_predict", self.batch_predict, low=1)
        if not isinstance(self.seed, (int, np.integer)):
            fail("seed", "an int (it is saved with the model)", self.seed)
        return resolve_device(self.device)

    def _build(self):
        return _network(self.channels, self.kernels, self.strides, int(self.time_steps),
                        float(self.beta), float(self.slope), self.neuron == "leaky",
                        self.readout == "membrane")

    # ---- images --------------------------------------------------------------------
    def _pixels(self, field, images) -> np.ndarray:
        """Grey, resized to ``size``, patch-normalised: float32 (n, 1, H, W) in [-1, 1]."""
        from biosim.vpr.preprocess import patch_normalise_float, resize

        a = image_stack(field, images, getattr(self, "input_shape_", None))
        x = patch_normalise_float(resize(a, self.size), self.patch)
        return x.astype(np.float32)[:, None]

    def _augment(self, x, gen):
        """Random shifts (replicate padding) and contrast of a batch (B, 1, H, W)."""
        import torch

        sx, sy = self.shift
        b, _, h, w = x.shape
        if sx or sy:
            p = torch.nn.functional.pad(x, (sx, sx, sy, sy), mode="replicate")
            dx = torch.randint(0, 2 * sx + 1, (b,), generator=gen).to(x.device)
            dy = torch.randint(0, 2 * sy + 1, (b,), generator=gen).to(x.device)
            rows = (dy[:, None] + torch.arange(h, device=x.device))[:, :, None]
            cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, :]
            x = p[torch.arange(b, device=x.device)[:, None, None], 0, rows, cols][:, None]
        if self.contrast:
            g = 1.0 + self.contrast * (2 * torch.rand(b, 1, 1, 1, generator=gen) - 1)
            x = x * g.to(x.device)
        return x

    # ---- fit -------------------------------------------------------------------------
    def fit(self, references, place_ids=None, validation=None) -> "SurrogatePlaceRecognizer":
        """Train on the traverses of a training stretch.

        ``references``: a :class:`biosim.vpr.datasets.Traverse`, a uint8 image stack, or a
        list of either (on Nordland: summer and winter of the same places); ``place_ids``
        (for stacks): the place of each image, one array per traverse (default: the image
        index, i.e. every traverse shows places 0, 1, ...). Images of one place in different
        traverses are the positive pairs. ``validation``: ``(reference_images,
        query_images)`` of other places, same index = same place (or a
        :class:`biosim.vpr.datasets.PlaceDataset` with that ground truth), for early
        stopping; without it every epoch runs and the last weights are kept.
        The first traverse's images become the references of :meth:`predict`.
        """
        import torch

        dev = self._check()
        self.__dict__.pop("input_shape_", None)
        travs = reference_traverses(references, place_ids)
        shape0 = np.asarray(travs[0][0]).shape[1:]
        pix, ids = [], []
        for k, (images, pid) in enumerate(travs):
            if len(np.asarray(images)) == 0:
                fail(f"references[{k}]", "a non-empty stretch of images", "0 images")
            if np.asarray(images).shape[1:] != shape0:
                fail(f"references[{k}]", f"images of shape {shape0} like references[0]",
                     f"shape {np.asarray(images).shape[1:]}")
            pix.append(self._pixels(f"references[{k}]", images))
            ids.append(pid)
        pix, ids = np.concatenate(pix), np.concatenate(ids)
        places, member = np.unique(ids, return_inverse=True)
        if len(places) < 2:
            fail("references", "images of at least 2 places", f"{len(places)} place")
        val = self._validation_pixels(validation, shape0)
        rng = make_rng(self.seed)
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(2**62)))
            net = self._build().to(dev)
        # the images of each place: padded index table (places, max images), -1 = none
        order = np.argsort(member, kind="stable")
        counts = np.bincount(member)
        table = np.full((len(places), counts.max()), -1)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        for p, (s, c) in enumerate(zip(starts, counts)):
            table[p, :c] = order[s:s + c]
        x_all = torch.from_numpy(pix).to(dev)
        table_t = torch.from_numpy(table)
        counts_t = torch.from_numpy(counts)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(int(self.epochs), 1))
        history = {"epoch": [], "loss": [], "val_recall1": [], "seconds": []}
        best, best_state, waited = -np.inf, None, 0
        epochs = range(int(self.epochs))
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            epochs = bar = tqdm(epochs, desc=f"surrogate ({self.neuron}) epochs", unit="epoch")
        deterministic = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            for epoch in epochs:
                t0 = time.perf_counter()
                net.train()
                perm = torch.randperm(len(places), generator=gen)
                total, n_batches = 0.0, 0
                for s in range(0, len(perm), self.batch_size):
                    batch = perm[s:s + self.batch_size]
                    if len(batch) < 2:
                        continue
                    # two different images of each place (the same one twice if it has one)
                    c = counts_t[batch]
                    a = (torch.rand(len(batch), generator=gen) * c).long()
                    b = (a + 1 + (torch.rand(len(batch), generator=gen) * (c - 1)).long()) % c
                    ia, ib = table_t[batch, a], table_t[batch, b]
                    xa = self._augment(x_all[ia], gen)
                    xb = self._augment(x_all[ib], gen)
                    d = torch.nn.functional.normalize(net(torch.cat([xa, xb])), dim=1)
                    loss = _info_nce(d[:len(batch)], d[len(batch):], self.temperature)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach())
                    n_batches += 1
                sched.step()
                history["epoch"].append(epoch + 1)
                history["loss"].append(total / max(n_batches, 1))
                score = self._val_score(net, val) if val is not None else None
                history["val_recall1"].append(score)
                history["seconds"].append(time.perf_counter() - t0)
                if bar is not None:
                    bar.set_postfix(loss=f"{history['loss'][-1]:.3f}",
                                    val_r1="-" if score is None else f"{score:.3f}")
                if val is not None:
                    if score > best:
                        best, waited = score, 0
                        best_state = copy.deepcopy(net.state_dict())
                    else:
                        waited += 1
                        if waited >= self.patience:
                            break
        finally:
            torch.use_deterministic_algorithms(deterministic)
            if bar is not None:
                bar.close()
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        self._net = net
        self.state_ = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
        self.input_shape_ = tuple(shape0)
        self.history_ = history
        self.best_epoch_ = (int(history["epoch"][int(np.argmax(history["val_recall1"]))])
                            if val is not None and history["epoch"] else len(history["epoch"]))
        first = travs[0]
        self.set_references(first[0], first[1])
        return self

    def _validation_pixels(self, validation, shape0):
        from biosim.vpr.datasets import PlaceDataset

        if validation is None:
            return None
        if isinstance(validation, PlaceDataset):
            if not np.array_equal(validation.ground_truth,
                                  np.eye(*validation.ground_truth.shape, dtype=bool)):
                fail("validation", "a PlaceDataset whose ground truth is 'same index'",
                     "another ground truth")
            validation = (validation.reference.images, validation.query.images)
        if not (isinstance(validation, (tuple, list)) and len(validation) == 2):
            fail("validation", "(reference_images, query_images) of the same places", validation)
        r = image_stack("validation[0]", validation[0], shape0)
        q = image_stack("validation[1]", validation[1], shape0)
        if len(r) != len(q):
            fail("validation", "as many query as reference images (same index = same place)",
                 f"{len(r)} and {len(q)}")
        return self._pixels("validation[0]", r), self._pixels("validation[1]", q)

    def _val_score(self, net, val) -> float:
        """Mean Recall@1 of both directions (reference -> query and query -> reference), on
        the plain cosine of the descriptors (the network's own quality, as validated)."""
        ref = self._descriptors(net, val[0])
        qry = self._descriptors(net, val[1])
        sim = ref @ qry.T
        n = np.arange(len(sim))
        return float(((sim.argmax(0) == n).mean() + (sim.argmax(1) == n).mean()) / 2)

    # ---- descriptors and prediction --------------------------------------------------
    def _network(self):
        import torch

        if getattr(self, "_net", None) is None:
            if not hasattr(self, "state_"):
                raise BiosimError("SurrogatePlaceRecognizer: call fit (or load) first")
            net = self._build()
            net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in
                                 self.state_.items()})
            self._net = net.eval()
        return self._net.to(resolve_device(self.device))

    def _descriptors(self, net, x: np.ndarray) -> np.ndarray:
        import torch

        net.eval()
        dev = next(net.parameters()).device
        out = []
        with torch.inference_mode():
            for s in range(0, len(x), self.batch_predict):
                d = net.descriptor(torch.from_numpy(x[s:s + self.batch_predict]).to(dev))
                out.append(torch.nn.functional.normalize(d, dim=1).cpu().numpy())
        return np.concatenate(out).astype(np.float64)

    def descriptors(self, images) -> np.ndarray:
        """L2-normalised descriptors (n, D) of images of the training size (float64)."""
        net, n = self._network(), self.batch_predict
        a = image_stack("images", images, getattr(self, "input_shape_", None))
        # preprocessed batch by batch (the same pixels): its float64 temporaries stay in the
        # cache and need no fresh pages, half the time of one pass over all the images
        return np.concatenate([self._descriptors(net, self._pixels("images", a[s:s + n]))
                               for s in range(0, len(a), n)])

    def set_references(self, images, place_ids=None) -> "SurrogatePlaceRecognizer":
        """Use ``images`` (places never trained on need no training) as the reference places
        of :meth:`predict`; ``place_ids`` (default 0, 1, ...) name them in ``places_``."""
        a = image_stack("reference_images", images, getattr(self, "input_shape_", None))
        ids = np.arange(len(a)) if place_ids is None else np.asarray(place_ids)
        if ids.shape != (len(a),) or ids.dtype.kind not in "iu":
            fail("place_ids", f"{len(a)} integer place ids", f"shape {ids.shape}")
        self.reference_descriptors_ = self.descriptors(a)
        self.places_ = ids.astype(np.int64)
        return self

    def predict(self, query_images) -> np.ndarray:
        """Similarity (n_references, n_queries), rows = ``places_``: the queries are one
        traverse, compared with the references as the module docstring says (``centre``,
        ``csls_k``; the plain cosine of the descriptors without them). Deterministic; with
        ``centre`` a similarity depends on the other images of both traverses, so pass a
        stretch of queries (at least 2), not one image at a time."""
        if not hasattr(self, "reference_descriptors_"):
            raise BiosimError("SurrogatePlaceRecognizer: call fit (or load) before predict")
        ref, qry = self.reference_descriptors_, self.descriptors(query_images)
        if self.centre:
            for field, d in (("reference_images", ref), ("query_images", qry)):
                if len(d) < 2:
                    fail(field, "at least 2 images of one traverse with centre=True (their "
                         "mean is subtracted), or centre=False", f"{len(d)} image")
            ref, qry = _centred(ref), _centred(qry)
        sim = ref @ qry.T
        return csls(sim, int(self.csls_k)) if self.csls_k else sim

    # ---- activity --------------------------------------------------------------------
    def activity(self, images) -> dict:
        """Per query: ``spikes`` (all spiking layers, over the time steps), ``rate`` (spikes
        per spiking neuron and step), ``synaptic_ops`` (spike x outgoing synapse events into
        layers 2.., the membrane readout included),
        ``input_macs`` (multiply-accumulates of the first convolution on the image, computed
        once: direct current encoding), ``neurons`` (spiking) and per-layer ``layer_spikes``. For
        ``neuron="relu"``: ``macs`` of all layers instead (dense), no spikes."""
        import torch

        net = self._network()
        x = torch.from_numpy(self._pixels("images", images)).to(next(net.parameters()).device)
        convs = list(net.convs)
        n = len(x)
        with torch.no_grad():
            _, layers = net(x, record=True)
            shapes = [tuple(s.shape[-3:]) for s in layers]
            fan_in = [c.in_channels * c.kernel_size[0] * c.kernel_size[1] for c in convs]
            macs = [int(np.prod(s)) * f for s, f in zip(shapes, fan_in)]
            neurons = int(sum(np.prod(s) for s in shapes))
            if self.neuron == "relu":
                return {"macs": float(sum(macs)), "neurons": neurons}
            layer_spikes = [float(s.sum()) / n for s in layers]
            syn = 0.0
            for spk, conv in zip(layers, convs[1:]):     # membrane readout: all layers spike
                ones = torch.ones_like(conv.weight)
                # each input spike reaches every output position its kernel covers
                syn += float(torch.nn.functional.conv2d(
                    spk.flatten(0, 1), ones, stride=conv.stride, padding=conv.padding).sum())
        spikes = sum(layer_spikes)
        return {"spikes": spikes, "rate": spikes / (neurons * self.time_steps),
                "synaptic_ops": syn / n, "input_macs": float(macs[0]), "neurons": neurons,
                "layer_spikes": layer_spikes}

    def spike_trains(self, images) -> list[np.ndarray]:
        """Every spiking layer's spikes, uint8 (time_steps, n, channels, height, width) (the
        membrane readout layer does not spike)."""
        import torch

        if self.neuron != "leaky":
            raise BiosimError("neuron: expected 'leaky' for spike trains, got 'relu'")
        net = self._network()
        x = torch.from_numpy(self._pixels("images", images)).to(next(net.parameters()).device)
        with torch.no_grad():
            _, layers = net(x, record=True)
        return [s.cpu().numpy().astype(np.uint8) for s in layers]

    # ---- files -----------------------------------------------------------------------
    def _check_loaded(self):
        self._check()
        if hasattr(self, "state_"):
            self._net = None
            self._network()     # the saved state must fit the architecture of the params
            d = self.reference_descriptors_
            if d.ndim != 2 or len(d) != len(self.places_):
                fail("model", "reference descriptors (n_places, D); weights.npz is corrupted",
                     f"shape {d.shape}")


def _info_nce(a, b, temperature: float):
    """Symmetric InfoNCE over a batch of pairs (a_i, b_i) of unit vectors: cross-entropy of
    picking b_i among all b for a_i, and a_i among all a for b_i."""
    import torch

    logits = a @ b.T / temperature
    target = torch.arange(len(a), device=a.device)
    return (torch.nn.functional.cross_entropy(logits, target)
            + torch.nn.functional.cross_entropy(logits.T, target)) / 2


def _centred(d: np.ndarray) -> np.ndarray:
    """Descriptors (n, D) of one traverse minus their mean, L2-normalised again."""
    x = d - d.mean(axis=0)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def csls(sim: np.ndarray, k: int) -> np.ndarray:
    """Cross-domain similarity local scaling (Conneau et al. 2018) of a (references, queries)
    similarity (any method's: larger = more similar):
    ``2 sim - h_ref - h_query``, each ``h`` the mean of a row's (column's) ``k`` largest
    entries (all of them when there are fewer)."""
    k = integer("k", k, low=1)
    h_ref = np.sort(sim, axis=1)[:, -k:].mean(axis=1)
    h_qry = np.sort(sim, axis=0)[-k:, :].mean(axis=0)
    return 2 * sim - h_ref[:, None] - h_qry[None, :]
