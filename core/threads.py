"""Thread-pool control. On 2 cores, BLAS and OpenMP pools that each start one thread per core (or more)
oversubscribe the machine and can slow scikit-learn tenfold; ``limited`` caps them for a block."""
from __future__ import annotations

import contextlib
import os

from threadpoolctl import threadpool_limits


def default_threads() -> int:
    return max(1, min(os.cpu_count() or 1, int(os.environ.get("STUDIO_THREADS", "0") or 0) or (os.cpu_count() or 1)))


@contextlib.contextmanager
def limited(n: int | None = 1):
    """Cap BLAS and OpenMP thread pools to ``n`` threads inside the block (``None``: leave as is)."""
    if n is None:
        yield
        return
    with threadpool_limits(limits=n):
        yield
