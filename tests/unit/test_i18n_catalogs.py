"""Every shipped catalog file, the core's and each loaded feature's: same files, same keys, same
{placeholders} in en-US and zh-CN; Discord's rules for localized command names and descriptions."""

from __future__ import annotations

import re
import string
from importlib.resources.abc import Traversable
from pathlib import Path

import pytest

from bot.app import EXTENSIONS
from bot.features import FeatureRegistry
from bot.i18n import SUPPORTED_LOCALES
from bot.i18n.catalog import catalog_files, catalogs, default_root, load_catalogs, read_file, roots

# Declaring a feature registers its catalogs: read every one the shipped bot loads.
FEATURES = FeatureRegistry.from_extensions(EXTENSIONS)
FILES: dict[str, list[Traversable]] = {}
for _root in roots():
    for _locale, _files in catalog_files(_root).items():
        FILES.setdefault(_locale, []).extend(_files)
# Python's \w covers \p{L} and \p{N} (and _); close enough to Discord's name regex, plus lowercase.
NAME_RE = re.compile(r"^[-_\w]{1,32}$", re.UNICODE)


def _file_names(locale: str) -> set[str]:
    return {_name(f) for f in FILES.get(locale, [])}


def _by_name(locale: str) -> dict[str, Traversable]:
    return {_name(f): f for f in FILES.get(locale, [])}


def _name(path: Traversable) -> str:
    """A file's name with its root's parent, so two roots' files of the same name stay apart."""
    return f"{Path(str(path)).parents[2].name}/{path.name}"


def _fields(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


ALL_FILE_NAMES = sorted(set().union(*(_file_names(loc) for loc in SUPPORTED_LOCALES)))


def test_every_supported_locale_has_catalogs() -> None:
    for locale in SUPPORTED_LOCALES:
        assert FILES.get(locale), f"no catalog files for {locale}"


def test_shipped_catalogs_load_without_duplicates() -> None:
    merged = load_catalogs(default_root())
    assert set(SUPPORTED_LOCALES) <= set(merged)
    # Each feature's catalogs are merged in, and a key defined in two roots would raise.
    assert len(roots()) > 1
    assert catalogs()["zh-CN"]["feature.write"] == "文本写作"
    for feature in FEATURES:
        for locale in SUPPORTED_LOCALES:
            assert f"feature.{feature.name}" in catalogs()[locale], f"{feature.name} has no name in {locale}"


@pytest.mark.parametrize("file_name", ALL_FILE_NAMES)
def test_file_present_with_same_keys_and_placeholders(file_name: str) -> None:
    for locale in SUPPORTED_LOCALES:
        assert file_name in _file_names(locale), f"{locale}/{file_name} is missing"
    en = read_file(_by_name("en-US")[file_name])
    zh = read_file(_by_name("zh-CN")[file_name])
    assert sorted(set(en) - set(zh)) == [], f"keys missing in zh-CN/{file_name}"
    assert sorted(set(zh) - set(en)) == [], f"keys missing in en-US/{file_name}"
    for key in en:
        try:
            en_fields, zh_fields = _fields(en[key]), _fields(zh[key])
        except ValueError as exc:
            pytest.fail(f"{file_name}: {key!r} is not a valid format string: {exc}")
        assert en_fields == zh_fields, f"{file_name}: placeholders differ for {key!r}"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_command_names_and_descriptions_follow_discord_rules(locale: str) -> None:
    for path in FILES.get(locale, []):
        for key, value in read_file(path).items():
            if key.endswith(".name"):
                assert NAME_RE.fullmatch(value), f"{locale}/{path.name}: {key!r}={value!r} is not a name"
                assert value == value.lower(), f"{locale}/{path.name}: {key!r}={value!r} must be lowercase"
            elif key.endswith(".description"):
                assert 1 <= len(value) <= 100, f"{locale}/{path.name}: {key!r} must be 1-100 chars"


def test_name_rule_approximation() -> None:
    for good in ("write", "写作", "image-size", "max_tokens", "चित्र"[:1]):
        assert NAME_RE.fullmatch(good)
    for bad in ("two words", "", "x" * 33, "emoji😀", "a.b"):
        assert not NAME_RE.fullmatch(bad)
