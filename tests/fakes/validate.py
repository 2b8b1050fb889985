"""Request-field validation for the fake OpenAI server, with the real API's error codes and wording.

Owns the checks every JSON endpoint shares: unknown/missing parameters, types, enums and ranges.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tests.fakes.errors import ApiError, invalid

_MISSING = object()

_TYPE_NAMES = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "a boolean",
    list: "an array",
    dict: "an object",
}


def _got(value: Any) -> str:
    if value is None:
        return "null"
    for kind, name in (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a decimal"),
        (str, "a string"),
        (list, "an array"),
        (dict, "an object"),
    ):
        if isinstance(value, kind):
            return name
    return "an unknown type"


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("Invalid request body: expected a JSON object.", None, "invalid_type")
    return body


def reject_unknown(body: dict[str, Any], allowed: Iterable[str]) -> None:
    allowed_set = set(allowed)
    for key in body:
        if key not in allowed_set:
            raise invalid(f"Unrecognized request argument supplied: {key}", key, "unknown_parameter")


def required(body: dict[str, Any], name: str) -> Any:
    value = body.get(name, _MISSING)
    if value is _MISSING or value is None:
        raise invalid(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")
    return value


def typed(body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    """The field's value if absent/null -> default; wrong JSON type -> 400 invalid_type."""
    value = body.get(name)
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise invalid(
            f"Invalid type for '{name}': expected {_TYPE_NAMES[kinds[0]]}, but got {_got(value)} instead.",
            name,
            "invalid_type",
        )
    return value


def one_of(name: str, value: Any, allowed: Iterable[Any]) -> None:
    options = list(allowed)
    if value not in options:
        quoted = [f"'{o}'" for o in options]
        listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
        raise invalid(f"Invalid value: '{value}'. Supported values are: {listed}.", name, "invalid_value")


def in_range(
    name: str, value: int | float | None, low: float | None = None, high: float | None = None
) -> None:
    if value is None:
        return
    kind = "integer" if isinstance(value, int) else "decimal"
    if low is not None and value < low:
        raise invalid(
            f"Invalid '{name}': {kind} below minimum value. Expected a value >= {low:g}, but got "
            f"{value} instead.",
            name,
            f"{kind}_below_min_value",
        )
    if high is not None and value > high:
        raise invalid(
            f"Invalid '{name}': {kind} above maximum value. Expected a value <= {high:g}, but got "
            f"{value} instead.",
            name,
            f"{kind}_above_max_value",
        )


def unsupported(name: str) -> ApiError:
    return invalid(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
