"""Process-wide configuration: read once at start from the environment and `.env`.

`load_settings()` turns every validation problem into one readable `SettingsError`.
"""

from __future__ import annotations

import difflib
import logging
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def database_path_problem(path: Path) -> str | None:
    """Why SQLite could not create or open a file at `path`, or None; checked before anything opens it."""
    if path.is_dir():
        return f"{path} is a folder; name a file in it, e.g. {path / 'bot.db'}"
    if path.exists():
        return None if os.access(path, os.R_OK | os.W_OK) else f"{path} is not writable"
    # The nearest existing folder must let us create what is missing below it.
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a folder, so {path} cannot be created there"
    # Try what Database.open will do, in a throw-away entry: permission bits alone do not say it
    # (root passes them, yet /proc and read-only mounts refuse everyone).
    try:
        if parent == path.parent:
            tempfile.TemporaryFile(dir=parent).close()
        else:
            tempfile.TemporaryDirectory(dir=parent).cleanup()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if parent == path.parent:
            return f"its folder {parent} is not writable ({reason})"
        return f"its folder {path.parent} cannot be created ({reason})"
    return None


class Settings(BaseSettings):
    """Every setting of the bot; the env var name is the field name in upper case."""

    model_config = SettingsConfigDict(
        env_file=".env",
        # utf-8-sig: a BOM written by Windows editors is dropped instead of joining the first key.
        env_file_encoding="utf-8-sig",
        case_sensitive=False,
        # Unknown .env keys are reported by `unknown_env_file_keys` with a warning, not an error.
        extra="ignore",
        hide_input_in_errors=True,
    )

    discord_token: SecretStr = Field(description="Bot token from the Discord developer portal.")
    openai_api_key: SecretStr = Field(
        description="API key for OpenAI (any non-empty value for servers that need none)."
    )
    openai_base_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://api.openai.com/v1"),
        description="Base URL of the API; point it at Ollama, vLLM or LocalAI for a compatible server.",
    )
    openai_organization: str | None = Field(default=None, description="Optional OpenAI-Organization header.")
    openai_project: str | None = Field(default=None, description="Optional OpenAI-Project header.")
    discord_api_base: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://discord.com/api/v10"),
        description="Discord REST base URL (paths such as /users/@me are appended); for a REST proxy.",
    )
    database_path: Path = Field(
        default=Path("data/bot.db"),
        validate_default=True,
        description="SQLite file; parent folders are created.",
    )
    completion_model: str = Field(default="gpt-3.5-turbo-instruct", description="Default model for /write.")
    chat_model: str = Field(default="gpt-5.4-mini", description="Default model for /chat.")
    image_model: str = Field(default="gpt-image-2", description="Default model for /imagine.")
    transcription_model: str = Field(default="whisper-1", description="Default transcription model.")
    embedding_model: str = Field(default="text-embedding-3-small", description="Default embedding model.")
    moderation_model: str = Field(default="omni-moderation-latest", description="Default moderation model.")
    request_timeout: Annotated[float, Field(gt=0, le=600, allow_inf_nan=False)] = Field(
        default=60.0, description="Seconds before one API request times out."
    )
    max_retries: Annotated[int, Field(ge=0, le=10)] = Field(
        default=2, description="Extra tries for connection errors, 408, 409, 429 and 5xx."
    )
    discord_rest_per_second: Annotated[int, Field(ge=1, le=50)] = Field(
        default=45,
        description="Discord REST requests per second for the whole bot (Discord allows 50).",
    )
    pricing_path: Path | None = Field(
        default=None, description="JSON pricing file replacing the shipped one."
    )
    log_level: LogLevel = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL.")
    dev_guild_id: int | None = Field(
        default=None, description="Sync commands to this guild only (instant, for development)."
    )

    @field_validator("discord_token", "openai_api_key")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator(
        "completion_model", "image_model", "transcription_model", "embedding_model", "moderation_model"
    )
    @classmethod
    def _model_named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a model (it is empty)")
        return value.strip()

    @field_validator("openai_base_url", "discord_api_base")
    @classmethod
    def _no_credentials(cls, value: AnyHttpUrl) -> AnyHttpUrl:
        # The message must not repeat them: hide_input_in_errors keeps the value out of it.
        if value.username or value.password:
            raise ValueError(
                "must not contain a user name or password; remove them from the URL "
                "(the API key goes in OPENAI_API_KEY)"
            )
        return value

    @field_validator("database_path", mode="before")
    @classmethod
    def _database_path_given(cls, value: Any) -> Any:
        # Path("") is ".", a directory: say what is wrong instead.
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty; use e.g. data/bot.db")
        return value

    @field_validator("database_path")
    @classmethod
    def _database_path_usable(cls, value: Path) -> Path:
        problem = database_path_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("openai_organization", "openai_project", "dev_guild_id", "pricing_path", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        # `.env.example` lists optional settings with empty values; empty means "not set".
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def base_url(self) -> str:
        return str(self.openai_base_url).rstrip("/")

    @property
    def discord_api_url(self) -> str:
        return str(self.discord_api_base).rstrip("/")

    @property
    def openai_hosted(self) -> bool:
        """True when talking to OpenAI itself rather than a compatible server."""
        return (self.openai_base_url.host or "").endswith("openai.com")


# How to fix each kind of problem, by pydantic error type; the variable name is added in front.
_HINTS: dict[str, str] = {
    "missing": "is not set; add it to .env or the environment (see .env.example)",
    "url_parsing": "is not a valid URL; use e.g. https://api.openai.com/v1 or http://localhost:11434/v1",
    "url_scheme": "must start with http:// or https://",
    "int_parsing": "must be a whole number",
    "float_parsing": "must be a number",
    "finite_number": "must be a number",
    "literal_error": "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
}


class SettingsError(Exception):
    """Configuration is missing or invalid; `str()` is the message for the operator."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = ["The bot's configuration has problems:"]
        lines += [f"  - {problem}" for problem in problems]
        lines.append("Fix them in .env (copy .env.example) or the environment, then start again.")
        super().__init__("\n".join(lines))


def _describe(error: Any) -> str:
    name = ".".join(str(part) for part in error["loc"]).upper() or "?"
    hint = _HINTS.get(error["type"])
    if hint is None:
        hint = error["msg"].removeprefix("Value error, ")
    else:
        hint = hint.format(**(error.get("ctx") or {}))
    return f"{name} {hint}"


def check_env_file_encoding(env_file: str | Path | None) -> None:
    """Raise SettingsError naming the first line of `env_file` that is not UTF-8 text."""
    if env_file is None or not Path(env_file).is_file():
        return
    data = Path(env_file).read_bytes()
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SettingsError([f"{env_file} line {line} is not UTF-8 text; save the file as UTF-8"]) from None


def _typo_hints(
    problems: list[str], missing: list[tuple[int, str]], env_file: str | Path | None
) -> list[str]:
    """Add "X in .env looks like a typo of NAME" to each missing setting a .env key nearly spells."""
    try:
        unknown = unknown_env_file_keys(env_file)
    except (OSError, UnicodeDecodeError):
        return problems
    out = list(problems)
    for index, name in missing:
        close = difflib.get_close_matches(name, unknown, n=1, cutoff=0.8)
        if close:
            out[index] += f" ({close[0]} in {env_file} looks like a typo of {name})"
    return out


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Read settings; raise SettingsError naming each bad variable (never echoing its value)."""
    check_env_file_encoding(env_file)
    try:
        return Settings(_env_file=env_file, **overrides)
    except ValidationError as exc:
        errors = exc.errors()
        problems = [_describe(error) for error in errors]
        missing = [
            (i, ".".join(str(p) for p in e["loc"]).upper())
            for i, e in enumerate(errors)
            if e["type"] == "missing"
        ]
        raise SettingsError(_typo_hints(problems, missing, env_file)) from None


def unknown_env_file_keys(env_file: str | Path | None = ".env") -> list[str]:
    """Keys in the .env file that are no setting of ours (usually typos)."""
    if env_file is None or not Path(env_file).is_file():
        return []
    known = {name.upper() for name in Settings.model_fields}
    unknown = []
    for raw in Path(env_file).read_text(encoding="utf-8-sig").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key = line.split("=", 1)[0].removeprefix("export ").strip().upper()
        if key not in known:
            unknown.append(key)
    return unknown


def warn_unknown_env_keys(env_file: str | Path | None = ".env") -> None:
    for key in unknown_env_file_keys(env_file):
        log.warning("%s in %s is not a setting of this bot (a typo?); it is ignored", key, env_file)


def secrets_of(settings: Settings) -> list[str]:
    """The secret values the log filter must redact."""
    return [settings.discord_token.get_secret_value(), settings.openai_api_key.get_secret_value()]


def settings_table() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) rows; README's configuration table is checked against it."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = "required" if field.is_required() else field.default
        shown = "" if default is None else str(default)
        rows.append((name.upper(), shown, field.description or ""))
    return rows


__all__ = [
    "Settings",
    "SettingsError",
    "check_env_file_encoding",
    "database_path_problem",
    "load_settings",
    "secrets_of",
    "settings_table",
    "unknown_env_file_keys",
    "warn_unknown_env_keys",
]
