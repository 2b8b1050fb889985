"""bot/numeric_threads.py: BLAS thread counts default to one; what the operator set is kept."""

from __future__ import annotations

from bot.numeric_threads import THREAD_VARIABLES, limit_numeric_threads


def test_unset_thread_counts_default_to_one_and_set_ones_are_kept() -> None:
    environ = {"OPENBLAS_NUM_THREADS": "4", "PATH": "/usr/bin"}
    limit_numeric_threads(environ)
    assert environ["OPENBLAS_NUM_THREADS"] == "4"
    assert all(environ[name] == "1" for name in THREAD_VARIABLES if name != "OPENBLAS_NUM_THREADS")
    assert environ["PATH"] == "/usr/bin"
