"""Active-dendrite networks for continual learning (Iyer et al. 2022, arXiv 2201.00042).

Each hidden unit computes a feed-forward response ``w . x + b`` and owns ``n_segments``
dendritic segments that read a context vector c. The segment with the largest absolute
response ``u_j . c`` modulates the unit: ``y = (w . x + b) * sigmoid(u_j . c)``. A
k-winners-take-all step then keeps the k largest units of each layer, so each context
(task) recruits its own sparse subnetwork and learning one task disturbs the weights used
by the others less. Setting ``dendrites=False`` gives the twin without segments (same
layers, same k-WTA), the baseline for measuring forgetting.

The demo task is permuted digits: scikit-learn's bundled 8x8 ``load_digits`` (no download)
with a fixed random pixel permutation per task; the context of a task is its prototype, the
mean training input, and at test time each input takes the nearest prototype (the task is
inferred, not given). Needs ``torch`` and ``scikit-learn`` (the ``biosim[torch]`` extra).
"""
from __future__ import annotations

import numpy as np

from biosim.core.estimator import Estimator
from biosim.core.random import make_rng
from biosim.core.validation import fail, integer, number

__all__ = ["kwinners", "ActiveDendriteNet", "ActiveDendriteClassifier", "permuted_digits",
           "train_continual", "continual_learning_demo"]


def kwinners(x, k: int):
    """Keep the k largest entries of each row of x (torch tensor), zero the others."""
    import torch

    if k >= x.shape[-1]:
        return x
    thresh = torch.topk(x, k, dim=-1).values[..., -1:]
    return x * (x >= thresh)


def _make_layer_classes():
    import torch
    from torch import nn

    class DendriticLayer(nn.Module):
        """Linear units gated by the absolute-max dendritic segment: y = lin(x) sigmoid(d)."""

        def __init__(self, n_in, n_out, context_dim, n_segments, dendrites, seg_scale):
            super().__init__()
            self.linear = nn.Linear(n_in, n_out)
            self.dendrites = dendrites
            if dendrites:
                self.segments = nn.Parameter(
                    torch.empty(n_out, n_segments, context_dim).uniform_(-seg_scale, seg_scale))

        def forward(self, x, context):
            y = self.linear(x)
            if not self.dendrites:
                return y
            d = torch.einsum("bc,usc->bus", context, self.segments)
            pick = d.abs().argmax(dim=-1, keepdim=True)
            return y * torch.sigmoid(torch.gather(d, -1, pick).squeeze(-1))

    class Net(nn.Module):
        def __init__(self, n_in, n_out, hidden, context_dim, n_segments, k_frac, dendrites,
                     seg_scale):
            super().__init__()
            sizes = [n_in, *hidden]
            self.layers = nn.ModuleList(
                DendriticLayer(sizes[i], sizes[i + 1], context_dim, n_segments, dendrites,
                               seg_scale)
                for i in range(len(hidden)))
            self.ks = [max(1, int(round(k_frac * h))) for h in hidden]
            self.head = nn.Linear(sizes[-1], n_out)

        def forward(self, x, context):
            for layer, k in zip(self.layers, self.ks):
                x = kwinners(layer(x, context), k)
            return self.head(x)

    return Net


def ActiveDendriteNet(n_in: int, n_out: int, *, hidden=(256, 256), context_dim: int,
                      n_segments: int = 5, k_frac: float = 0.2, dendrites: bool = True,
                      seg_scale: float = 1.0, seed=None):
    """A torch ``nn.Module``: hidden layers of dendritic units with k-WTA (top ``k_frac`` of
    units stay active), then a linear read-out. Call as ``net(x, context)``. Segment weights
    start uniform in [-seg_scale, seg_scale]; with standardised contexts a scale near 1 makes
    the gates nearly binary from the start, so each context opens its own subnetwork.

    ``dendrites=False``: the same network without segments (the twin)."""
    import torch

    integer("n_in", n_in, low=1)
    integer("n_out", n_out, low=1)
    integer("context_dim", context_dim, low=1)
    integer("n_segments", n_segments, low=1)
    number("k_frac", k_frac, low=0.0, high=1.0, low_open=True)
    hidden = tuple(integer("hidden", h, low=1) for h in hidden)
    if not hidden:
        fail("hidden", "at least one hidden layer", hidden)
    torch.manual_seed(int(make_rng(seed).integers(2**31)))
    seg_scale = number("seg_scale", seg_scale, low=0.0, low_open=True)
    return _make_layer_classes()(n_in, n_out, hidden, context_dim, n_segments, k_frac,
                                 bool(dendrites), seg_scale)


