"""Drift guards for the built-in prompt specs, their templates and their sample documents."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from core.errors import ConfigError
from core.models import DraftMeta
from core.specs import BUILTIN_SPEC_DIR, PromptSpec, load_spec_file, load_specs
from tasks.generate import OfflineEngine
from tests.support.samples import SAMPLES, write_samples

BUILTIN_IDS = {
    "sales/meeting_minutes",
    "sales/followup_mail",
    "sales/proposal_outline",
    "manufacturing/daily_report",
    "manufacturing/handover_note",
    "admin/ringi",
    "admin/faq_answer",
    "hr/job_posting",
}
# The first four samples each use a different reader (docx, PDF, Shift_JIS text, Markdown).
FORMAT_SAMPLES = {
    "sales/meeting_minutes": ".docx",
    "manufacturing/daily_report": ".pdf",
    "admin/ringi": ".txt",
    "hr/job_posting": ".md",
}
SPECS = {ls.spec.id: ls.spec for ls in load_specs()}

# Same settings as core.templating, built here so a typo fails in this test, not via a cache.
ENV = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
)


def _meta(spec: PromptSpec) -> dict:
    return DraftMeta(
        source_name="sample.docx",
        spec_id=spec.id,
        spec_version=spec.version,
        spec_title=spec.title,
        department_name=spec.department_name,
        engine="offline",
        model="extractive-ja-v1",
        created_at=datetime(2026, 11, 27, 15, 0),
        offline=True,
    ).model_dump()


def _render(spec: PromptSpec, out: dict) -> str:
    return ENV.from_string(spec.render_template).render(out=out, meta=_meta(spec), spec=spec)


def test_builtin_specs_load_with_expected_ids() -> None:
    loaded = load_specs()
    assert {ls.spec.id for ls in loaded} == BUILTIN_IDS
    assert len(loaded) >= 7  # the users' list: every department has a concrete use case
    assert {ls.spec.department for ls in loaded} == {"sales", "manufacturing", "admin", "hr"}
    for ls in loaded:
        assert ls.origin == "builtin"
        assert ls.path == BUILTIN_SPEC_DIR / f"{ls.spec.id}.yaml"


@pytest.mark.parametrize("spec_id", sorted(BUILTIN_IDS))
def test_spec_content_is_complete(spec_id: str) -> None:
    spec = SPECS[spec_id]
    assert spec.version == 1
    assert spec.baseline_minutes > spec.review_minutes > 0
    assert spec.baseline_source and "\n" not in spec.baseline_source.strip()
    assert spec.rules.forbidden_inputs and spec.rules.review_duty and spec.rules.owner
    assert "不明" in spec.system_prompt and "日本語" in spec.system_prompt
    for f in spec.output:
        # The offline engine finds sections only through keywords; an empty list is a silent gap.
        assert f.keywords, f.name
    assert SAMPLES.get(spec_id)


# Parts of a spec's draft laid out as the mail itself (宛名・あいさつ, 結び, 署名): no section heading,
# and the spec's fixed wording stands in when the engine leaves them empty.
MAIL_PARTS = {"sales/followup_mail": {"opening", "closing", "signature"}}


def _headed(spec_id: str) -> list:
    return [f for f in SPECS[spec_id].output if f.name not in MAIL_PARTS.get(spec_id, set())]


@pytest.mark.parametrize("spec_id", sorted(BUILTIN_IDS))
def test_render_template_with_offline_output_of_sample(spec_id: str) -> None:
    spec = SPECS[spec_id]
    sample = SAMPLES[spec_id][0]
    out = OfflineEngine().generate(spec, sample.text(), file_name=sample.filename).output
    body = _render(spec, out)
    for f in _headed(spec_id):
        assert f"## {f.title}\n" in body, f.title
    for name in MAIL_PARTS.get(spec_id, set()):
        assert out[name] and out[name].strip() in body, name
    assert "（記載なし）" not in body  # every section of the sample was found
    assert "None" not in body
    assert not body.lstrip().startswith("# ")  # the banner/header is added elsewhere


def test_sales_render_shows_action_item_table() -> None:
    spec = SPECS["sales/meeting_minutes"]
    sample = SAMPLES["sales/meeting_minutes"][0]
    out = OfflineEngine().generate(spec, sample.text(), file_name=sample.filename).output
    body = _render(spec, out)
    assert "| タスク | 担当 | 期限 |" in body
    assert "| 改定単価を反映した見積書の提出 | 山田 | 12月4日(金) |" in body


@pytest.mark.parametrize("spec_id", sorted(BUILTIN_IDS))
def test_render_template_with_all_empty_output(spec_id: str) -> None:
    spec = SPECS[spec_id]
    out = spec.output_model().model_dump()
    body = _render(spec, out)
    for f in _headed(spec_id):
        assert f"## {f.title}\n" in body
    assert body.count("（記載なし）") == len(_headed(spec_id))
    if spec_id == "sales/followup_mail":
        assert "いつもお世話になっております。" in body and body.rstrip().endswith("【署名】")


def test_render_escapes_pipes_in_table_cells() -> None:
    spec = SPECS["sales/meeting_minutes"]
    out = spec.output_model().model_dump()
    out["action_items"] = [{"task": "A|B の比較", "owner": "", "due": "11/30"}]
    body = _render(spec, out)
    assert "| A｜B の比較 | 不明 | 11/30 |" in body


@pytest.mark.parametrize("spec_id", sorted(BUILTIN_IDS))
def test_user_template_renders(spec_id: str) -> None:
    spec = SPECS[spec_id]
    text = ENV.from_string(spec.user_template).render(
        document_text="本文テキスト", file_name="会議メモ.docx", spec=spec, today=date(2026, 11, 27)
    )
    assert "本文テキスト" in text and "会議メモ.docx" in text and "2026-11-27" in text


def _write_spec(root: Path, raw: dict) -> Path:
    path = root / "sales" / "meeting_minutes.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _builtin_raw() -> dict:
    return yaml.safe_load(
        (BUILTIN_SPEC_DIR / "sales" / "meeting_minutes.yaml").read_text(encoding="utf-8")
    )


def test_copied_builtin_spec_loads_from_workspace_root(tmp_path: Path) -> None:
    path = _write_spec(tmp_path, _builtin_raw())
    assert load_spec_file(path, tmp_path).id == "sales/meeting_minutes"


def test_unknown_top_level_key_names_file_and_field(tmp_path: Path) -> None:
    raw = _builtin_raw()
    raw["temprature"] = 0.5
    path = _write_spec(tmp_path, raw)
    with pytest.raises(ConfigError) as exc:
        load_spec_file(path, tmp_path)
    msg = str(exc.value)
    assert str(path) in msg
    assert "temprature" in msg and "unknown field" in msg


def test_unknown_nested_key_names_the_field_path(tmp_path: Path) -> None:
    raw = _builtin_raw()
    raw["output"][1]["max_char"] = 100
    path = _write_spec(tmp_path, raw)
    with pytest.raises(ConfigError) as exc:
        load_spec_file(path, tmp_path)
    assert str(path) in str(exc.value)
    assert "output.1.max_char" in str(exc.value)


def test_samples_write_in_four_formats(tmp_path: Path) -> None:
    from docx import Document
    from pypdf import PdfReader

    suffixes = {}
    for spec_id in sorted(BUILTIN_IDS):
        paths = write_samples(spec_id, tmp_path / spec_id)
        assert paths and all(p.exists() and p.stat().st_size > 0 for p in paths)
        suffixes[spec_id] = paths[0].suffix
    assert {k: suffixes[k] for k in FORMAT_SAMPLES} == FORMAT_SAMPLES
    docx = Document(str(next((tmp_path / "sales/meeting_minutes").glob("*.docx"))))
    assert any("決定事項" in p.text for p in docx.paragraphs)
    assert docx.tables and docx.tables[0].cell(0, 2).text == "担当"
    pdf = PdfReader(next((tmp_path / "manufacturing/daily_report").glob("*.pdf")))
    pdf_text = "".join(page.extract_text() for page in pdf.pages)
    assert "生産実績" in pdf_text and "ヒヤリハット" in pdf_text
    raw = next((tmp_path / "admin/ringi").glob("*.txt")).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "稟議" in raw.decode("cp932")
    md = next((tmp_path / "hr/job_posting").glob("*.md")).read_text(encoding="utf-8")
    assert md.startswith("# 人材要件メモ") and "## 必須要件" in md


def test_samples_use_only_reserved_contact_details() -> None:
    import re

    for samples in SAMPLES.values():
        for s in samples:
            text = s.text()
            for mail in re.findall(r"[\w.+-]+@[\w.-]+", text):
                assert mail.endswith("@example.com"), mail
            for phone in re.findall(r"\d{2,4}-\d{4}-\d{4}", text):
                assert phone.startswith("03-0000-"), phone
