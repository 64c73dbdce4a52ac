"""Generate: turn a document's (guarded) text into the spec's structured output with an engine.

What it is for: the generate step. `build_engine` (factory) is the one place an engine is built;
every engine satisfies `core.engine.Engine` and is shared by every thread of a batch.

Where things are:
- `prompt`       the system and user messages, the untrusted-content notice, the delimiters
- `splitting`    token estimates, a long document cut into pieces that fit (nothing dropped)
- `coercion`     JSON found in a reply, brought within the spec's bounds, the review reasons
- `resilience`   adaptive concurrency limit, circuit breaker, Retry-After, backoff
- `client`       one chat completion through the openai client: error -> retry / raise / return
- `openai_engine` the endpoint engine: one call, or map over pieces and reduce the notes
- `offline`      the extractive engine: no model, no network, deterministic
- `factory`      `build_engine(settings, name=None)`: "offline", "openai" or the settings' engine

What it may import: `core` only (and its own modules), enforced by the layers contract in
pyproject.toml. An outage raises core.errors.EngineUnavailable so the caller keeps the document
pending; a bad answer becomes a result with needs_review_reason, never a silent empty draft.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.engine import Engine
from tasks.generate.coercion import (
    REVIEW_FILTER,
    REVIEW_LENGTH,
    REVIEW_MERGED,
    REVIEW_MISSING,
    REVIEW_PART_FAILED,
    REVIEW_TRUNCATED,
    REVIEW_UNPARSABLE,
    coerce_output,
    empty_output,
    merge_notes,
    parse_json_object,
)
from tasks.generate.factory import build_engine
from tasks.generate.offline import OfflineEngine
from tasks.generate.prompt import (
    DOC_CLOSE,
    DOC_OPEN,
    UNTRUSTED_NOTICE_JA,
    render_user_prompt,
    system_message,
)
from tasks.generate.resilience import AdaptiveLimiter, CircuitBreaker
from tasks.generate.splitting import estimate_tokens, split_text

if TYPE_CHECKING:
    from tasks.generate.openai_engine import OpenAIEngine

__all__ = [
    "DOC_CLOSE",
    "DOC_OPEN",
    "REVIEW_FILTER",
    "REVIEW_LENGTH",
    "REVIEW_MERGED",
    "REVIEW_MISSING",
    "REVIEW_PART_FAILED",
    "REVIEW_TRUNCATED",
    "REVIEW_UNPARSABLE",
    "UNTRUSTED_NOTICE_JA",
    "AdaptiveLimiter",
    "CircuitBreaker",
    "Engine",
    "OfflineEngine",
    "OpenAIEngine",
    "build_engine",
    "coerce_output",
    "empty_output",
    "estimate_tokens",
    "merge_notes",
    "parse_json_object",
    "render_user_prompt",
    "split_text",
    "system_message",
]


def __getattr__(name: str) -> Any:
    if name == "OpenAIEngine":
        # `import openai` costs 0.6-2.3 s (python -X importtime, 2 shared cores): loaded on use.
        from tasks.generate.openai_engine import OpenAIEngine

        return OpenAIEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
