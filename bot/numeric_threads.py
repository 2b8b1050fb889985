"""numpy's BLAS thread pools sized for a server: one thread per operation unless the operator says
otherwise. Must run before numpy is first imported (the pools are sized when it loads)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping

log = logging.getLogger(__name__)

#: The variables the BLAS builds numpy ships with (OpenBLAS) or may link (MKL, OpenMP) read.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def limit_numeric_threads(environ: MutableMapping[str, str] = os.environ) -> None:
    """Default each BLAS thread count to 1; a value the operator set is kept.

    The bot searches knowledge-base vectors on its event loop. A multi-threaded matrix product
    spins a thread per core: on a busy host those threads wait on each other and on everything
    else, and a query's tail grows several-fold (measured: p99 24-46 ms with the default threads
    against 16-19 ms with one, 50,000 x 512 on two loaded cores). One product is memory-bound
    anyway, so more threads buy little even on an idle host.
    """
    if "numpy" in sys.modules:
        log.warning("numpy was imported before its thread pools could be sized; BLAS keeps its defaults")
    for name in THREAD_VARIABLES:
        environ.setdefault(name, "1")
