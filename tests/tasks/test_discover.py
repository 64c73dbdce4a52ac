from __future__ import annotations

import os
import time
import unicodedata
from pathlib import Path

import pytest

from tasks.discover import discover, is_ignored, scan_inbox


@pytest.mark.parametrize(
    "name",
    [
        "~$議事録.docx",
        "~WRL0001.tmp",
        ".~lock.議事録.docx#",
        "a.tmp",
        "b.part",
        "c.crdownload",
        "._議事録.docx",
        ".DS_Store",
        "Thumbs.db",
        "desktop.ini",
        ".hidden.draft.md.tmp",
    ],
)
def test_lock_and_temp_files_are_ignored(name: str) -> None:
    assert is_ignored(name)


@pytest.mark.parametrize("name", ["議事録.docx", "日報.pdf", "memo.txt", "求人.md", "virus.exe"])
def test_documents_are_not_ignored(name: str) -> None:
    assert not is_ignored(name)


def test_scan_finds_files_keys_nfc_opens_nfd(tmp_path: Path) -> None:
    inbox = tmp_path / "受付"
    (inbox / "サブ").mkdir(parents=True)
    nfd = unicodedata.normalize("NFD", "パイロット議事録.txt")
    (inbox / nfd).write_text("本文", encoding="utf-8")
    (inbox / "サブ" / "日報.txt").write_text("本文", encoding="utf-8")
    (inbox / "~$lock.docx").write_bytes(b"x")
    (inbox / "@eaDir").mkdir()
    (inbox / "@eaDir" / "thumb.txt").write_text("x")
    found = {f.rel_nfc: f for f in scan_inbox("s/x", inbox, tmp_path)}
    assert set(found) == {"パイロット議事録.txt", "サブ/日報.txt"}
    f = found["パイロット議事録.txt"]
    assert f.name_nfc == unicodedata.normalize("NFC", nfd)
    assert f.path.name == nfd  # opened by its on-disk name
    assert f.path.exists()


def test_link_outside_workspace_is_flagged_not_followed(tmp_path: Path) -> None:
    inbox = tmp_path / "受付"
    inbox.mkdir()
    os.symlink("/etc/passwd", inbox / "passwd.txt")
    (tmp_path / "inside.txt").write_text("内部", encoding="utf-8")
    os.symlink(tmp_path / "inside.txt", inbox / "inside-link.txt")
    found = {f.name_nfc: f for f in scan_inbox("s/x", inbox, tmp_path)}
    assert found["passwd.txt"].is_link and found["passwd.txt"].link_target is None
    assert found["passwd.txt"].size == 0
    assert found["inside-link.txt"].link_target == (tmp_path / "inside.txt").resolve()


def test_quiet_period_leaves_fresh_files_for_later(tmp_path: Path) -> None:
    inbox = tmp_path / "受付"
    inbox.mkdir()
    fresh = inbox / "書きかけ.txt"
    fresh.write_text("途中", encoding="utf-8")
    old = inbox / "完成.txt"
    old.write_text("完成", encoding="utf-8")
    past = time.time() - 60
    os.utime(old, (past, past))
    names = {f.name_nfc for f in discover({"s/x": inbox}, tmp_path, quiet_seconds=5)}
    assert names == {"完成.txt"}


def test_missing_inbox_yields_nothing(tmp_path: Path) -> None:
    assert discover({"s/x": tmp_path / "nope"}, tmp_path) == []


def test_link_outside_workspace_is_reported_without_waiting_for_quiet(tmp_path: Path) -> None:
    inbox = tmp_path / "受付"
    inbox.mkdir()
    os.symlink("/etc/passwd", inbox / "外部.txt")
    os.symlink(tmp_path / "ない.txt", inbox / "切れたリンク.txt")
    found = {f.name_nfc: f for f in discover({"s/x": inbox}, tmp_path, quiet_seconds=3600)}
    assert set(found) == {"外部.txt", "切れたリンク.txt"}
    assert all(f.is_link and f.link_target is None for f in found.values())


def test_scan_order_is_depth_first_sorted_and_skips_fifos(tmp_path: Path) -> None:
    inbox = tmp_path / "受付"
    for folder in ("a", "b/c", ".隠し"):
        (inbox / folder).mkdir(parents=True)
    for name in ("1.txt", "a/2.txt", "b/3.pdf", "b/c/4.docx", ".隠し/5.txt"):
        (inbox / name).write_text("本文", encoding="utf-8")
    os.mkfifo(inbox / "fifo.txt")
    rels = [f.rel_nfc for f in scan_inbox("s/x", inbox, tmp_path)]
    assert rels == ["1.txt", "b/3.pdf", "b/c/4.docx", "a/2.txt"]
