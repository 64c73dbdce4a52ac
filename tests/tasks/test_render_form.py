"""A company Word form (word_template) filled in, checked in the .docx it produces."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from docx import Document

from core.errors import ConfigError
from core.models import DraftMeta
from core.specs import BUILTIN_SPEC_DIR, PromptSpec, load_spec_file
from tasks.generate.offline import OfflineEngine
from tasks.render import BANNER, NOTES_HEADING, render_draft
from tasks.render.form import check_form, left_tags
from tests.support.forms import LETTERHEAD, STAMPS, ringi_form

FORM = "社内様式_稟議書.docx"
MEMO = BUILTIN_SPEC_DIR / "admin/ringi.examples/2026-11-20_勤怠管理システム導入_稟議メモ.txt"


def workspace_spec(tmp_path: Path, form: str | None = FORM) -> PromptSpec:
    """The built-in 稟議 spec copied into a workspace, with the form beside it."""
    root = tmp_path / "prompt_specs"
    (root / "admin").mkdir(parents=True)
    text = (BUILTIN_SPEC_DIR / "admin/ringi.yaml").read_text(encoding="utf-8")
    if form:
        text += f"word_template: {form}\n"
    path = root / "admin/ringi.yaml"
    path.write_text(text, encoding="utf-8")
    return load_spec_file(path, root)


def meta_for(spec: PromptSpec, **kw) -> DraftMeta:
    raw = {
        "source_name": MEMO.name,
        "spec_id": spec.id,
        "spec_version": spec.version,
        "spec_title": spec.title,
        "department_name": spec.department_name,
        "engine": "offline",
        "model": "extractive-ja-v1",
        "created_at": datetime(2026, 11, 20, 9, 5, tzinfo=ZoneInfo("Asia/Tokyo")),
        "offline": True,
    }
    return DraftMeta(**{**raw, **kw})


def memo_output(spec: PromptSpec) -> dict:
    text = MEMO.read_bytes().decode("cp932")
    return OfflineEngine().generate(spec, text, file_name=MEMO.name).output


def all_text(doc) -> str:
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        parts += [c.text for row in t.rows for c in row.cells]
    return "\n".join(parts)


def test_form_path_is_relative_to_the_spec_file(tmp_path):
    spec = workspace_spec(tmp_path)
    assert spec.form_path == (tmp_path / "prompt_specs/admin" / FORM).resolve()
    assert workspace_spec(tmp_path / "b", form=None).form_path is None
    with pytest.raises(ValueError, match="docx"):
        PromptSpec.model_validate({**spec.model_dump(), "word_template": "様式.xlsx"})


def test_memo_comes_back_as_the_form_filled_in(tmp_path):
    spec = workspace_spec(tmp_path)
    ringi_form(spec.form_path)
    output = memo_output(spec)
    data = render_draft(spec, output, meta_for(spec), stem="x").docx_bytes
    assert left_tags(data) == []
    doc = Document(io.BytesIO(data))

    # The form's own layout: letterhead, 件名/目的/費用, the cost rows, the 決裁欄.
    header = "\n".join(p.text for p in doc.sections[0].header.paragraphs)
    assert LETTERHEAD in header and BANNER in header
    main, costs, stamps = doc.tables[:3]
    assert (
        main.rows[0].cells[1].text == output["subject"] == "勤怠管理システムのクラウド移行について"
    )
    assert main.rows[1].cells[1].text == output["purpose"]
    assert f"（{len(output['cost'])} 項目）" in main.rows[2].cells[1].text
    rows = [[c.text for c in r.cells] for r in costs.rows]
    assert rows[0] == ["No.", "内訳（見積書の表記のまま）"]
    assert [r[1] for r in rows[1:]] == output["cost"] and len(output["cost"]) >= 3
    assert [c.text for c in stamps.rows[0].cells] == list(STAMPS)
    assert "起案日：2026-11-20 09:05 JST" in all_text(doc)

    # What the form does not show is on the 確認用メモ page, with the provenance and the rules.
    paras = [p.text for p in doc.paragraphs]
    notes = "\n".join(paras[paras.index(NOTES_HEADING) :])
    for field in spec.output:
        if field.name in ("subject", "purpose", "cost"):
            continue
        assert field.title in notes
    assert output["schedule"] and output["schedule"].splitlines()[0] in notes
    assert "admin/ringi v1" in notes and "稟議システムに登録してください" in notes
    assert doc.core_properties.title == output["subject"]


def test_banner_not_doubled_when_the_form_has_it(tmp_path):
    spec = workspace_spec(tmp_path)
    ringi_form(spec.form_path)
    form = Document(str(spec.form_path))
    form.sections[0].header.paragraphs[0].text = "社外秘・要確認（回付前に総務課が確認）"
    form.save(str(spec.form_path))
    doc = Document(
        io.BytesIO(render_draft(spec, memo_output(spec), meta_for(spec), stem="x").docx_bytes)
    )
    header = "\n".join(p.text for p in doc.sections[0].header.paragraphs)
    assert BANNER not in header and header.count("要確認") == 1


def test_values_are_escaped_into_the_xml(tmp_path):
    spec = workspace_spec(tmp_path)
    ringi_form(spec.form_path)
    output = {**memo_output(spec), "subject": 'A&B <社> "見積" の件', "cost": ["1 < 2 & 3"]}
    data = render_draft(spec, output, meta_for(spec), stem="x").docx_bytes
    doc = Document(io.BytesIO(data))
    assert doc.tables[0].rows[0].cells[1].text == 'A&B <社> "見積" の件'
    assert doc.tables[1].rows[1].cells[1].text == "1 < 2 & 3"


def test_check_form_accepts_a_good_form(tmp_path):
    spec = workspace_spec(tmp_path)
    ringi_form(spec.form_path)
    assert check_form(spec.form_path, spec, meta_for(spec)) == []


def test_check_form_names_a_misspelt_tag(tmp_path):
    spec = workspace_spec(tmp_path)
    ringi_form(spec.form_path, subject_tag="subjcet")
    problems = check_form(spec.form_path, spec, meta_for(spec))
    assert problems == ["{{ subjcet }} は出力項目にありません。subject ですか？"]


def test_check_form_names_an_unknown_meta_key(tmp_path):
    spec = workspace_spec(tmp_path)
    ringi_form(spec.form_path, subject_tag="meta.creatd_at")
    problems = check_form(spec.form_path, spec, meta_for(spec))
    assert problems == ["{{ meta.creatd_at }} は出力項目にありません。created_at ですか？"]


def test_missing_or_broken_form_is_a_config_error(tmp_path):
    spec = workspace_spec(tmp_path)
    with pytest.raises(ConfigError, match="様式ファイルを開けません"):
        render_draft(spec, memo_output(spec), meta_for(spec), stem="x")
    spec.form_path.write_bytes(b"not a zip")
    assert "読めません" in check_form(spec.form_path, spec, meta_for(spec))[0]
