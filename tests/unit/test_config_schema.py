"""/config's reading of settings models: which picker a field gets, and how typed text becomes a value."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field

from bot.features import Feature, FeatureSettings
from cogs.config.schema import Target, kind_of, literal_choices, parse_text


class ModSettings(FeatureSettings):
    """A feature of the tests' own, with every kind of field /config knows."""

    include_channel_ids: tuple[int, ...] = ()
    alert_channel_id: int | None = None
    exempt_role_ids: tuple[int, ...] = ()
    threshold: float = Field(default=0.5, ge=0, le=1)
    mode: Literal["warn", "delete"] = "warn"


MOD = Feature(name="mod", settings=ModSettings, model_setting="moderation_model")
PLAIN = Feature(name="plain", settings=ModSettings)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("model", "model"),
        ("allowed_models", "models"),
        ("include_channel_ids", "channels"),
        ("alert_channel_id", "channel"),
        ("exempt_role_ids", "roles"),
        ("threshold", "value"),
    ],
)
def test_the_field_name_decides_the_picker(name: str, kind: str) -> None:
    assert kind_of(name) == kind


def test_a_target_lists_its_models_fields_and_hides_model_fields_of_features_without_models() -> None:
    assert [s.name for s in Target("mod", ModSettings, MOD).settings()] == [
        "enabled",
        "model",
        "allowed_models",
        "include_channel_ids",
        "alert_channel_id",
        "exempt_role_ids",
        "threshold",
        "mode",
    ]
    assert "model" not in [s.name for s in Target("plain", ModSettings, PLAIN).settings()]
    alert = Target("mod", ModSettings, MOD).setting("alert_channel_id")
    assert alert is not None and alert.optional and alert.default is None


def test_typed_text_becomes_what_the_model_validates() -> None:
    target = Target("mod", ModSettings, MOD)
    models, alert, threshold = (
        target.setting(n) for n in ("allowed_models", "alert_channel_id", "threshold")
    )
    assert models is not None and alert is not None and threshold is not None
    assert parse_text(models, "a, b  c") == ["a", "b", "c"]
    assert parse_text(models, "none") == []
    assert parse_text(alert, "off") is None
    assert parse_text(threshold, " 0.7 ") == "0.7"
    mode = target.setting("mode")
    assert mode is not None and literal_choices(mode.annotation) == ("warn", "delete")
