"""The company's own Word form (社内様式), filled in: a spec's `word_template`.

The form is an ordinary .docx made in Word with jinja2 tags in docxtpl's syntax: each output field
by its name (`{{ subject }}`, `{% for c in cost %}…{% endfor %}`, table rows with `{%tr … %}`),
plus `meta` (source_file, created_at, engine, model, spec_id, spec_version, department, title).
The draft is that form filled in; the 要確認 banner goes into the header when the form does not
carry it, and whatever the form does not show goes to the 確認用メモ page, so nothing is lost.

Rendered in jinja2's sandbox with StrictUndefined (the DX office edits forms, and a misspelt tag
must fail loudly) and with autoescape on (values go into XML: 「A&B」 must stay text).
"""

from __future__ import annotations

import difflib
import io
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from docx import Document
from docx.opc.exceptions import PackageNotFoundError
from docx.opc.oxml import parse_xml
from docxtpl import DocxTemplate
from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2 import meta as jinja_meta
from jinja2.sandbox import SandboxedEnvironment

from core.errors import ConfigError
from core.models import DraftMeta
from core.specs import PromptSpec
from tasks.render.blocks import Writer
from tasks.render.house import _core_properties, add_banner
from tasks.render.text import (
    as_items,
    as_rows,
    as_text,
    clean_text,
    draft_title,
    format_time,
    header_text,
    review_notes,
)

META_KEYS = (
    "source_file",
    "created_at",
    "engine",
    "model",
    "spec_id",
    "spec_version",
    "department",
    "title",
)
_TAG_MARKS = ("{{", "}}", "{%", "%}")
_BANNER_MARK = "要確認"


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


def form_context(spec: PromptSpec, output: dict[str, Any], meta: DraftMeta) -> dict[str, Any]:
    """What a form's tags can name: every output field, and `meta`."""
    ctx: dict[str, Any] = {}
    for f in spec.output:
        value = output.get(f.name)
        if f.kind == "text":
            ctx[f.name] = clean_text(as_text(value)).strip()
        elif f.kind == "list":
            ctx[f.name] = as_items(value)
        else:
            names = [c.name for c in f.columns or []]
            ctx[f.name] = [dict(zip(names, row, strict=True)) for row in as_rows(value, names)]
    ctx["meta"] = {
        "source_file": meta.source_name,
        "created_at": format_time(meta.created_at),
        "engine": meta.engine,
        "model": meta.model,
        "spec_id": meta.spec_id,
        "spec_version": meta.spec_version,
        "department": meta.department_name,
        "title": draft_title(spec, output, meta),
    }
    return ctx


def _open(path: Path) -> DocxTemplate:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: 様式ファイルを開けません（{e.strerror or e}）。") from e
    tpl = DocxTemplate(io.BytesIO(data))
    try:
        tpl.init_docx()
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise ConfigError(f"{path}: Word の様式ファイル（.docx）として読めません（{e}）。") from e
    return tpl


def _source(tpl: DocxTemplate) -> str:
    """The form's jinja source: body, headers and footers, as docxtpl renders them."""
    doc = tpl.docx
    xml = tpl.patch_xml(tpl.xml_to_string(doc._element.body))
    for rel in doc.part.rels.values():
        if rel.reltype in (tpl.HEADER_URI, tpl.FOOTER_URI) and rel.target_part.blob:
            xml += tpl.patch_xml(tpl.xml_to_string(parse_xml(rel.target_part.blob)))
    return xml


def form_tags(path: Path) -> tuple[set[str], set[str]]:
    """(top-level names, meta.<key> names) the form uses. Raises ConfigError on a syntax error."""
    return _tags(path, _source(_open(path)))


def _tags(path: Path, source: str) -> tuple[set[str], set[str]]:
    try:
        ast = environment().parse(source)
    except TemplateError as e:
        raise ConfigError(f"{path}: 様式のタグの書き方に誤りがあります（{e}）。") from e
    names = set(jinja_meta.find_undeclared_variables(ast))
    keys = {
        n.attr
        for n in ast.find_all(nodes.Getattr)
        if isinstance(n.node, nodes.Name) and n.node.name == "meta"
    }
    return names, keys


