"""A local OpenAI-compatible chat endpoint for tests and benchmarks.

It speaks real HTTP, so the real openai client (timeouts, headers, error classes) is exercised.
Everything it answers is derived from the request only: tests can check what was sent by what
comes back, and nothing is invented.

    with FakeEndpoint(latency=0.05, max_concurrency=4) as ep:
        os.environ["OPENAI_BASE_URL"] = ep.base_url

CLI (prints the base URL on one line, serves until SIGTERM):

    python -m tests.support.fake_endpoint --port 0 --latency 0.25 --max-concurrency 8

Extra routes for a benchmark driving the CLI from another process: GET /_fake/stats,
GET /_fake/requests, POST /_fake/reset.

Faults: `fail_rates` rolls a seeded RNG per request; `faults` is a script consumed in order
first (one entry per chat request): "ok", "429", "500", "hang", "length", "content_filter",
"garbage" (non-JSON content), "quota" (insufficient_quota).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import random
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

DOC_OPEN = "<<<DOCUMENT"
DOC_CLOSE = "DOCUMENT>>>"
MESSAGE_OVERHEAD_TOKENS = 4  # per message, roughly what OpenAI's chat format adds

_DOC_RE = re.compile(re.escape(DOC_OPEN) + r"[^\n]*\n(.*?)\n?" + re.escape(DOC_CLOSE), re.S)
_SCHEMA_START_RE = re.compile(r'\{\s*"type"\s*:\s*"object"')
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[。！？!?])|\n+")
_FAULT_KINDS = {"ok", "429", "500", "hang", "length", "content_filter", "garbage", "quota"}

# (status, extra headers, JSON body); a body of None drops the connection without an answer.
Response = tuple[int, dict[str, str], dict[str, Any] | None]


def estimate_tokens(text: str) -> int:
    """1 token per non-ASCII char, 1 per 4 ASCII chars (the engine uses the same rule)."""
    ascii_chars = sum(1 for ch in text if ch < "\x80")
    return (len(text) - ascii_chars) + math.ceil(ascii_chars / 4)


def _message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def prompt_tokens_of(messages: Iterable[Mapping[str, Any]]) -> int:
    msgs = list(messages)
    return sum(estimate_tokens(_message_text(m)) for m in msgs) + MESSAGE_OVERHEAD_TOKENS * len(
        msgs
    )


_AZURE_CHAT = re.compile(r"/openai/deployments/([^/]+)/chat/completions")


@dataclass(frozen=True)
class EndpointStats:
    count: int  # chat completion requests received (including failed ones)
    peak_in_flight: int  # most chat requests open at once at the server (queued included)
    peak_processing: int  # most requests past the capacity gate at once
    in_flight: int
    first_call: float | None  # time.time() of the first / last chat request received
    last_call: float | None
    statuses: dict[int, int] = field(default_factory=dict)  # HTTP status -> count

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "peak_in_flight": self.peak_in_flight,
            "peak_processing": self.peak_processing,
            "in_flight": self.in_flight,
            "first_call": self.first_call,
            "last_call": self.last_call,
            "statuses": {str(k): v for k, v in self.statuses.items()},
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Default backlog is 5: a burst of 50 connects would see resets before accept() catches up.
    request_queue_size = 256
    allow_reuse_address = True
    endpoint: FakeEndpoint


class FakeEndpoint:
    def __init__(
        self,
        latency: float = 0.0,
        max_concurrency: int | None = None,
        over_capacity: Literal["queue", "429"] = "queue",
        context_tokens: int | None = None,
        supports_json_schema: bool = True,
        fail_rates: Mapping[str, float] | None = None,
        insufficient_quota: bool = False,
        seed: int = 0,
        *,
        supports_json_object: bool = True,
        faults: Iterable[str] = (),
        retry_after_ms: int = 200,
        hang_seconds: float = 120.0,
        model_name: str = "fake-model",
        keep_requests: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if over_capacity not in ("queue", "429"):
            raise ValueError("over_capacity must be 'queue' or '429'")
        self.latency = latency
        self.max_concurrency = max_concurrency
        self.over_capacity = over_capacity
        self.context_tokens = context_tokens
        self.supports_json_schema = supports_json_schema
        self.supports_json_object = supports_json_object
        rates = {"429": 0.0, "500": 0.0, "hang": 0.0}
        rates.update(fail_rates or {})
        unknown = set(rates) - {"429", "500", "hang"}
        if unknown:
            raise ValueError(f"unknown fail_rates keys: {sorted(unknown)}")
        self.fail_rates = rates
        self.insufficient_quota = insufficient_quota
        self.retry_after_ms = retry_after_ms
        self.hang_seconds = hang_seconds
        self.model_name = model_name
        self.keep_requests = keep_requests  # False: long benchmarks would hold every prompt
        self.azure_deployments: list[str] = []  # deployment names of Azure-shaped calls, in order
        self._faults = list(faults)
        bad = [f for f in self._faults if f not in _FAULT_KINDS]
        if bad:
            raise ValueError(f"unknown faults: {bad}")
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._capacity = threading.BoundedSemaphore(max_concurrency) if max_concurrency else None
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._requests: list[dict[str, Any]] = []
        self._reset_counters()
        self._server = _Server((host, port), _Handler)
        self._server.endpoint = self
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def azure_endpoint(self) -> str:
        """The root an AzureOpenAI client is given (it adds /openai/deployments/<name>/...)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeEndpoint:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},  # close() waits one poll interval
                name="fake-endpoint",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wakes hanging handlers
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        with self._lock:
            conns = list(self._connections)
        # Keep-alive handler threads block on reading the next request; wake them up.
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FakeEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- observation -----------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Copies of the JSON bodies of chat requests, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def stats(self) -> EndpointStats:
        with self._lock:
            return EndpointStats(
                count=self._count,
                peak_in_flight=self._peak_in_flight,
                peak_processing=self._peak_processing,
                in_flight=self._in_flight,
                first_call=self._first_call,
                last_call=self._last_call,
                statuses=dict(self._statuses),
            )

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._reset_counters()

    def _reset_counters(self) -> None:
        self._count = 0
        self._in_flight = 0
        self._peak_in_flight = 0
        self._processing_count = 0
        self._peak_processing = 0
        self._first_call: float | None = None
        self._last_call: float | None = None
        self._statuses: Counter[int] = Counter()

    # -- behaviour -------------------------------------------------------------------------

    def _next_fault(self) -> str:
        with self._lock:
            if self._faults:
                return self._faults.pop(0)
            r = self._rng.random()
        acc = 0.0
        for kind in ("429", "500", "hang"):
            acc += self.fail_rates[kind]
            if r < acc:
                return kind
        return "ok"

    def _enter(self, body: dict[str, Any]) -> None:
        now = time.time()
        with self._lock:
            if self.keep_requests:
                self._requests.append(body)
            self._count += 1
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
            if self._first_call is None:
                self._first_call = now
            self._last_call = now

    def _leave(self, status: int) -> None:
        with self._lock:
            self._in_flight -= 1
            self._statuses[status] += 1

    def _acquire_capacity(self) -> bool:
        if self._capacity is None:
            return True
        if self.over_capacity == "429":
            return self._capacity.acquire(blocking=False)
        while not self._closing.is_set():
            if self._capacity.acquire(timeout=0.05):
                return True
        return False

    def handle_chat(self, body: dict[str, Any]) -> Response:
        """Returns (status, extra headers, JSON body); body None means drop the connection."""
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return 400, {}, _error("'messages' must be a non-empty array", "messages", None)
        refused = self._refuse_request(body)
        if refused is not None:
            return refused
        prompt_tokens = prompt_tokens_of(messages)
        max_out = body.get("max_completion_tokens") or body.get("max_tokens") or 0
        if self.context_tokens is not None and prompt_tokens + max_out > self.context_tokens:
            return 400, {}, self._context_error(prompt_tokens, max_out)
        if not self._acquire_capacity():
            return self._over_capacity()
        with self._processing():
            fault = self._next_fault()
            failed = self._fault_response(fault)
            if failed is not None:
                return failed
            if self.latency > 0 and self._closing.wait(self.latency):
                return 503, {}, None
            return 200, {}, self._completion(body, messages, prompt_tokens, max_out, fault)

    def _refuse_request(self, body: dict[str, Any]) -> Response | None:
        """What the endpoint refuses before any work: no quota, an unsupported response_format."""
        if self.insufficient_quota:
            return (
                429,
                {},
                _quota_error(
                    "You exceeded your current quota, please check your plan and billing details."
                ),
            )
        rf = body.get("response_format") or {}
        rf_type = rf.get("type") if isinstance(rf, dict) else None
        if (rf_type == "json_schema" and not self.supports_json_schema) or (
            rf_type == "json_object" and not self.supports_json_object
        ):
            return (
                400,
                {},
                _error(
                    f"Invalid parameter: 'response_format' of type '{rf_type}' is not supported "
                    "with this model.",
                    "response_format",
                    None,
                ),
            )
        return None

    def _context_error(self, prompt_tokens: int, max_out: int) -> dict[str, Any]:
        return _error(
            f"This model's maximum context length is {self.context_tokens} tokens. "
            f"However, you requested {prompt_tokens + max_out} tokens "
            f"({prompt_tokens} in the messages, {max_out} in the completion). "
            "Please reduce the length of the messages or completion.",
            "messages",
            "context_length_exceeded",
        )

    def _over_capacity(self) -> Response:
        if self._closing.is_set():
            return 503, {}, None
        return (
            429,
            self._retry_headers(),
            _rate_limit_error("Rate limit reached: too many requests in flight."),
        )

    @contextlib.contextmanager
    def _processing(self) -> Iterator[None]:
        """Counts the request as being processed; gives its capacity back when it is done."""
        with self._lock:
            self._processing_count += 1
            self._peak_processing = max(self._peak_processing, self._processing_count)
        try:
            yield
        finally:
            with self._lock:
                self._processing_count -= 1
            if self._capacity is not None:
                self._capacity.release()

    def _fault_response(self, fault: str) -> Response | None:
        """The answer a scripted or rolled fault gives; None for the faults in the content."""
        if fault == "quota":
            return 429, {}, _quota_error("You exceeded your current quota.")
        if fault == "429":
            return (
                429,
                self._retry_headers(),
                _rate_limit_error("Rate limit reached. Please try again later."),
            )
        if fault == "500":
            return (
                500,
                {},
                _error(
                    "The server had an error while processing your request.",
                    None,
                    None,
                    type_="server_error",
                ),
            )
        if fault == "hang":
            self._closing.wait(self.hang_seconds)
            return 503, {}, None
        return None

    def _retry_headers(self) -> dict[str, str]:
        return {
            "retry-after-ms": str(self.retry_after_ms),
            "Retry-After": str(max(1, math.ceil(self.retry_after_ms / 1000))),
        }

    def _completion(
        self,
        body: dict[str, Any],
        messages: list[dict[str, Any]],
        prompt_tokens: int,
        max_out: int,
        fault: str,
    ) -> dict[str, Any]:
        schema = _requested_schema(body, messages)
        sentences = _source_sentences(messages)
        finish = "stop"
        if fault == "garbage":
            content = "申し訳ありませんが、" + (sentences[0] if sentences else "") + " {not json"
        elif fault == "content_filter":
            content, finish = "", "content_filter"
        else:
            if schema is not None:
                value = _Filler(sentences, schema).value(schema)
            else:
                value = {"text": sentences[0] if sentences else ""}
            content = json.dumps(value, ensure_ascii=False)
        if fault == "length" or (max_out and estimate_tokens(content) > max_out):
            # Cut like a real model does when it runs out of tokens: mid-JSON.
            limit = max(1, min(len(content) // 2, max_out or len(content)))
            content, finish = content[:limit], "length"
        completion_tokens = estimate_tokens(content)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def _error(
    message: str, param: str | None, code: str | None, *, type_: str = "invalid_request_error"
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _quota_error(message: str) -> dict[str, Any]:
    return _error(message, None, "insufficient_quota", type_="insufficient_quota")


def _rate_limit_error(message: str) -> dict[str, Any]:
    return _error(message, None, "rate_limit_exceeded", type_="requests")


def _requested_schema(
    body: dict[str, Any], messages: list[dict[str, Any]]
) -> dict[str, Any] | None:
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_schema":
        schema = (rf.get("json_schema") or {}).get("schema")
        if isinstance(schema, dict):
            return schema
    # json_object / plain prompt: a client describes the schema in the prompt.
    decoder = json.JSONDecoder()
    for m in messages:
        text = _message_text(m)
        for match in _SCHEMA_START_RE.finditer(text):
            try:
                obj, _ = decoder.raw_decode(text, match.start())
            except ValueError:
                continue
            if isinstance(obj, dict) and isinstance(obj.get("properties"), dict):
                return obj
    return None


def _source_sentences(messages: list[dict[str, Any]]) -> list[str]:
    """Sentences of the delimited document in the last user message (or the whole message)."""
    user = [m for m in messages if m.get("role") == "user"] or messages
    text = _message_text(user[-1])
    blocks = _DOC_RE.findall(text)
    doc = "\n".join(blocks) if blocks else text
    stripped = doc.strip()
    if stripped[:1] in "[{":
        # A reduce call sends earlier JSON answers: echo their strings, not the JSON syntax.
        try:
            leaves = [s for s in _string_leaves(json.loads(stripped)) if s.strip()]
        except ValueError:
            leaves = []
        if leaves:
            return leaves
    return [s.strip() for s in _SENTENCE_SPLIT_RE.split(doc) if s and s.strip()]


def _string_leaves(obj: Any) -> Iterable[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _string_leaves(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _string_leaves(v)


class _Filler:
    """Builds a value that satisfies a JSON schema, filling strings from the source sentences."""

    def __init__(self, sentences: list[str], root: dict[str, Any]) -> None:
        self.sentences = sentences
        self.root = root
        self.k = 0

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            node: Any = self.root
            for part in ref[2:].split("/"):
                node = node.get(part, {}) if isinstance(node, dict) else {}
            return node if isinstance(node, dict) else {}
        return schema

    def value(self, schema: Any, depth: int = 0) -> Any:
        if not isinstance(schema, dict) or depth > 20:
            return None
        schema = self._resolve(schema)
        if "const" in schema:
            return copy.deepcopy(schema["const"])
        if schema.get("enum"):
            return copy.deepcopy(schema["enum"][0])
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if options:
                non_null = [
                    o for o in options if not (isinstance(o, dict) and o.get("type") == "null")
                ]
                return self.value((non_null or options)[0], depth + 1)
        if schema.get("allOf"):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(self._resolve(part) if isinstance(part, dict) else {})
            return self.value(merged, depth + 1)
        typ = schema.get("type")
        if isinstance(typ, list):
            typ = next((t for t in typ if t != "null"), "null")
        if typ is None:
            typ = "object" if "properties" in schema else "array" if "items" in schema else "string"
        if typ == "object":
            props = schema.get("properties") or {}
            return {name: self.value(sub, depth + 1) for name, sub in props.items()}
        if typ == "array":
            lo = int(schema.get("minItems", 1))
            hi = int(schema.get("maxItems", 3))
            n = max(lo, min(hi, 1 + (self.k % 3), max(1, len(self.sentences))))
            return [self.value(schema.get("items", {}), depth + 1) for _ in range(n)]
        if typ == "string":
            return self._string(schema)
        if typ == "integer":
            return max(int(schema.get("minimum", 0)), len(self.sentences))
        if typ == "number":
            return float(max(schema.get("minimum", 0), len(self.sentences)))
        if typ == "boolean":
            return True
        return None

    def _string(self, schema: dict[str, Any]) -> str:
        if not self.sentences:
            s = ""
        else:
            s = self.sentences[self.k % len(self.sentences)]
            self.k += 1
        s = s[: int(schema.get("maxLength", 200))]
        min_len = int(schema.get("minLength", 0))
        if len(s) < min_len:
            s = s + "。" * (min_len - len(s))
        return s


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the openai client pools connections
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.endpoint._lock:
            self.server.endpoint._connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.endpoint._lock:
                self.server.endpoint._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # per-request logging would dominate a benchmark

    def _send_json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        ep = self.server.endpoint
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/v1/models":
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {
                            "id": ep.model_name,
                            "object": "model",
                            "created": 0,
                            "owned_by": "teichaku-fake",
                        }
                    ],
                },
            )
        elif path == "/_fake/stats":
            self._send_json(200, ep.stats.as_dict())
        elif path == "/_fake/requests":
            self._send_json(200, ep.requests)
        else:
            self._send_json(404, _error(f"Unknown path {path}", None, "not_found"))

    def do_POST(self) -> None:
        ep = self.server.endpoint
        path = self.path.split("?", 1)[0].rstrip("/")
        raw = self._read_body()
        if path == "/_fake/reset":
            ep.reset()
            self._send_json(200, {"ok": True})
            return
        azure = _AZURE_CHAT.fullmatch(path)
        if path != "/v1/chat/completions" and azure is None:
            self._send_json(404, _error(f"Unknown path {path}", None, "not_found"))
            return
        if azure is not None:
            # Azure OpenAI: the deployment is in the path, api-version and api-key are required.
            if "api-version=" not in self.path or not self.headers.get("api-key"):
                self._send_json(
                    401, _error("Azure call without api-version or api-key", None, "unauthorized")
                )
                return
            ep.azure_deployments.append(azure.group(1))
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except ValueError as e:
            self._send_json(400, _error(f"Invalid JSON body: {e}", None, None))
            return
        ep._enter(body)
        try:
            status, headers, payload = ep.handle_chat(body)
        except BaseException:
            ep._leave(500)
            raise
        # Counted before the bytes go out: a client holding its answer must see it in the stats.
        ep._leave(status)
        if payload is None:
            self.close_connection = True
            return
        try:
            self._send_json(status, payload, headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tests.support.fake_endpoint", description=__doc__.split("\n")[0]
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--max-concurrency", type=int, default=None)
    p.add_argument("--over-capacity", choices=["queue", "429"], default="queue")
    p.add_argument("--context-tokens", type=int, default=None)
    p.add_argument(
        "--no-json-schema", action="store_true", help="reject response_format json_schema"
    )
    p.add_argument("--fail-429", type=float, default=0.0)
    p.add_argument("--fail-500", type=float, default=0.0)
    p.add_argument("--fail-hang", type=float, default=0.0)
    p.add_argument("--insufficient-quota", action="store_true")
    p.add_argument("--retry-after-ms", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-keep-requests", action="store_true", help="do not record request bodies")
    a = p.parse_args(argv)
    ep = FakeEndpoint(
        latency=a.latency,
        max_concurrency=a.max_concurrency,
        over_capacity=a.over_capacity,
        context_tokens=a.context_tokens,
        supports_json_schema=not a.no_json_schema,
        fail_rates={"429": a.fail_429, "500": a.fail_500, "hang": a.fail_hang},
        insufficient_quota=a.insufficient_quota,
        seed=a.seed,
        retry_after_ms=a.retry_after_ms,
        keep_requests=not a.no_keep_requests,
        host=a.host,
        port=a.port,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with ep:
        print(ep.base_url, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
