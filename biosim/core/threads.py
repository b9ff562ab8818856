"""numba's OpenMP threading layer and torch share one OpenMP runtime: a numba ``parallel=True``
call sets the runtime's thread count, torch's included (``torch.set_num_threads(1)`` became 2
after one SAD baseline, making the next torch queries ~10x slower on a busy machine).
:func:`keep_torch_threads` wraps such calls and gives torch its setting back."""
from __future__ import annotations

import sys
from contextlib import contextmanager


@contextmanager
def keep_torch_threads():
    """Restore torch's intra-op thread count (if torch is imported) after the block."""
    torch = sys.modules.get("torch")
    n = torch.get_num_threads() if torch is not None else None
    try:
        yield
    finally:
        if n is not None and torch.get_num_threads() != n:
            torch.set_num_threads(n)
