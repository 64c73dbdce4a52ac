"""The jobs the batch's worker processes run: the CPU halves on either side of the model call.

`prepare` (read and guard: before the model) and `render_output` (after it) are plain functions
that flows/document.py runs through the pool (or on its own thread without workers). They live
apart from the document flow so that a worker imports only the steps they use: the document
flow brings the store (SQLAlchemy), the publisher and the notifier, which no worker needs, and
the worker server preloads this module before it can fork the first worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.models import DraftMeta, ExtractedDocument, RenderedDraft
from core.settings import Settings
from core.specs import PromptSpec
from tasks.extract import extract_text
from tasks.guard import GuardResult, guard_text
from tasks.render import render_draft


def prepare(
    read_path: Path,
    spec: PromptSpec,
    settings: Settings,
    file_name: str,
    extracted: ExtractedDocument | None = None,
) -> tuple[ExtractedDocument, GuardResult]:
    """Read (unless already read) and guard one document: what must happen before the model."""
    if extracted is None:
        extracted = extract_text(read_path, settings.intake)
    return extracted, guard_text(extracted.text, spec, settings, file_name=file_name)


def render_output(
    spec: PromptSpec, output: dict[str, Any], meta: DraftMeta, stem: str
) -> RenderedDraft:
    """Render the draft (.docx and .md): the CPU half after the model call. The caller writes it."""
    return render_draft(spec, output, meta, stem=stem)