def permuted_digits(n_tasks: int = 5, *, test_fraction: float = 0.3, seed=None):
    """Permuted-digits tasks: a list of dicts with ``x_train``, ``y_train``, ``x_test``,
    ``y_test`` (float32 pixels in [0, 1], int64 labels) and ``perm``. Task 0 is unpermuted;
    every task uses the same train/test split of the 1,797 images."""
    from sklearn.datasets import load_digits

    n_tasks = integer("n_tasks", n_tasks, low=1)
    number("test_fraction", test_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    rng = make_rng(seed)
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    order = rng.permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    te, tr = order[:n_test], order[n_test:]
    tasks = []
    for t in range(n_tasks):
        perm = np.arange(X.shape[1]) if t == 0 else rng.permutation(X.shape[1])
        Xp = X[:, perm]
        tasks.append({"x_train": Xp[tr], "y_train": y[tr], "x_test": Xp[te], "y_test": y[te],
                      "perm": perm})
    return tasks


def train_continual(net, tasks, *, epochs: int = 3, lr: float = 3e-3, batch_size: int = 32,
                    seed=None) -> dict:
    """Train ``net`` on the tasks in order (Adam, cross-entropy), testing every task after
    each one. Contexts are task prototypes (mean training input); test inputs take the
    nearest prototype seen so far.

    Returns ``accuracy`` (array (n_tasks, n_tasks): row i = after training task i, column j =
    test accuracy on task j; NaN for tasks not yet seen), ``final`` (mean accuracy over all
    tasks at the end), ``forgetting`` (mean over tasks but the last of best-before-end minus
    final accuracy) and ``context_accuracy`` (fraction of test inputs given the right
    prototype at the end).
    """
    import torch

    epochs = integer("epochs", epochs, low=1)
    batch_size = integer("batch_size", batch_size, low=1)
    lr = number("lr", lr, low=0.0, low_open=True)
    gen = torch.Generator().manual_seed(int(make_rng(seed).integers(2**31)))
    protos = torch.stack([torch.from_numpy(t["x_train"].mean(0)) for t in tasks])
    ctxs = _contexts(protos)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    T = len(tasks)
    acc = np.full((T, T), np.nan)
    ctx_acc = np.nan
    for i, task in enumerate(tasks):
        x = torch.from_numpy(task["x_train"])
        y = torch.from_numpy(task["y_train"]).long()
        ctx = ctxs[i].expand(len(x), -1)
        net.train()
        for _ in range(epochs):
            for idx in torch.randperm(len(x), generator=gen).split(batch_size):
                opt.zero_grad()
                loss_fn(net(x[idx], ctx[idx]), y[idx]).backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            right = total = 0
            for j in range(i + 1):
                xt = torch.from_numpy(tasks[j]["x_test"])
                near = torch.cdist(xt, protos[: i + 1]).argmin(dim=1)
                pred = net(xt, ctxs[near]).argmax(dim=1).numpy()
                acc[i, j] = float(np.mean(pred == tasks[j]["y_test"]))
                right += int((near == j).sum())
                total += len(xt)
            ctx_acc = right / total
    best_before = np.nanmax(acc[:-1, :-1], axis=0) if T > 1 else np.array([])
    return {"accuracy": acc, "final": float(np.mean(acc[-1])),
            "forgetting": float(np.mean(best_before - acc[-1, :-1])) if T > 1 else 0.0,
            "context_accuracy": ctx_acc}


def _contexts(protos):
    """Contexts: the task prototypes standardised (zero mean, unit variance over the input)."""
    return (protos - protos.mean(1, keepdim=True)) / protos.std(1, keepdim=True)


class ActiveDendriteClassifier(Estimator):
    """The active-dendrite network as an estimator: ``fit(tasks)`` trains on the tasks in
    order (:func:`train_continual`; tasks as :func:`permuted_digits` returns them),
    ``predict(x)`` gives every input the nearest task prototype as its context and returns
    the class (int64).

    Parameters: ``hidden``, ``n_segments`` (None: one per task), ``k_frac``, ``dendrites``,
    ``seg_scale`` as in :func:`ActiveDendriteNet`; ``epochs``, ``lr``, ``batch_size`` as in
    :func:`train_continual`; ``seed`` (network and batches).

    Learned: ``weights_`` (the torch parameters as arrays, by name), ``prototypes_``
    (n_tasks, n_features), ``accuracy_`` (the matrix of :func:`train_continual`),
    ``n_features_in_``, ``n_classes_``, ``n_segments_``.
    """

    _transient = ("_net",)

    def __init__(self, hidden=(256, 256), *, n_segments=None, k_frac: float = 0.2,
                 dendrites: bool = True, seg_scale: float = 1.0, epochs: int = 3,
                 lr: float = 3e-3, batch_size: int = 32, seed=0):
        self.hidden = tuple(integer("hidden", h, low=1) for h in hidden)
        if not self.hidden:
            fail("hidden", "at least one hidden layer", hidden)
        self.n_segments = (None if n_segments is None
                           else integer("n_segments", n_segments, low=1))
        self.k_frac = number("k_frac", k_frac, low=0.0, high=1.0, low_open=True)
        self.dendrites = bool(dendrites)
        self.seg_scale = number("seg_scale", seg_scale, low=0.0, low_open=True)
        self.epochs = integer("epochs", epochs, low=1)
        self.lr = number("lr", lr, low=0.0, low_open=True)
        self.batch_size = integer("batch_size", batch_size, low=1)
        self.seed = seed

    def _build(self):
        return ActiveDendriteNet(self.n_features_in_, self.n_classes_, hidden=self.hidden,
                                 context_dim=self.n_features_in_,
                                 n_segments=self.n_segments_, k_frac=self.k_frac,
                                 dendrites=self.dendrites, seg_scale=self.seg_scale,
                                 seed=self.seed)

    def fit(self, tasks) -> "ActiveDendriteClassifier":
        """Train on ``tasks`` (a list of dicts with ``x_train``, ``y_train``, ``x_test``,
        ``y_test``) in order."""
        if not tasks:
            fail("tasks", "at least one task", tasks)
        self.n_features_in_ = int(np.shape(tasks[0]["x_train"])[1])
        self.n_classes_ = int(max(np.max(t["y_train"]) for t in tasks)) + 1
        self.n_segments_ = len(tasks) if self.n_segments is None else self.n_segments
        net = self._build()
        result = train_continual(net, tasks, epochs=self.epochs, lr=self.lr,
                                 batch_size=self.batch_size, seed=self.seed)
        self.prototypes_ = np.stack([t["x_train"].mean(0) for t in tasks])
        self.accuracy_ = result["accuracy"]
        self.weights_ = {k: v.detach().cpu().numpy().copy()
                         for k, v in net.state_dict().items()}
        self._net = net
        return self

    def _network(self):
        if getattr(self, "_net", None) is None:
            import torch

            net = self._build()
            net.load_state_dict({k: torch.from_numpy(np.array(v))
                                 for k, v in self.weights_.items()})
            self._net = net.eval()
        return self._net

    def predict(self, x) -> np.ndarray:
        """Class of every input row of ``x`` (n, n_features), the context inferred."""
        import torch

        self._require_fitted("predict", "weights_")
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            fail("x", f"shape (n, {self.n_features_in_})", f"shape {x.shape}")
        net = self._network()
        net.eval()
        with torch.no_grad():
            xt = torch.from_numpy(x)
            protos = torch.from_numpy(self.prototypes_)
            near = torch.cdist(xt, protos).argmin(dim=1)
            return net(xt, _contexts(protos)[near]).argmax(dim=1).numpy().astype(np.int64)


def continual_learning_demo(n_tasks: int = 5, *, hidden=(256, 256), n_segments=None,
                            k_frac: float = 0.2, epochs: int = 3, lr: float = 3e-3,
                            seed=0) -> dict:
    """Permuted digits with the active-dendrite network and its dendrite-free twin (same
    seed, same layers, same k-WTA). Returns {"dendrites": result, "twin": result}, each as
    :func:`train_continual` returns it. Defaults (ours, for 8x8 digits on a CPU in seconds):
    two layers of 256 units with 20 % winners (Iyer et al. used 2 x 2048 units, 5 % winners,
    on MNIST); 3 epochs of Adam at lr 3e-3 per task."""
    import torch

    torch.set_num_threads(1)
    tasks = permuted_digits(n_tasks, seed=seed)
    n_segments = n_tasks if n_segments is None else n_segments
    out = {}
    for name, dend in (("dendrites", True), ("twin", False)):
        net = ActiveDendriteNet(64, 10, hidden=hidden, context_dim=64, n_segments=n_segments,
                                k_frac=k_frac, dendrites=dend, seed=seed)
        out[name] = train_continual(net, tasks, epochs=epochs, lr=lr, seed=seed)
    return out
