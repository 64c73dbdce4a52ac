"""jinja2 for specs: sandboxed (DX-office staff edit templates) and strict (a typo fails loudly)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=256)
def compile_template(source: str) -> Template:
    return environment().from_string(source)


def render(source: str, **context: Any) -> str:
    return compile_template(source).render(**context)
