"""Render step: structured output -> a Markdown draft and a Word draft (bytes, not yet written).

Both say on every page that they are unchecked AI drafts (the banner), carry the document's own
title and end with a 確認用メモ (provenance, warnings, the spec's rules) that the person removes
before handing the draft in. The Word draft is either the house style (`house`: A4, Japanese
fonts, real headings, bullets and tables with widths from their content) or, when the spec
names a `word_template`, the company's own form filled in (`form`).

Rooms: `text` (what every draft says), `blocks` (writing into any .docx), `widths`, `house`,
`form`, `markdown`. Imports core only.
"""

from __future__ import annotations

from typing import Any

from core.models import DraftMeta, RenderedDraft
from core.specs import PromptSpec
from tasks.render.markdown import render_markdown
from tasks.render.text import (
    BANNER,
    DOC_MARKER_RE,
    EMPTY,
    NOTES_HEADING,
    OFFLINE_NOTICE,
    RULES_HEADING,
    clean_text,
    document_key,
    draft_title,
    format_time,
    source_heading,
)

__all__ = [
    "BANNER",
    "DOC_MARKER_RE",
    "EMPTY",
    "NOTES_HEADING",
    "OFFLINE_NOTICE",
    "RULES_HEADING",
    "clean_text",
    "document_key",
    "draft_title",
    "format_time",
    "render_draft",
    "render_markdown",
    "source_heading",
]


def render_draft(
    spec: PromptSpec, output: dict[str, Any], meta: DraftMeta, *, stem: str
) -> RenderedDraft:
    """Render both draft files in memory. Raises ConfigError when the spec's template or form is
    broken (a spec bug for the DX office, not a reason to quarantine the document)."""
    # python-docx and docxtpl (~0.13 s): imported by the processes that render (the worker
    # server preloads them), not by every importer of the text helpers (a batch's main process).
    from tasks.render.form import render_form
    from tasks.render.house import render_docx

    output = output or {}
    form = spec.form_path
    return RenderedDraft(
        stem=stem,
        markdown=render_markdown(spec, output, meta),
        docx_bytes=render_form(form, spec, output, meta)
        if form
        else render_docx(spec, output, meta),
    )
