"""Resumable training (issue 16, item 9): ``biosim vpr train`` killed with SIGKILL resumes
from its last epoch with the same command and ends with the same model as a run that was
never interrupted (same seed); a model folder whose two files come from different saves is
refused, not read."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from biosim.core.validation import BiosimError
from biosim.vpr.recognizer import SpikingPlaceRecognizer
from biosim.vpr.synthetic import synthetic_route

ROOT = Path(__file__).resolve().parents[2]
CONDITIONS = ("summer", "winter")


def weights(folder):
    with np.load(Path(folder) / "weights.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files if k != "__token__"}


def test_kill_9_then_the_same_command_resumes(tmp_path, capsys):
    from biosim.cli import main

    cfg = {"data": {"synthetic": {"n_places": 8, "conditions": list(CONDITIONS), "seed": 0}},
           "model": {"module_size": 4, "epochs": 25, "seed": 5, "shuffle": True}}
    config = tmp_path / "train.json"
    config.write_text(json.dumps(cfg))
    argv = ["vpr", "train", "--config", str(config), "--no-progress"]
    assert main(argv + ["--out", str(tmp_path / "whole")]) == 0   # never interrupted
    assert not (tmp_path / "whole" / "checkpoint").exists()      # removed once saved

    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "biosim.cli", *argv, "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint" / "model.json").exists():
            assert proc.poll() is None, "training ended before a checkpoint was seen"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.3)  # a few more epochs, and maybe a checkpoint half written
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (out / "model.json").exists()                     # it was stopped mid-run
    capsys.readouterr()
    assert main(argv + ["--out", str(out)]) == 0                  # the same command
    assert "resuming from the checkpoint" in capsys.readouterr().out
    a, b = weights(tmp_path / "whole"), weights(out)
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert not (out / "checkpoint").exists()


@pytest.mark.parametrize("backend", ["numba", pytest.param(
    "torch", marks=[pytest.mark.torch, pytest.mark.slow])])  # torch on a CPU: ~1 min
def test_fit_in_parts_equals_one_fit(tmp_path, backend):
    """Two fits on one checkpoint folder (epochs 2, then 4) give the 4-epoch model."""
    if backend == "torch":
        pytest.importorskip("torch")
    refs = synthetic_route(8, CONDITIONS, seed=1).reference.images
    kw = dict(module_size=4, seed=3, shuffle=True, backend=backend)
    whole = SpikingPlaceRecognizer(epochs=4, **kw).fit(refs)
    SpikingPlaceRecognizer(epochs=2, **kw).fit(refs, checkpoint=tmp_path / "c")
    parts = SpikingPlaceRecognizer(epochs=4, **kw).fit(refs, checkpoint=tmp_path / "c")
    for m1, m2 in zip(whole.modules_, parts.modules_):
        np.testing.assert_array_equal(m1["W"], m2["W"])
        np.testing.assert_array_equal(m1["theta"], m2["theta"])
    np.testing.assert_array_equal(whole.counts_[0], parts.counts_[0])
    with pytest.raises(BiosimError, match="^checkpoint: "):   # other parameters
        SpikingPlaceRecognizer(module_size=4, epochs=4, seed=4).fit(
            refs, checkpoint=tmp_path / "c")
    with pytest.raises(BiosimError, match="^checkpoint: "):   # fewer epochs than it holds
        SpikingPlaceRecognizer(module_size=4, epochs=1, seed=3).fit(
            refs, checkpoint=tmp_path / "c")


def test_model_files_of_two_saves_are_refused(tmp_path):
    """A crash between weights.npz and model.json used to load new weights with an old
    config, silently."""
    refs = synthetic_route(4, CONDITIONS, seed=1).reference.images
    SpikingPlaceRecognizer(module_size=2, epochs=1, seed=1).fit(refs).save(tmp_path / "a")
    SpikingPlaceRecognizer(module_size=4, epochs=1, seed=1).fit(refs).save(tmp_path / "b")
    (tmp_path / "a" / "model.json").write_bytes((tmp_path / "b" / "model.json").read_bytes())
    with pytest.raises(BiosimError, match="^model: .*same save"):
        SpikingPlaceRecognizer.load(tmp_path / "a")
