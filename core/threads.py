"""Thread-pool control. On 2 cores, BLAS and OpenMP pools that each start one thread per core (or more)
oversubscribe the machine and can slow scikit-learn tenfold; ``limited`` caps them for a block."""
from __future__ import annotations

import contextlib

from threadpoolctl import threadpool_limits


@contextlib.contextmanager
def limited(n: int | None = 1):
    """Cap BLAS and OpenMP thread pools to ``n`` threads inside the block (``None``: leave as is)."""
    if n is None:
        yield
        return
    with threadpool_limits(limits=n):
        yield
