"""The model catalog of the fake OpenAI server.

Owns which models exist, what each can do (endpoint kind, context length, image sizes/qualities).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelInfo:
    id: str
    kind: str  # completion | chat | image | transcription | embedding | moderation
    created: int = 1_700_000_000
    owned_by: str = "system"
    context: int | None = None  # completion models: prompt + max_tokens limit
    dims: int | None = None  # embedding models: native dimensions
    fine_tunable: bool = False
    vision: bool = False  # chat models: accepts image_url content parts


_GPT_IMAGE_SIZES = ("auto", "1024x1024", "1536x1024", "1024x1536")
IMAGE_SIZES: dict[str, tuple[str, ...]] = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "gpt-image-1": _GPT_IMAGE_SIZES,
    "gpt-image-1-mini": _GPT_IMAGE_SIZES,
    "gpt-image-1.5": _GPT_IMAGE_SIZES,
    "gpt-image-2": _GPT_IMAGE_SIZES,  # plus arbitrary WxH, see images route
}
IMAGE_QUALITIES: dict[str, tuple[str, ...]] = {
    "dall-e-2": ("standard", "auto"),
    "dall-e-3": ("standard", "hd", "auto"),
}
GPT_IMAGE_QUALITIES = ("low", "medium", "high", "auto")
FREEFORM_SIZE_MODELS = ("gpt-image-2",)

BUILTIN_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("gpt-3.5-turbo-instruct", "completion", 1_692_901_427, context=4096),
    ModelInfo("gpt-3.5-turbo-instruct-0914", "completion", 1_694_122_472, context=4096),
    ModelInfo("davinci-002", "completion", 1_692_634_301, context=16384, fine_tunable=True),
    ModelInfo("babbage-002", "completion", 1_692_634_615, context=16384, fine_tunable=True),
    ModelInfo("gpt-3.5-turbo", "chat", 1_677_610_602, "openai", context=16385, fine_tunable=True),
    ModelInfo("gpt-4o", "chat", 1_715_367_049, context=128_000, vision=True),
    ModelInfo("gpt-4o-mini", "chat", 1_721_172_741, context=128_000, fine_tunable=True, vision=True),
    ModelInfo("gpt-4.1", "chat", 1_744_316_542, context=1_047_576, vision=True),
    ModelInfo("gpt-4.1-mini", "chat", 1_744_318_173, context=1_047_576, fine_tunable=True, vision=True),
    ModelInfo("gpt-5.4-mini", "chat", 1_772_000_000, context=400_000, vision=True),
    ModelInfo("gpt-5.5", "chat", 1_776_500_000, context=400_000, vision=True),
    ModelInfo("o4-mini", "chat", 1_744_225_351, context=200_000, vision=True),
    ModelInfo("gpt-image-2", "image", 1_776_000_000),
    ModelInfo("gpt-image-1.5", "image", 1_765_000_000),
    ModelInfo("gpt-image-1", "image", 1_745_517_030),
    ModelInfo("gpt-image-1-mini", "image", 1_758_845_821),
    ModelInfo("dall-e-3", "image", 1_698_785_189),
    ModelInfo("dall-e-2", "image", 1_698_798_177),
    ModelInfo("whisper-1", "transcription", 1_677_532_384, "openai-internal"),
    ModelInfo("gpt-4o-transcribe", "transcription", 1_742_068_463),
    ModelInfo("gpt-4o-mini-transcribe", "transcription", 1_742_068_596),
    ModelInfo("text-embedding-3-small", "embedding", 1_705_948_997, dims=1536),
    ModelInfo("text-embedding-3-large", "embedding", 1_705_953_180, dims=3072),
    ModelInfo("text-embedding-ada-002", "embedding", 1_671_217_299, "openai-internal", dims=1536),
    ModelInfo("omni-moderation-latest", "moderation", 1_731_689_265),
    ModelInfo("omni-moderation-2024-09-26", "moderation", 1_732_734_466),
    ModelInfo("text-moderation-latest", "moderation", 1_677_610_602),
    ModelInfo("text-moderation-stable", "moderation", 1_677_610_602),
)


@dataclass
class Catalog:
    """Mutable list of models: tests retire or add models to simulate the real list changing."""

    _models: dict[str, ModelInfo] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._models = {m.id: m for m in BUILTIN_MODELS}

    def get(self, model_id: str) -> ModelInfo | None:
        with self._lock:
            return self._models.get(model_id)

    def all(self) -> list[ModelInfo]:
        with self._lock:
            return list(self._models.values())

    def add(self, info: ModelInfo) -> None:
        with self._lock:
            self._models[info.id] = info

    def remove(self, model_id: str) -> None:
        with self._lock:
            self._models.pop(model_id, None)

    def base_of(self, model_id: str) -> ModelInfo | None:
        """Fine-tuned ids (`ft:davinci-002:org::abc`) behave like their base model."""
        info = self.get(model_id)
        if info is None and model_id.startswith("ft:"):
            return None
        return info
