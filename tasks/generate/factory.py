"""The one place an engine is built: the batch, the guard's local route, `specs test` and the
catalogue all ask here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.engine import Engine
from core.errors import ConfigError
from tasks.generate.offline import OfflineEngine

if TYPE_CHECKING:
    from core.settings import Settings


def build_engine(settings: Settings, name: str | None = None) -> Engine:
    """The engine called `name` ("offline" / "openai"), by default the settings' engine."""
    name = name or settings.engine
    if name == "offline":
        return OfflineEngine(settings)
    if name == "openai":
        # `import openai` costs 0.6-2.3 s (python -X importtime, 2 shared cores); offline runs
        # (the demo, the guard's local route, the catalogue) never pay it.
        from tasks.generate.openai_engine import OpenAIEngine

        return OpenAIEngine(settings)
    raise ConfigError(f"unknown engine {name!r}: use offline or openai")
