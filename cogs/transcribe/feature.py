"""The transcription feature's declaration: per-server settings, default model, needs, help entry.
The core reads it through `bot.features`; nothing in `bot/` names this feature."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from bot.features import Feature, FeatureSettings

#: The API refuses uploads over 25 MB.
API_MAX_MB = 25


class TranscribeSettings(FeatureSettings):
    """Per-server transcription settings; the defaults apply until an admin changes one."""

    #: Automatic transcription of every voice message and audio file in every channel.
    auto_all_channels: bool = False
    #: Channels (or thread parents) where audio is transcribed automatically; empty: none.
    auto_channel_ids: tuple[int, ...] = ()
    #: Largest file transcribed, in MB (the API's cap is 25).
    max_file_mb: int = Field(default=API_MAX_MB, ge=1, le=API_MAX_MB)
    #: Longest audio transcribed, in seconds (known before download for voice messages).
    max_duration_seconds: int = Field(default=600, ge=5, le=4 * 3600)
    #: Days a transcript is kept to answer repeat requests without a second API call.
    keep_transcripts_days: int = Field(default=30, ge=1, le=365)

    @field_validator("auto_channel_ids", mode="before")
    @classmethod
    def _sorted_unique(cls, value: object) -> object:
        if isinstance(value, list | tuple | set | frozenset) and all(isinstance(v, int) for v in value):
            return tuple(sorted(set(value)))
        return value

    def automatic_in(self, channel_id: int, parent_id: int | None) -> bool:
        if not self.enabled:
            return False
        if self.auto_all_channels:
            return True
        return channel_id in self.auto_channel_ids or (
            parent_id is not None and parent_id in self.auto_channel_ids
        )


FEATURE = Feature(
    name="transcribe",
    settings=TranscribeSettings,
    model_setting="transcription_model",
    # Only automatic mode reads other members' messages; /transcribe and the context menu get the
    # audio inside the interaction, so they keep working where Discord refuses this intent.
    optional_intents=frozenset({"message_content"}),
    permissions=frozenset(
        {"view_channel", "send_messages", "attach_files", "read_message_history", "add_reactions"}
    ),
    help_key="feature.transcribe.help",
    migrations=Path(__file__).parent / "migrations",
    locales=Path(__file__).parent / "locales",
)
