"""Message catalogs: finds every locales/<locale>/*.json file, merges them per locale, caches.
A key defined twice (in one file or across files of a locale) is a CatalogError, not a silent override."""

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


@functools.cache
def catalogs() -> Mapping[str, Catalog]:
    """The shipped catalogs, read once per process."""
    return load_catalogs(default_root())