def _fill(path: Path, spec: PromptSpec, output: dict[str, Any], meta: DraftMeta) -> tuple[Any, str]:
    """The filled form (reopened) and its jinja source, taken before rendering replaces it, so
    the form is opened once per draft."""
    tpl = _open(path)
    source = _source(tpl)
    try:
        tpl.render(form_context(spec, output, meta), jinja_env=environment())
    except TemplateError as e:
        raise ConfigError(f"{path}: 様式に値を差し込めません（{e}）。") from e
    # docxtpl swaps the header parts behind python-docx's back (python-docx keeps editing the
    # old ones, which are not saved), so the filled form is reopened before we add to it.
    buf = io.BytesIO()
    tpl.save(buf)
    return Document(io.BytesIO(buf.getvalue())), source


def _headers(doc: Any) -> list[Any]:
    found = []
    even = doc.settings.odd_and_even_pages_header_footer
    for i, section in enumerate(doc.sections):
        candidates = [section.header]
        if section.different_first_page_header_footer:
            candidates.append(section.first_page_header)
        if even:
            candidates.append(section.even_page_header)
        # A later section that links to the previous one shows that one's header.
        found += [h for h in candidates if i == 0 or not h.is_linked_to_previous]
    return found


def render_form(path: Path, spec: PromptSpec, output: dict[str, Any], meta: DraftMeta) -> bytes:
    """The form filled in, the banner on every page, and a 確認用メモ page with what it lacks."""
    doc, source = _fill(path, spec, output, meta)
    notes = review_notes(spec, meta)
    banner = header_text(meta, notes)
    for header in _headers(doc):
        if _BANNER_MARK not in "".join(p.text for p in header.paragraphs):
            add_banner(header, banner)
    shown, _ = _tags(path, source)
    unshown = [(f, output.get(f.name)) for f in spec.output if f.name not in shown]
    Writer.of(doc).notes(notes, unshown)
    _core_properties(doc.core_properties, draft_title(spec, output, meta), meta)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


# --- checking a form (teichaku specs validate) ------------------------------------------------


def _sample_output(spec: PromptSpec, filled: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in spec.output:
        if f.kind == "text":
            out[f.name] = f"（{f.title}の例）" if filled else ""
        elif f.kind == "list":
            out[f.name] = [f"（{f.title}の例1）", f"（{f.title}の例2）"] if filled else []
        else:
            cols = f.columns or []
            out[f.name] = [{c.name: f"（{c.title}）" for c in cols}] * 2 if filled else []
    return out


def _unknown(name: str, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"{close[0]} ですか？" if close else f"使える名前：{', '.join(known)}"
    return f"{{{{ {what}{name} }}}} は出力項目にありません。{hint}"


def left_tags(data: bytes) -> list[str]:
    """Tag marks still in a rendered .docx (body, headers, footers): the form was not filled."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = [n for n in z.namelist() if n.startswith("word/") and n.endswith(".xml")]
        return [n for n in names if any(m.encode() in z.read(n) for m in _TAG_MARKS)]


def check_form(path: Path, spec: PromptSpec, meta: DraftMeta) -> list[str]:
    """Problems with a spec's form, in Japanese (the caller names the file); [] when it is fine.

    Every tag must be an output field or meta.<key>, and the form must render against an empty
    and a filled output with no tag left."""
    try:
        names, keys = form_tags(path)
    except ConfigError as e:
        return [str(e)]
    fields = [f.name for f in spec.output]
    problems = [_unknown(n, [*fields, "meta"], "") for n in sorted(names - {*fields, "meta"})]
    problems += [_unknown(k, list(META_KEYS), "meta.") for k in sorted(keys - set(META_KEYS))]
    if problems:
        return problems
    for filled in (False, True):
        try:
            data = render_form(path, spec, _sample_output(spec, filled), meta)
        except ConfigError as e:
            return [str(e)]
        if left := left_tags(data):
            return [f"差し込み後もタグが残っています（{', '.join(left)}）。"]
    return []
