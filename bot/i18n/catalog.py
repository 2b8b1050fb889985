"""Message catalogs: finds every locales/<locale>/*.json file, merges them per locale, caches.
The core's locales/ come first, then each feature's (registered with `add_root`); a key defined
twice (in one file, across files or across roots) is a CatalogError, not a silent override."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

log = logging.getLogger(__name__)

Catalog = Mapping[str, str]


class CatalogError(Exception):
    """A catalog file is malformed or two files define the same key."""


def default_root() -> Traversable:
    """The locales/ directory shipped inside the package."""
    return resources.files("bot.i18n").joinpath("locales")


def _strict_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # json.load keeps the last duplicate silently; inside one file that is as much a bug as across files.
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise CatalogError(f"key {key!r} appears twice in one file")
        result[key] = value
    return result


def read_file(path: Traversable) -> dict[str, str]:
    """Parse one catalog file: a flat JSON object of key -> string."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_strict_object)
    except CatalogError as exc:
        raise CatalogError(f"{path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path}: invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: top level must be a JSON object")
    out: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(value, str):
            raise CatalogError(f"{path}: value of {key!r} must be a string, not {type(value).__name__}")
        out[key] = value
    return out


def catalog_files(root: Traversable | Path) -> dict[str, list[Traversable]]:
    """locale -> its *.json files (sorted by name), for every locale directory under root."""
    files: dict[str, list[Traversable]] = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.is_dir():
            continue
        files[entry.name] = sorted(
            (f for f in entry.iterdir() if f.is_file() and f.name.endswith(".json")), key=lambda f: f.name
        )
    return files


def load_catalogs(root: Traversable | Path) -> dict[str, dict[str, str]]:
    """Read and merge every catalog under root (uncached; tests point it at a temporary tree)."""
    merged: dict[str, dict[str, str]] = {}
    for locale, paths in catalog_files(root).items():
        catalog: dict[str, str] = {}
        origin: dict[str, str] = {}
        for path in paths:
            for key, value in read_file(path).items():
                if key in catalog:
                    raise CatalogError(
                        f"locale {locale}: key {key!r} is defined in both {origin[key]} and {path.name}"
                    )
                catalog[key] = value
                origin[key] = path.name
        merged[locale] = catalog
        log.debug("loaded %d strings for %s from %d files", len(catalog), locale, len(paths))
    return merged


# Features' locales/ folders, in registration order (see `add_root`).
_feature_roots: list[Traversable | Path] = []


def add_root(root: Traversable | Path) -> None:
    """Add a feature's locales/ folder to the catalogs; registering the same folder again is a no-op."""
    if any(str(known) == str(root) for known in _feature_roots):
        return
    _feature_roots.append(root)
    catalogs.cache_clear()


def roots() -> list[Traversable | Path]:
    """Every catalog root: the core's, then the features' that registered one."""
    return [default_root(), *_feature_roots]


@functools.cache
def catalogs() -> Mapping[str, Catalog]:
    """The shipped catalogs (core and features), read once per process and again after `add_root`."""
    merged: dict[str, dict[str, str]] = {}
    origin: dict[tuple[str, str], str] = {}
    for root in roots():
        for locale, catalog in load_catalogs(root).items():
            target = merged.setdefault(locale, {})
            for key, value in catalog.items():
                if key in target:
                    raise CatalogError(
                        f"locale {locale}: key {key!r} is defined in both {origin[locale, key]} and {root}"
                    )
                target[key] = value
                origin[locale, key] = str(root)
    return merged
