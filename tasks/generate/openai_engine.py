"""The engine behind an OpenAI-compatible endpoint (OpenAI, Azure OpenAI, vLLM, Ollama, ...).

Documents longer than the context window are split (map) and the parts merged (reduce); text is
never cut to fit. A bad answer becomes a result with needs_review_reason, never a silent empty
draft; an outage raises EngineUnavailable (from the ChatClient) with the calls made so far.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from core.errors import EngineUnavailable
from core.models import GenerationResult
from core.specs import PromptSpec
from tasks.generate.client import ENGINE_NAME, ChatClient, ContextTooLong, Run
from tasks.generate.coercion import (
    REVIEW_FILTER,
    REVIEW_LENGTH,
    REVIEW_MERGED,
    REVIEW_PART_FAILED,
    REVIEW_UNPARSABLE,
    coerce_output,
    empty_output,
    merge_notes,
    parse_json_object,
)
from tasks.generate.prompt import compose_user, map_prefix, reduce_prefix, system_message
from tasks.generate.resilience import Backoff
from tasks.generate.splitting import (
    MIN_SPLIT_TOKENS,
    estimate_tokens,
    group_evenly,
    split_in_half,
    split_text,
)

if TYPE_CHECKING:
    from core.settings import Settings

MESSAGE_OVERHEAD_TOKENS = 4  # per chat message
MAX_REDUCE_DEPTH = 6


class OpenAIEngine:
    """Shared by every thread of a batch; one ChatClient holds its limiter and circuit breaker."""

    name = ENGINE_NAME

    def __init__(
        self,
        settings: Settings,
        *,
        breaker_threshold: int = 10,
        breaker_open_seconds: float = 30.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        map_workers: int = 4,
    ) -> None:
        self.settings = settings
        self.model = settings.llm.model
        self.client = ChatClient(
            settings,
            breaker_threshold=breaker_threshold,
            breaker_open_seconds=breaker_open_seconds,
            backoff=Backoff(backoff_base, backoff_cap),
        )
        self.endpoint_host = self.client.endpoint_host
        self.limiter = self.client.limiter
        self.breaker = self.client.breaker
        self.map_workers = max(1, map_workers)
        self._lock = threading.Lock()
        self._learned_context: dict[str, int] = {}

    # -- public --------------------------------------------------------------------------------

    def generate(self, spec: PromptSpec, text: str, *, file_name: str) -> GenerationResult:
        model = spec.model.model or self.model
        run = Run(spec=spec, model=model, file_name=file_name)
        try:
            budget = self.document_budget(spec, model)
            if estimate_tokens(text) <= budget:
                try:
                    out, reason = self._structured(
                        run, compose_user(spec, text, file_name), "single", final=True
                    )
                    output = out if out is not None else empty_output(spec)
                    chunks = 1
                except ContextTooLong as e:
                    self._learn_context(model, e.limit)
                    pieces = split_text(text, self.document_budget(spec, model))
                    if len(pieces) < 2:  # the limit was not in the message: halve and see
                        pieces = split_in_half(text)
                    output, chunks = self._map_reduce(run, pieces)
                    reason = None
            else:
                output, chunks = self._map_reduce(run, split_text(text, budget))
                reason = None
        except EngineUnavailable as e:
            e.calls = list(run.calls)  # type: ignore[attr-defined]  # for the audit trail
            raise
        run.review(reason)
        return GenerationResult(
            output=output,
            engine=self.name,
            model=model,
            calls=run.calls,
            chunks=chunks,
            needs_review_reason=" ".join(run.reasons) or None,
        )

    def context_for(self, model: str) -> int:
        configured = self.settings.llm.context_for(model)
        with self._lock:
            return min(configured, self._learned_context.get(model, configured))

    def document_budget(self, spec: PromptSpec, model: str) -> int:
        """Tokens of document text that fit in one request next to the prompt and the answer."""
        ctx = self.context_for(model)
        overhead = (
            max(
                estimate_tokens(system_message(spec, "prompt")),
                # json_schema mode: the schema travels beside the prompt and counts as input too
                estimate_tokens(system_message(spec, "json_schema"))
                + estimate_tokens(json.dumps(spec.output_json_schema(), ensure_ascii=False)),
            )
            + estimate_tokens(
                compose_user(spec, "", "x" * 40, reduce_prefix(999) + map_prefix("999/999"))
            )
            + 2 * MESSAGE_OVERHEAD_TOKENS
        )
        margin = max(64, ctx // 20)
        return max(ctx - spec.model.max_output_tokens - overhead - margin, MIN_SPLIT_TOKENS)

    # -- map / reduce --------------------------------------------------------------------------

    def _map_reduce(self, run: Run, pieces: list[str]) -> tuple[dict[str, Any], int]:
        n = len(pieces)
        labels = [f"{i}/{n}" for i in range(1, n + 1)]
        results = self._parallel(
            lambda args: self._map_piece(run, *args), list(zip(pieces, labels, strict=True))
        )
        notes: list[dict[str, Any]] = []
        failed: list[str] = []
        for part in results:
            for label, note in part:
                if note is None:
                    failed.append(label)
                else:
                    notes.append(note)
        chunks = sum(len(part) for part in results)
        if failed:
            run.review(REVIEW_PART_FAILED.format(parts="、".join(failed)))
        if not notes:
            return empty_output(run.spec), chunks
        return self._reduce_all(run, notes), chunks

    def _map_piece(
        self, run: Run, piece: str, label: str
    ) -> list[tuple[str, dict[str, Any] | None]]:
        try:
            note, reason = self._structured(
                run,
                compose_user(run.spec, piece, run.file_name, map_prefix(label)),
                "map",
                final=False,
            )
        except ContextTooLong as e:
            self._learn_context(run.model, e.limit)
            if estimate_tokens(piece) < 2 * MIN_SPLIT_TOKENS:
                raise self._misconfigured(run) from e
            a, b = split_in_half(piece)
            head, _, total = label.partition("/")
            return self._map_piece(run, a, f"{head}-1/{total}") + self._map_piece(
                run, b, f"{head}-2/{total}"
            )
        if note is not None:  # a lost part is reported once, by _map_reduce
            run.review(reason)
        return [(label, note)]

    def _reduce_all(self, run: Run, notes: list[dict[str, Any]]) -> dict[str, Any]:
        budget = self.document_budget(run.spec, run.model)
        level = 0
        while True:
            sized = [(n, estimate_tokens(json.dumps(n, ensure_ascii=False)) + 2) for n in notes]
            groups = group_evenly(sized, budget)
            if len(groups) == 1:
                return self._reduce_group(run, groups[0], final=True, depth=0)
            if len(groups) >= len(notes) or level >= MAX_REDUCE_DEPTH:
                # Notes as big as the window: a model cannot merge them, so merge them by rule
                # and say so, rather than stop the batch.
                run.review(REVIEW_MERGED)
                merged, reason = coerce_output(run.spec, merge_notes(run.spec, notes))
                run.review(reason)
                return merged
            # Too many notes for one request: merge them in groups, then merge the merges.
            reduced = self._parallel(
                lambda g: g[0] if len(g) == 1 else self._reduce_group(run, g, final=False, depth=0),
                groups,
            )
            notes = [r for r in reduced if r is not None]
            level += 1

    def _reduce_group(
        self, run: Run, notes: list[dict[str, Any]], *, final: bool, depth: int
    ) -> dict[str, Any]:
        payload = json.dumps(notes, ensure_ascii=False)
        user = compose_user(run.spec, payload, run.file_name, reduce_prefix(len(notes)))
        try:
            output, reason = self._structured(run, user, "reduce", final=final)
        except ContextTooLong as e:
            self._learn_context(run.model, e.limit)
            if len(notes) < 2 or depth >= MAX_REDUCE_DEPTH:
                raise self._misconfigured(run) from e
            mid = len(notes) // 2
            halves = [
                self._reduce_group(run, notes[:mid], final=False, depth=depth + 1),
                self._reduce_group(run, notes[mid:], final=False, depth=depth + 1),
            ]
            return self._reduce_group(run, halves, final=final, depth=depth + 1)
        if output is None:
            if reason != REVIEW_UNPARSABLE:  # that one says "empty", which a merge is not
                run.review(reason)
            run.review(REVIEW_MERGED)
            merged, coerce_reason = coerce_output(run.spec, merge_notes(run.spec, notes))
            run.review(coerce_reason if final else None)
            return merged
        run.review(reason)
        return output

    def _parallel(self, fn: Any, items: list[Any]) -> list[Any]:
        if len(items) == 1:
            return [fn(items[0])]
        workers = min(len(items), self.map_workers, self.settings.llm.concurrency)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="teichaku-map") as ex:
            futures: list[Future[Any]] = [ex.submit(fn, it) for it in items]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()  # an outage: do not start the queued pieces
                raise

    def _misconfigured(self, run: Run) -> EngineUnavailable:
        return EngineUnavailable(
            f"model {run.model!r}: the context window ({self.context_for(run.model)} tokens) is too "
            f"small for spec {run.spec.id} (max_output_tokens={run.spec.model.max_output_tokens}); "
            "set llm.context_tokens(_by_model) or lower the spec's max_output_tokens",
            permanent=True,
        )

    def _learn_context(self, model: str, limit: int | None) -> None:
        if limit:
            with self._lock:
                self._learned_context[model] = min(limit, self._learned_context.get(model, limit))

    # -- one structured answer -----------------------------------------------------------------

    def _structured(
        self, run: Run, user: str, purpose: str, *, final: bool
    ) -> tuple[dict[str, Any] | None, str | None]:
        """A validated output (None when unusable) and a review reason.

        Unparsable JSON is asked for once more; truncation and filtering are not (the same
        request would fail the same way). `final`: the answer is the document's output, so
        missing sections are worth a review note (a partial note may lack them).
        """
        for attempt in (1, 2):
            reply = self.client.complete(run, user, purpose)
            if reply.finish_reason == "content_filter":
                return None, REVIEW_FILTER
            data = parse_json_object(reply.content)
            if data is None:
                if reply.finish_reason == "length":
                    return None, REVIEW_LENGTH
                if attempt == 1:
                    reply.call.outcome = "retry"
                    continue
                reply.call.outcome = "error"
                return None, REVIEW_UNPARSABLE
            output, reason = coerce_output(run.spec, data)
            if not final and reason and reason != REVIEW_UNPARSABLE:
                reason = None
            if reply.finish_reason == "length":
                reason = " ".join(r for r in (REVIEW_LENGTH, reason) if r)
            return output, reason
        raise AssertionError("unreachable")
