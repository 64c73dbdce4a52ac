"""The Engine type: what turns a document's text into a spec's structured output.

Every place that holds or passes an engine (the batch context, the guard's routing, `specs test`,
the catalogue) is typed with this Protocol; `tasks.generate.build_engine` is the one place that
builds one. It lives in the ground package so the steps and the flows can name it without
importing an implementation (and the openai client with it).
"""

from __future__ import annotations

from typing import Protocol

from core.models import GenerationResult
from core.specs import PromptSpec


class Engine(Protocol):
    """A model behind one call per document; safe to share between the threads of a batch."""

    name: str  # "openai" | "offline": recorded on every draft and model call
    model: str  # the default model; a spec may name another (GenerationResult.model says which)

    def generate(self, spec: PromptSpec, text: str, *, file_name: str) -> GenerationResult:
        """The validated output for `text`; raises core.errors.EngineUnavailable on an outage."""
        ...
