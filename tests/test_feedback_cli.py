"""What people did with the drafts, through the real folders and the real `teichaku` command:
an adopted draft rewritten in part, one adopted untouched, one rejected into a reason folder, a
final document matched to its draft by content, `--reason` from a terminal, and
`teichaku feedback list --json` showing all of them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from docx import Document

from tests.support.samples import write_samples

BIN = Path(sys.executable).parent / "teichaku"
# Offline engine, no GiNZA and no worker processes: the drafts are real, the run is quick.
FAST = {"TEICHAKU_GUARD__NER": "false", "TEICHAKU_INTAKE__CPU_WORKERS": "0", "COLUMNS": "200"}
SPECS = (
    "sales/meeting_minutes",
    "admin/ringi",
    "hr/job_posting",
    "manufacturing/daily_report",
    "sales/followup_mail",
)
FILL = "先方と再度協議した結果として別案を採ることになったため本項は全面的に書き直した上で関係部署の確認を得ている"
LIST_KEYS = {"draft", "verdict", "reason", "retention", "minutes", "spec", "version", "judged_at"}


def teichaku(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **FAST}
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=240, env=env)


def _folders(ws: Path) -> dict[str, dict[str, str]]:
    r = teichaku("specs", "list", "--workspace", str(ws), "--json")
    return {s["id"]: s for s in json.loads(r.stdout)}


def _outbox(ws: Path, spec_id: str) -> Path:
    return Path(_folders(ws)[spec_id]["outbox"])


def _draft(ws: Path, spec_id: str, suffix: str = ".draft.docx") -> Path:
    (found,) = [p for p in _outbox(ws, spec_id).iterdir() if p.name.endswith(suffix)]
    return found


def rewrite_a_third(docx: Path) -> int:
    """Replace every third content paragraph (above the 確認用メモ) with new text of its length,
    as a person rewriting part of the draft in Word would; returns how many were rewritten."""
    doc = Document(str(docx))
    content = []
    for p in doc.paragraphs:
        if p.text.strip() == "確認用メモ":
            break
        if p.text.strip() and not p.style.name.startswith(("Heading", "Title")) and "AI下書き" not in p.text:  # fmt: skip
            content.append(p)
    for p in content[::3]:
        p.text = (FILL * 10)[: len(p.text)]
    doc.save(str(docx))
    return len(content[::3])


def move(src: Path, *folders: str) -> Path:
    dst = src.parent.joinpath(*folders) / src.name
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(src, dst)
    return dst


def final_document_from(draft_md: Path, dst: Path) -> Path:
    """The document someone actually submitted: the draft's content in a Word file of their own,
    without teichaku's banner and notes, under a name of their own."""
    lines = draft_md.read_text(encoding="utf-8").split("\n---\n")[1].splitlines()
    doc = Document()
    for line in lines:
        if line.strip():
            doc.add_paragraph(line.lstrip("#-| ").replace("|", " "))
    doc.add_paragraph("以上、よろしくお願いいたします。")
    doc.save(str(dst))
    return dst


def test_retention_reasons_and_the_list(tmp_path: Path) -> None:
    ws = tmp_path / "共有フォルダ"
    assert teichaku("init", str(ws)).returncode == 0
    for reason in ("内容が不正確", "形式が合わない", "情報が足りない", "不要だった"):
        assert (_outbox(ws, "sales/meeting_minutes") / "不採用" / reason).is_dir()
    folders = _folders(ws)
    for spec_id in SPECS:
        write_samples(spec_id, Path(folders[spec_id]["inbox"]))
    r = teichaku("run", "--workspace", str(ws))
    assert r.returncode == 0, r.stderr

    edited = _draft(ws, "sales/meeting_minutes")
    assert rewrite_a_third(edited) >= 2
    move(edited, "採用")
    move(_draft(ws, "admin/ringi", ".draft.md"), "採用")  # untouched
    rejected = move(_draft(ws, "hr/job_posting"), "不採用", "内容が不正確")
    daily_md = _draft(ws, "manufacturing/daily_report", ".draft.md")
    final = final_document_from(daily_md, daily_md.parent / "採用" / "提出版_日報まとめ.docx")
    r = teichaku("run", "--workspace", str(ws))  # the next run records what people did
    assert r.returncode == 0, r.stderr
    mail_draft = _draft(ws, "sales/followup_mail")
    r = teichaku("feedback", "--workspace", str(ws), "--draft", str(mail_draft),
                 "--verdict", "rejected", "--reason", "不要だった")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "不要だった" in r.stdout

    r = teichaku("feedback", "list", "--workspace", str(ws), "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["draft"]: row for row in json.loads(r.stdout)}
    assert all(set(row) == LIST_KEYS for row in rows.values())
    assert len(rows) == 5
    part = rows[edited.name]
    assert (part["verdict"], part["spec"], part["version"]) == (
        "adopted",
        "sales/meeting_minutes",
        1,
    )
    assert 0.4 <= part["retention"] <= 0.9, part
    whole = rows[_draft(ws, "admin/ringi").name]
    assert whole["verdict"] == "adopted" and whole["retention"] >= 0.98, whole
    no = rows[rejected.name]
    assert (no["verdict"], no["reason"], no["retention"]) == ("rejected", "内容が不正確", None)
    matched = rows[_draft(ws, "manufacturing/daily_report").name]
    assert matched["verdict"] == "adopted" and 0.8 <= matched["retention"] <= 1.0, matched
    assert final.exists()  # matched by content, left where the person put it
    assert rows[mail_draft.name]["reason"] == "不要だった"
    assert all(row["judged_at"].endswith("+09:00") for row in rows.values())

    # A rescan finds the same files and changes nothing.
    before = r.stdout
    assert teichaku("run", "--workspace", str(ws)).returncode == 0
    assert teichaku("feedback", "list", "--workspace", str(ws), "--json").stdout == before

    r = teichaku("feedback", "--workspace", str(ws), "--draft", str(mail_draft),
                 "--verdict", "rejected", "--reason", "気分")  # fmt: skip
    assert r.returncode == 2 and "内容が不正確" in r.stderr
    table = teichaku("feedback", "list", "--workspace", str(ws))
    assert (
        table.returncode == 0
        and "内容が不正確" in table.stdout
        and "判定済みの下書き 5 件" in table.stdout
    )
