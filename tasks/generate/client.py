"""One chat completion through the openai client, with the endpoint etiquette around it.

`ChatClient.complete` sends one user message in the structured-output mode the endpoint accepts
(json_schema, then json_object, then a schema in the prompt) and returns the reply. Each error
the openai client raises maps, through one table (`_HANDLERS`), to an action: retry after a
delay, send again at once with an adapted request, return a reply, or raise. An outage raises
EngineUnavailable so the caller keeps the document pending.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import openai
from openai.types.chat import ChatCompletion

from core.errors import ConfigError, EngineUnavailable
from core.models import ModelCall
from core.specs import PromptSpec
from tasks.generate.prompt import system_message
from tasks.generate.resilience import AdaptiveLimiter, Backoff, CircuitBreaker, retry_after_seconds

if TYPE_CHECKING:
    from core.settings import Settings

ENGINE_NAME = "openai"
MODES = ("json_schema", "json_object", "prompt")

_CONTEXT_LIMIT_RE = re.compile(r"maximum context length is (\d+)")
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "structured output", "guided")


class ContextTooLong(Exception):
    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        super().__init__(f"context length exceeded (limit {limit})")


class FormatRejected(Exception):
    pass


def _is_context_error(e: openai.APIStatusError) -> bool:
    msg = (e.message or "").lower()
    return e.code == "context_length_exceeded" or "context length" in msg or "context window" in msg


def _is_format_error(e: openai.APIStatusError) -> bool:
    text = f"{e.param or ''} {e.message or ''}".lower()
    return any(w in text for w in _FORMAT_WORDS)


@dataclass
class Reply:
    content: str | None
    finish_reason: str | None
    call: ModelCall


@dataclass
class Run:
    """Per-document state: the calls made and the reasons to review, shared by map threads."""

    spec: PromptSpec
    model: str
    file_name: str
    calls: list[ModelCall] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, call: ModelCall) -> None:
        with self.lock:
            self.calls.append(call)

    def review(self, reason: str | None) -> None:
        if reason:
            with self.lock:
                if reason not in self.reasons:
                    self.reasons.append(reason)


@dataclass
class _Attempt:
    """One request of a send: what a handler needs to record it and choose what comes next."""

    run: Run
    call: ModelCall
    number: int  # 1-based; the backoff grows with it
    kwargs: dict[str, Any]
    sent_at: float = 0.0

    def stop_clock(self) -> None:
        self.call.latency_ms = int((time.monotonic() - self.sent_at) * 1000)

    def fail(self) -> None:
        self.call.outcome = "error"
        self.run.record(self.call)


@dataclass(frozen=True)
class _Retry:
    """Send again after `delay`. `pacing`: a 429, the endpoint pacing us (the limiter has shrunk
    and Retry-After is honoured), not a fault: up to llm.max_rate_limited of them use up no
    attempt of those kept for 5xx and timeouts."""

    delay: float
    error: str
    pacing: bool = False


class _Resend:
    """Send again at once, uncounted: our request's shape failed, not the endpoint."""


_RESEND = _Resend()
_Outcome = Reply | _Retry | _Resend | ChatCompletion


