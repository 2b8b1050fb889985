"""Process-wide configuration: read once at start from the environment and `.env`.

`load_settings()` turns every validation problem into one readable `SettingsError`.
"""

from __future__ import annotations

import logging
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


class Settings(BaseSettings):
    """Every setting of the bot; the env var name is the field name in upper case."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
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
    database_path: Path = Field(
        default=Path("data/bot.db"), description="SQLite file; parent folders are created."
    )
    completion_model: str = Field(default="gpt-3.5-turbo-instruct", description="Default model for /write.")
    chat_model: str = Field(default="gpt-5.4-mini", description="Default model for /chat.")
    image_model: str = Field(default="gpt-image-2", description="Default model for /imagine.")
    transcription_model: str = Field(default="whisper-1", description="Default transcription model.")
    embedding_model: str = Field(default="text-embedding-3-small", description="Default embedding model.")
    moderation_model: str = Field(default="omni-moderation-latest", description="Default moderation model.")
    request_timeout: Annotated[float, Field(gt=0, le=600)] = Field(
        default=60.0, description="Seconds before one API request times out."
    )
    max_retries: Annotated[int, Field(ge=0, le=10)] = Field(
        default=2, description="Extra tries for connection errors, 408, 409, 429 and 5xx."
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
    def openai_hosted(self) -> bool:
        """True when talking to OpenAI itself rather than a compatible server."""
        return (self.openai_base_url.host or "").endswith("openai.com")

    def default_models(self) -> dict[str, str]:
        """Default model per feature, as the guild settings repository expects them."""
        return {
            "write": self.completion_model,
            "chat": self.chat_model,
            "imagine": self.image_model,
            "transcribe": self.transcription_model,
            "embeddings": self.embedding_model,
            "moderation": self.moderation_model,
        }


# How to fix each kind of problem, by pydantic error type; the variable name is added in front.
_HINTS: dict[str, str] = {
    "missing": "is not set; add it to .env or the environment (see .env.example)",
    "url_parsing": "is not a valid URL; use e.g. https://api.openai.com/v1 or http://localhost:11434/v1",
    "url_scheme": "must start with http:// or https://",
    "int_parsing": "must be a whole number",
    "float_parsing": "must be a number",
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


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Read settings; raise SettingsError naming each bad variable (never echoing its value)."""
    try:
        return Settings(_env_file=env_file, **overrides)
    except ValidationError as exc:
        raise SettingsError([_describe(error) for error in exc.errors()]) from None


def unknown_env_file_keys(env_file: str | Path | None = ".env") -> list[str]:
    """Keys in the .env file that are no setting of ours (usually typos)."""
    if env_file is None or not Path(env_file).is_file():
        return []
    known = {name.upper() for name in Settings.model_fields}
    unknown = []
    for raw in Path(env_file).read_text(encoding="utf-8").splitlines():
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
    "load_settings",
    "secrets_of",
    "settings_table",
    "unknown_env_file_keys",
    "warn_unknown_env_keys",
]
