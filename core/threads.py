"""Thread-pool control. On 2 cores, BLAS and OpenMP pools that each start one thread per core (or more)
oversubscribe the machine and can slow scikit-learn tenfold; ``limited`` caps them for a block."""
from __future__ import annotations

import contextlib
import sys

from threadpoolctl import ThreadpoolController

_CONTROLLER: tuple[int, ThreadpoolController] | None = None


def _controller() -> ThreadpoolController:
    """threadpoolctl's view of the loaded BLAS / OpenMP libraries. Finding them walks every shared library
    in the process (about 3 ms once TensorFlow is loaded, paid on every query before), so the view is
    kept until a module is imported (the only way a new native library arrives here)."""
    global _CONTROLLER
    n = len(sys.modules)
    if _CONTROLLER is None or _CONTROLLER[0] != n:
        _CONTROLLER = (n, ThreadpoolController())
    return _CONTROLLER[1]


@contextlib.contextmanager
def limited(n: int | None = 1):
    """Cap BLAS and OpenMP thread pools to ``n`` threads inside the block (``None``: leave as is)."""
    if n is None:
        yield
        return
    with _controller().limit(limits=n):
        yield