class ChatClient:
    """The openai client, shared by every thread of a batch, with its limiter and breaker."""

    def __init__(
        self,
        settings: Settings,
        *,
        breaker_threshold: int = 10,
        breaker_open_seconds: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        llm = settings.llm
        self.settings = settings
        try:
            if llm.azure_endpoint:
                self._client: openai.OpenAI = openai.AzureOpenAI(
                    azure_endpoint=llm.azure_endpoint,
                    api_version=llm.azure_api_version,
                    timeout=llm.timeout_seconds,
                    max_retries=0,
                )
            else:
                self._client = openai.OpenAI(timeout=llm.timeout_seconds, max_retries=0)
        except openai.OpenAIError as e:  # typically no API key in the environment
            raise ConfigError(f"openai engine: {e}") from e
        self.endpoint_host = self._client.base_url.host or ""
        self.limiter = AdaptiveLimiter(llm.concurrency)
        self.breaker = CircuitBreaker(breaker_threshold, breaker_open_seconds)
        self.backoff = backoff or Backoff()
        self._lock = threading.Lock()
        self._mode_index = MODES.index(
            "json_schema" if llm.structured_output == "auto" else llm.structured_output
        )
        # Some endpoints reject max_tokens (newer OpenAI models) or temperature (reasoning models).
        self._token_param = "max_tokens"
        self._send_temperature = True

    # -- structured-output mode ----------------------------------------------------------------

    def complete(self, run: Run, user: str, purpose: str) -> Reply:
        """The reply to `user`, in the first structured-output mode the endpoint accepts."""
        while True:
            with self._lock:
                mode_index = self._mode_index
            mode = MODES[mode_index]
            messages = [
                {"role": "system", "content": system_message(run.spec, mode)},
                {"role": "user", "content": user},
            ]
            try:
                return self._send(run, messages, _response_format(run.spec, mode), purpose)
            except FormatRejected as e:
                self._next_mode(mode_index, mode, e)

    def _next_mode(self, mode_index: int, mode: str, e: FormatRejected) -> None:
        if self.settings.llm.structured_output != "auto" or mode_index + 1 >= len(MODES):
            raise EngineUnavailable(
                f"endpoint rejected structured output mode {mode!r}: {e}; "
                "set llm.structured_output = 'auto' or 'prompt'",
                permanent=True,
            ) from e
        with self._lock:
            # Remembered for this engine: later documents go straight to what works.
            self._mode_index = max(self._mode_index, mode_index + 1)

    # -- one request, retried ------------------------------------------------------------------

    def _send(
        self, run: Run, messages: list[dict[str, str]], extra: dict[str, Any], purpose: str
    ) -> Reply:
        llm = self.settings.llm
        sent_sha = hashlib.sha256(
            json.dumps(messages, ensure_ascii=False, sort_keys=True).encode("utf-8")
        ).hexdigest()
        last_error = "no attempt made"
        attempt = 0
        rate_limited = 0
        while attempt < llm.max_attempts:
            attempt += 1
            self.breaker.check()
            call = ModelCall(
                engine=ENGINE_NAME,
                model=run.model,
                endpoint_host=self.endpoint_host,
                purpose=purpose,
                sent_sha256=sent_sha,
            )
            outcome = self._attempt(
                _Attempt(run, call, attempt, self._kwargs(run, extra)), messages
            )
            if isinstance(outcome, Reply):
                return outcome
            if isinstance(outcome, _Resend):
                attempt -= 1
                continue
            last_error = outcome.error
            if outcome.pacing and rate_limited < llm.max_rate_limited:
                rate_limited += 1
                attempt -= 1
            call.outcome = "retry" if attempt < llm.max_attempts else "error"
            run.record(call)
            if attempt < llm.max_attempts:
                time.sleep(outcome.delay)
        raise EngineUnavailable(
            f"model endpoint unavailable after {llm.max_attempts} attempts: {last_error}"
        )

    def _kwargs(self, run: Run, extra: dict[str, Any]) -> dict[str, Any]:
        kwargs = dict(extra)
        kwargs[self._token_param] = run.spec.model.max_output_tokens
        if self._send_temperature:
            kwargs["temperature"] = run.spec.model.temperature
        return kwargs

    def _attempt(self, att: _Attempt, messages: list[dict[str, str]]) -> Reply | _Retry | _Resend:
        att.sent_at = self.limiter.acquire()
        try:
            self.breaker.check()  # it may have opened while we waited for a slot
            # chat.completions.create without its parameter transform: create() walks the
            # messages and the schema through every TypedDict of its signature to apply
            # aliases and formats, none of which plain strings and a JSON schema have (1.6 of
            # the client's 3.4 ms of CPU a call here). `post` is the client's documented way
            # to send a body as it is: the same path, auth, errors and ChatCompletion.
            completion = self._client.post(
                "/chat/completions",
                cast_to=ChatCompletion,
                body={"model": att.run.model, "messages": messages, **att.kwargs},
                options={"security": {"bearer_auth": True}},
            )
        except openai.OpenAIError as e:
            handler = _handler_for(e)
            if handler is None:
                raise
            outcome = handler(self, att, e)
            if not isinstance(outcome, ChatCompletion):
                return outcome
            completion = outcome
        finally:
            self.limiter.release()
        return self._on_completion(att, completion)

    def _on_completion(self, att: _Attempt, completion: ChatCompletion) -> Reply:
        call = att.call
        att.stop_clock()
        self.breaker.success()
        self.limiter.on_success()
        usage = completion.usage
        if usage is not None:
            call.prompt_tokens = usage.prompt_tokens or 0
            call.completion_tokens = usage.completion_tokens or 0
        att.run.record(call)
        choice = completion.choices[0] if completion.choices else None
        if choice is None:
            return Reply(None, None, call)
        content = choice.message.content
        if not content and getattr(choice.message, "refusal", None):
            return Reply(None, "content_filter", call)
        return Reply(content, choice.finish_reason, call)

    # -- what each error means -----------------------------------------------------------------

    def _on_finish_reason(self, att: _Attempt, e: Any) -> _Outcome:
        completion = e.completion  # only raised by parse helpers; treated like a reply
        if completion is None:
            att.fail()
            return Reply(None, "content_filter", att.call)
        return completion

    def _on_rate_limited(self, att: _Attempt, e: openai.RateLimitError) -> _Outcome:
        att.stop_clock()
        if e.code == "insufficient_quota" or e.type == "insufficient_quota":
            att.fail()
            raise EngineUnavailable(
                f"model endpoint quota exhausted (insufficient_quota): {e.message}",
                permanent=True,
            ) from e
        after = retry_after_seconds(e.response.headers)
        delay = (
            min(after, self.settings.llm.max_retry_after_seconds)
            if after is not None
            else self.backoff.delay(att.number)
        )
        self.limiter.on_rate_limited(delay, sent_at=att.sent_at)
        return _Retry(delay, f"429 rate limited: {e.message}", pacing=True)

    def _on_bad_request(self, att: _Attempt, e: openai.APIStatusError) -> _Outcome:
        att.stop_clock()
        att.fail()
        self.breaker.success()  # the endpoint is up; the request was the problem
        if _is_context_error(e):
            m = _CONTEXT_LIMIT_RE.search(e.message or "")
            raise ContextTooLong(int(m.group(1)) if m else None) from e
        if "response_format" in att.kwargs and _is_format_error(e):
            raise FormatRejected(e.message) from e
        adaptable = e.param in ("max_tokens", "temperature") or e.code in (
            "unsupported_parameter",
            "unsupported_value",
        )
        if adaptable and self._adapt_parameters(e):
            return _RESEND
        if e.code == "content_filter":
            return Reply(None, "content_filter", att.call)  # Azure: the prompt was filtered
        raise EngineUnavailable(f"model endpoint rejected the request: {e.message}") from e

    def _on_refused(self, att: _Attempt, e: openai.APIStatusError) -> _Outcome:
        att.stop_clock()
        att.fail()
        raise EngineUnavailable(
            f"model endpoint refused access ({e.status_code}): {e.message}", permanent=True
        ) from e

    def _on_status_error(self, att: _Attempt, e: openai.APIStatusError) -> _Outcome:
        att.stop_clock()
        if e.status_code < 500 and e.status_code not in (408, 409):
            att.fail()
            raise EngineUnavailable(f"model endpoint error {e.status_code}: {e.message}") from e
        self.breaker.failure()
        return _Retry(self.backoff.delay(att.number), f"HTTP {e.status_code}: {e.message}")

    def _on_connection_error(self, att: _Attempt, e: openai.APIConnectionError) -> _Outcome:
        att.stop_clock()
        self.breaker.failure()
        kind = "timeout" if isinstance(e, openai.APITimeoutError) else "connection error"
        return _Retry(self.backoff.delay(att.number), f"{kind}: {e.message}")

    def _on_invalid_response(self, att: _Attempt, e: openai.APIError) -> _Outcome:
        # e.g. a 200 whose body is not a chat completion
        att.stop_clock()
        self.breaker.failure()
        return _Retry(self.backoff.delay(att.number), f"invalid response: {e.message}")

    def _adapt_parameters(self, e: openai.APIStatusError) -> bool:
        """Adjusts to an endpoint that rejects a parameter; False when there is nothing to adjust."""
        text = f"{e.param or ''} {e.message or ''}"
        with self._lock:
            if "max_tokens" in text and self._token_param == "max_tokens":
                self._token_param = "max_completion_tokens"
                return True
            if "temperature" in text and self._send_temperature:
                self._send_temperature = False
                return True
        return False


_Handler = Callable[[ChatClient, _Attempt, Any], _Outcome]

# Error -> handler. The first row whose types match decides, so a subclass comes before its base
# (RateLimitError and BadRequestError are APIStatusErrors; APITimeoutError is an
# APIConnectionError; every row but the first is an APIError). Errors in no row propagate.
_HANDLERS: tuple[tuple[tuple[type[Exception], ...], _Handler], ...] = (
    (
        (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError),
        ChatClient._on_finish_reason,
    ),
    ((openai.RateLimitError,), ChatClient._on_rate_limited),
    ((openai.BadRequestError, openai.UnprocessableEntityError), ChatClient._on_bad_request),
    (
        (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError),
        ChatClient._on_refused,
    ),
    ((openai.APIStatusError,), ChatClient._on_status_error),
    ((openai.APIConnectionError,), ChatClient._on_connection_error),
    ((openai.APIError,), ChatClient._on_invalid_response),
)


def _handler_for(e: Exception) -> _Handler | None:
    return next((handler for types, handler in _HANDLERS if isinstance(e, types)), None)


def _response_format(spec: PromptSpec, mode: str) -> dict[str, Any]:
    """The request's extra arguments for a structured-output mode (none for "prompt")."""
    if mode == "json_schema":
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": re.sub(r"[^A-Za-z0-9_-]", "_", spec.id)[:64],
                    "strict": True,
                    "schema": spec.output_json_schema(),
                },
            }
        }
    if mode == "json_object":
        return {"response_format": {"type": "json_object"}}
    return {}
