"""Newer Pythons: deprecations from the project's own code are errors, so removals are seen early.

`.ci/run` runs the whole suite again on the newest Python pyenv has; this file keeps the filter honest.
"""

from __future__ import annotations

import inspect
import warnings

import pytest

from bot.i18n import catalog


def test_deprecation_warnings_from_project_code_fail_the_run() -> None:
    with pytest.raises(DeprecationWarning):
        warnings.warn("an API that the next Python removes", DeprecationWarning, stacklevel=1)


def test_third_party_deprecations_stay_warnings() -> None:
    with pytest.warns(DeprecationWarning):
        # Attributed to a module outside bot/, cogs/ and tests/ (as a dependency's would be).
        warnings.warn_explicit("old", DeprecationWarning, "somelib/x.py", 1, module="somelib.x")


def test_catalog_reads_traversable_from_its_current_home() -> None:
    # importlib.abc.Traversable warns on 3.13 and is gone in 3.14.
    source = inspect.getsource(catalog)
    assert "from importlib.resources.abc import Traversable" in source
    assert "importlib.abc" not in source.replace("importlib.resources.abc", "")
