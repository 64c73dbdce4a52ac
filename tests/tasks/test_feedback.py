"""Feedback from real folders: drafts moved into 採用 / 不採用, and `record_cli_feedback`."""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings, load_settings
from core.specs import LoadedSpec, load_specs
from core.store import Store, worker_identity
from core.workspace import folders_for, init_workspace
from tasks.feedback import record_cli_feedback, scan_feedback


class Ws:
    def __init__(self, root: Path) -> None:
        settings = load_settings(root)
        init_workspace(root, load_specs(root), settings)
        self.settings: Settings = load_settings(root)
        self.specs: list[LoadedSpec] = load_specs(root)
        self.store = Store(self.settings.database_url or "")
        self.spec = next(s.spec for s in self.specs if s.spec.id == "sales/meeting_minutes")
        self.outbox = folders_for(self.settings, self.spec).outbox

    def draft(self, stem: str) -> tuple[int, Path]:
        c = self.store.claim(spec_id=self.spec.id, spec_version=self.spec.version, department=self.spec.department,
                             content_hash=stem, name=f"{stem}.docx", rel_path=f"{stem}.docx", size=1,
                             worker=worker_identity(), lease_seconds=60)  # fmt: skip
        md, docx = self.outbox / f"{stem}.draft.md", self.outbox / f"{stem}.draft.docx"
        md.write_text("## 要約\n\n本文\n", encoding="utf-8")
        docx.write_bytes(b"PK")
        self.store.mark_drafted(c.document_id, draft_md=md, draft_docx=docx, engine="offline", model="m", chunks=1,
                                minutes_saved_est=self.spec.minutes_saved_estimate)  # fmt: skip
        return c.document_id, docx

    def move(self, path: Path, *folders: str, name: str | None = None) -> Path:
        dst_dir = self.outbox.joinpath(*folders)
        dst_dir.mkdir(parents=True, exist_ok=True)
        dst = dst_dir / (name or path.name)
        shutil.move(path, dst)
        return dst

    def scan(self):
        return scan_feedback(self.settings, self.specs, self.store)

    def verdicts(self) -> dict[int, tuple[str, float | None]]:
        return {f.document_id: (f.verdict, f.minutes_spent) for f in self.store.feedback()}


@pytest.fixture
def ws(tmp_path: Path):
    w = Ws(tmp_path / "共有")
    yield w
    w.store.dispose()


def test_folders_are_created_and_moves_recorded_once(ws: Ws) -> None:
    a, a_docx = ws.draft("商談A")
    b, b_docx = ws.draft("商談B")
    assert ws.scan().recorded == 0
    assert (ws.outbox / "採用").is_dir() and (ws.outbox / "不採用").is_dir()
    ws.move(a_docx, "採用")
    ws.move(a_docx.with_name("商談A.draft.md"), "採用")  # both files moved: still one verdict
    ws.move(b_docx, "不採用")
    first = ws.scan()
    assert (first.recorded, first.unmatched) == (2, [])
    assert ws.verdicts() == {a: ("adopted", None), b: ("rejected", None)}
    again = ws.scan()
    assert (again.recorded, again.unchanged) == (0, 2)
    row = next(f for f in ws.store.feedback() if f.document_id == a)
    assert row.source == "folder" and row.baseline_minutes == ws.spec.baseline_minutes


def test_minutes_from_a_sub_folder_and_a_change_of_mind(ws: Ws) -> None:
    a, a_docx = ws.draft("商談A")
    moved = ws.move(a_docx, "採用", "２０分")  # full-width digits, as typed in Explorer
    ws.scan()
    assert ws.verdicts()[a] == ("adopted", 20.0)
    ws.move(moved, "不採用")
    ws.scan()
    assert ws.verdicts()[a] == ("rejected", None)


def test_nfd_names_and_copy_suffixes_match(ws: Ws) -> None:
    a, a_docx = ws.draft("パンフレット打合せ")
    nfd = unicodedata.normalize("NFD", "パンフレット打合せ.draft.docx")
    ws.move(a_docx, "採用", name=nfd)
    b, b_docx = ws.draft("商談B")
    ws.move(
        b_docx, "採用", name="商談B.draft (2).docx".replace(".draft (2).docx", " (2).draft.docx")
    )
    result = ws.scan()
    assert result.unmatched == []
    assert ws.verdicts() == {a: ("adopted", None), b: ("adopted", None)}


def test_unknown_files_are_reported_not_recorded(ws: Ws) -> None:
    (ws.outbox / "採用").mkdir(exist_ok=True)
    (ws.outbox / "採用" / "誰かの.draft.docx").write_bytes(b"PK")
    (ws.outbox / "採用" / "メモ.txt").write_text("x", encoding="utf-8")
    (ws.outbox / "採用" / "~$誰かの.draft.docx").write_bytes(b"lock")
    result = ws.scan()
    assert result.recorded == 0
    # A file that is not one of our drafts is matched by content (issue 16) or reported; the
    # Word lock file is neither.
    assert sorted(Path(p).name for p in result.unmatched) == ["メモ.txt", "誰かの.draft.docx"]


def test_cli_feedback_with_minutes_and_folder_rescan_keeps_it(ws: Ws) -> None:
    a, a_docx = ws.draft("商談A")
    doc = record_cli_feedback(ws.settings, ws.specs, ws.store, a_docx, "adopted", 10)
    assert doc.id == a
    assert ws.verdicts()[a] == ("adopted", 10.0)
    ws.move(a_docx, "採用")  # moved afterwards, no minutes folder: the minutes stay
    ws.scan()
    assert ws.verdicts()[a] == ("adopted", 10.0)


def test_cli_verdict_after_the_move_wins_over_the_folder(ws: Ws) -> None:
    a, a_docx = ws.draft("商談A")
    moved = ws.move(a_docx, "採用")
    ws.scan()
    record_cli_feedback(ws.settings, ws.specs, ws.store, moved, "rejected")
    assert ws.scan().recorded == 0
    assert ws.verdicts()[a] == ("rejected", None)


def test_cli_feedback_rejects_unknown_drafts(ws: Ws) -> None:
    with pytest.raises(ConfigError, match="記録が見つかりません"):
        record_cli_feedback(
            ws.settings, ws.specs, ws.store, ws.outbox / "ない.draft.docx", "adopted"
        )
    with pytest.raises(ConfigError, match="下書きファイル"):
        record_cli_feedback(ws.settings, ws.specs, ws.store, ws.outbox / "元.docx", "adopted")
