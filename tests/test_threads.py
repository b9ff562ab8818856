"""A numba parallel call (OpenMP layer) leaves torch's thread count as the user set it."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")


def test_sad_baseline_keeps_torch_threads():
    from biosim.vpr.baselines import sad_similarity

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        sad_similarity(np.zeros((4, 10), np.uint8), np.ones((3, 10), np.uint8))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
