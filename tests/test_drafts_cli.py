"""Drafts people can hand in, through the real CLI: a company form filled in from a dropped memo,
`specs validate` naming a misspelt tag, and `teichaku run` saying what feedback it recorded."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

from docx import Document

from core.specs import BUILTIN_SPEC_DIR
from tasks.render import BANNER, NOTES_HEADING
from tasks.render.form import left_tags
from tests.support.forms import LETTERHEAD, STAMPS, ringi_form
from tests.test_cli import _run

FORM = "社内様式_稟議書.docx"
MEMO = BUILTIN_SPEC_DIR / "admin/ringi.examples/2026-11-20_勤怠管理システム導入_稟議メモ.txt"
# Wide enough that rich does not wrap a line in the middle of what the test looks for.
ENV = {
    "OPENAI_API_KEY": "",
    "TEICHAKU_INTAKE__CPU_WORKERS": "0",
    "TEICHAKU_GUARD__NER": "false",
    "COLUMNS": "200",
}


def _spec_dirs(ws: Path, spec_id: str) -> dict:
    r = _run("specs", "list", "--workspace", str(ws), "--json", env=ENV)
    assert r.returncode == 0, r.stderr
    return next(s for s in json.loads(r.stdout) if s["id"] == spec_id)


def test_company_form_from_specs_new_to_a_filled_draft(tmp_path: Path) -> None:
    ws = tmp_path / "管理部共有"
    assert _run("init", str(ws), env=ENV).returncode == 0
    form = ringi_form(tmp_path / FORM)

    r = _run("specs", "new", "admin/ringi", "--workspace", str(ws), "--form", str(form), env=ENV)
    assert r.returncode == 0, r.stderr
    spec_file = ws / "prompt_specs/admin/ringi.yaml"
    assert (spec_file.parent / FORM).is_file()
    assert f'word_template: "{FORM}"' in spec_file.read_text(encoding="utf-8")

    r = _run("specs", "validate", "--workspace", str(ws), env=ENV)
    assert r.returncode == 0, r.stdout + r.stderr

    dirs = _spec_dirs(ws, "admin/ringi")
    shutil.copy(MEMO, Path(dirs["inbox"]) / MEMO.name)
    r = _run("run", "--workspace", str(ws), env=ENV)
    assert r.returncode == 0, r.stdout + r.stderr
    (docx,) = Path(dirs["outbox"]).glob("*.draft.docx")
    data = docx.read_bytes()
    assert left_tags(data) == []
    doc = Document(io.BytesIO(data))
    header = "\n".join(p.text for p in doc.sections[0].header.paragraphs)
    assert BANNER in header and LETTERHEAD in header
    assert doc.tables[0].rows[0].cells[1].text == "勤怠管理システムのクラウド移行について"
    assert [c.text for c in doc.tables[2].rows[0].cells] == list(STAMPS)
    assert NOTES_HEADING in [p.text for p in doc.paragraphs]

    r = _run("catalog", "--workspace", str(ws), "--out", str(tmp_path / "site"), env=ENV)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "site/admin__ringi.html").read_text(encoding="utf-8")
    assert f"社内様式「{FORM}」" in page
    assert f"社内様式: {FORM}" in (tmp_path / "site/index.html").read_text(encoding="utf-8")


def test_misspelt_form_tag_fails_validate_naming_it(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert _run("init", str(ws), env=ENV).returncode == 0
    assert _run("specs", "new", "admin/ringi", "--workspace", str(ws), env=ENV).returncode == 0
    spec_file = ws / "prompt_specs/admin/ringi.yaml"
    spec_file.write_text(
        spec_file.read_text(encoding="utf-8") + f"word_template: {FORM}\n", encoding="utf-8"
    )
    ringi_form(spec_file.parent / FORM, subject_tag="subjcet")
    r = _run("specs", "validate", "--workspace", str(ws), env=ENV)
    assert r.returncode == 1
    out = " ".join(r.stdout.split())
    assert FORM in out
    assert "{{ subjcet }} は出力項目にありません。subject ですか？" in out


def test_run_summary_says_what_feedback_it_recorded(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert _run("init", str(ws), env=ENV).returncode == 0
    dirs = _spec_dirs(ws, "sales/meeting_minutes")
    inbox, outbox = Path(dirs["inbox"]), Path(dirs["outbox"])
    for n, client in enumerate(("北斗精機", "ABC商事", "XYZ食品", "みなと物流")):
        (inbox / f"2026-11-2{n}_{client}_商談メモ.txt").write_text(
            f"商談メモ（{client}様 定例）\n日時：2026年11月2{n}日\n"
            f"■要約\n{client}様と来期の年間契約について協議した。発注量は月{n + 2}万枚の見込み。\n"
            f"■決定事項\n・単価は据え置きとする。\n■ToDo\n・山田：見積書の作成（期限 12月{n + 1}日）\n",
            encoding="utf-8",
        )
    r = _run("run", "--workspace", str(ws), env=ENV)
    assert r.returncode == 0, r.stderr
    assert "なし" in " ".join(r.stdout.split())
    drafts = sorted(outbox.glob("*.draft.docx"))
    assert len(drafts) >= 4
    moves = [("採用", "20分"), ("採用", None), ("採用", None), ("不採用", None)]
    for draft, (verdict, minutes) in zip(drafts, moves, strict=False):
        dest = outbox / verdict / (minutes or "")
        dest.mkdir(parents=True, exist_ok=True)
        draft.rename(dest / draft.name)
    r = _run("run", "--workspace", str(ws), env=ENV)
    assert r.returncode == 0, r.stderr
    out = " ".join(r.stdout.split())
    assert "採用 3 件・不採用 1 件" in out
    assert "所要時間の報告 1 件・計 20 分" in out
    r = _run("kpi", "--workspace", str(ws), env=ENV)
    assert "確定削減時間の多い順、同じなら下書き件数の多い順" in " ".join(r.stdout.split())
