"""The Markdown draft: the banner, the document's title, the spec's render_template, then the
確認用メモ (provenance, warnings and the rules) after the body, as in the Word draft."""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateError

from core.errors import ConfigError
from core.models import DraftMeta
from core.specs import PromptSpec
from core.templating import render as render_jinja
from tasks.render.text import (
    BANNER,
    NOTES_HEADING,
    OFFLINE_NOTICE,
    RULES_HEADING,
    clean_text,
    document_key,
    draft_title,
    review_notes,
)


def render_markdown(spec: PromptSpec, output: dict[str, Any], meta: DraftMeta) -> str:
    try:
        body = render_jinja(spec.render_template, out=output, meta=meta.model_dump(), spec=spec)
    except TemplateError as e:
        # A broken template is a spec bug for the DX office, not a reason to quarantine the file.
        raise ConfigError(f"spec {spec.id} v{spec.version}: render_template failed: {e}") from e
    notes = review_notes(spec, meta)
    # kpi.metrics.draft_excerpt takes the content from after the first rule: keep the banner
    # (and the offline notice) above it and nothing else.
    parts = [f"**{BANNER}**", ""]
    if meta.offline:
        parts += [f"> {OFFLINE_NOTICE}", ""]
    parts += ["---", "", f"# {draft_title(spec, output, meta)}", ""]
    parts += [clean_text(body).strip("\n"), "", "---", "", f"## {NOTES_HEADING}", ""]
    parts += [f"- {k}: {v}" for k, v in (*notes.provenance, *notes.warnings)]
    parts += ["", f"### {RULES_HEADING}", "", f"- 確認の義務: {notes.duty}"]
    if notes.forbidden:
        parts.append("- 入力してはいけないもの:")
        parts += [f"  - {x}" for x in notes.forbidden]
    parts.append(f"- 問い合わせ先: {notes.owner}")
    parts += ["", f"<!-- teichaku:doc={document_key(meta.spec_id, meta.source_name)} -->", ""]
    return clean_text("\n".join(parts))
