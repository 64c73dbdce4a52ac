"""The Writer builds a draft's XML with lxml directly (python-docx's generic child insertion was
most of a draft's rendering CPU), and the house draft is assembled from the template's members:
both must give exactly what python-docx's own API gives (tests/support/docx_reference.py)."""

from __future__ import annotations

import copy
import io
import zipfile

import pytest
from docx import Document
from docx.oxml.ns import qn

from core.specs import BUILTIN_SPEC_DIR, PromptSpec, load_spec_file
from tasks.render.blocks import Writer
from tasks.render.form import _sample_output
from tasks.render.house import _core_properties, _template, _title, add_banner, render_docx
from tasks.render.text import draft_title, header_text, review_notes
from tests.support.docx_reference import ReferenceWriter
from tests.tasks.test_render_form import meta_for

SPECS = [load_spec_file(p, BUILTIN_SPEC_DIR) for p in sorted(BUILTIN_SPEC_DIR.glob("*/*.yaml"))]
# Leading and trailing spaces (xml:space), tabs, CR, LF and CRLF, blank-line paragraphs,
# empty items and cells: every branch of a run's text.
AWKWARD = "  先頭の空白\tタブ\n改行\r\nCRLF\n\n二段落目 \u3000"


def awkward_output(spec: PromptSpec) -> dict:
    out: dict = {}
    for f in spec.output:
        if f.kind == "text":
            out[f.name] = AWKWARD
        elif f.kind == "list":
            out[f.name] = [AWKWARD, "", " 項目\t二"]
        else:
            out[f.name] = [{c.name: AWKWARD for c in f.columns or []}, {}]
    return out


def outputs(spec: PromptSpec) -> list[dict]:
    return [_sample_output(spec, True), _sample_output(spec, False), awkward_output(spec)]


def member(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(name)


def saved(doc) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def bare_form():
    """A company form without our styles: headings, bullets and tables fall back."""
    doc = Document()
    root = doc.styles.element
    for s in list(root.findall(qn("w:style"))):
        if s.get(qn("w:styleId")) in {
            "Heading1",
            "Heading2",
            "Heading3",
            "ListBullet",
            "TableGrid",
        }:
            root.remove(s)
    return doc


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
@pytest.mark.parametrize("base", ["house", "bare form"])
def test_writer_writes_what_python_docx_writes(spec, base):
    meta = meta_for(spec)  # offline: the notes' offline notice too
    for i, out in enumerate(outputs(spec)):
        bodies = []
        for writer_for in (Writer.of, ReferenceWriter):
            doc = copy.deepcopy(_template()) if base == "house" else bare_form()
            writer = writer_for(doc)
            for f in spec.output:
                writer.field(f, out.get(f.name))
            writer.notes(review_notes(spec, meta), [(f, out.get(f.name)) for f in spec.output])
            bodies.append(member(saved(doc), "word/document.xml"))
        assert bodies[0] == bodies[1]
        if i == 2:  # the awkward text reached the body, as paragraphs with breaks and tabs
            assert "二段落目".encode() in bodies[0] and b"<w:tab/>" in bodies[0]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_house_draft_is_the_package_python_docx_saves(spec):
    """Every member, in the same order, byte for byte: the template's parts are reused as bytes,
    only the body, the banner and the core properties are made per draft."""
    meta = meta_for(spec, engine="openai", model="gpt-test", offline=False)
    for out in outputs(spec):
        fast = render_docx(spec, out, meta)
        doc = copy.deepcopy(_template())
        notes = review_notes(spec, meta)
        add_banner(doc.sections[0].header, header_text(meta, notes))
        title = draft_title(spec, out, meta)
        _title(doc, title)
        writer = ReferenceWriter(doc)
        for f in spec.output:
            writer.field(f, out.get(f.name))
        writer.notes(notes)
        _core_properties(doc.core_properties, title, meta)
        slow = saved(doc)
        with zipfile.ZipFile(io.BytesIO(fast)) as a, zipfile.ZipFile(io.BytesIO(slow)) as b:
            assert a.namelist() == b.namelist()
            for name in a.namelist():
                assert a.read(name) == b.read(name), name
            assert a.testzip() is None


def test_drafts_do_not_share_elements():
    """Two drafts rendered one after the other hold only their own content (the template's
    elements are copied, never written into)."""
    spec = SPECS[0]
    first = render_docx(spec, _sample_output(spec, True), meta_for(spec, source_name="一件目.docx"))
    second = render_docx(
        spec, _sample_output(spec, False), meta_for(spec, source_name="二件目.docx")
    )
    assert "一件目".encode() not in member(second, "word/document.xml")
    assert "二件目".encode() in member(second, "word/document.xml")
    assert member(first, "word/header1.xml").count("AI下書き".encode()) == 1
    assert member(second, "word/header1.xml").count("AI下書き".encode()) == 1
