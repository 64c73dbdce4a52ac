from __future__ import annotations

import builtins
import errno
import hashlib
import io
import os
import unicodedata
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from docx import Document

from core.errors import REASONS_JA, Refusal
from core.models import RefusalKind, RenderedDraft
from tasks import publish
from tasks.publish import (
    archive_original,
    quarantine_file,
    safe_stem,
    unique_stem,
    write_draft,
)
from tasks.render import render_draft
from tests.tasks.test_render import OUTPUT, make_meta, make_spec

ILLEGAL = '\\/:*?"<>|'


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def nbytes(s: str) -> int:
    return len(s.encode("utf-8"))


def visible(d: Path) -> list[str]:
    return sorted(os.listdir(d))


def draft_for(source_name: str, stem: str | None = None, summary: str = "要約") -> RenderedDraft:
    out = {**OUTPUT, "summary": summary}
    return render_draft(
        make_spec(), out, make_meta(source_name=source_name), stem=stem or safe_stem(source_name)
    )


# --- safe_stem ----------------------------------------------------------------------------


def test_safe_stem_simple_japanese():
    assert safe_stem("2024年5月 定例会議 議事録.docx") == "2024年5月 定例会議 議事録"


def test_safe_stem_long_japanese_name_fits_and_is_distinct():
    a = "営業部定例会議議事録" * 10 + "A.docx"  # 300+ bytes
    b = "営業部定例会議議事録" * 10 + "B.docx"
    assert nbytes(a) > 300
    sa, sb = safe_stem(a), safe_stem(b)
    assert nbytes(sa + ".draft.docx") <= 255
    assert nbytes(sb + ".draft.docx") <= 255
    sa.encode("utf-8").decode("utf-8")  # valid UTF-8, no half characters
    assert sa != sb
    assert sa.startswith("営業部定例会議議事録")
    assert safe_stem(a) == sa  # deterministic: re-runs find their own draft


@pytest.mark.parametrize("max_bytes", range(40, 60))
def test_safe_stem_never_cuts_inside_a_character(max_bytes):
    name = "🙇あ𠮷" * 40 + ".txt"
    s = safe_stem(name, suffix=".draft.md", max_bytes=max_bytes)
    assert nbytes(s + ".draft.md") <= max_bytes
    assert s.encode("utf-8").decode("utf-8") == s
    assert all(ord(c) < 0xD800 or ord(c) > 0xDFFF for c in s)


def test_safe_stem_replaces_illegal_characters():
    s = safe_stem(f"見積{ILLEGAL}\x00\x1f\x7f書.pdf")
    assert not any(c in s for c in ILLEGAL)
    assert all(ord(c) >= 0x20 and c != "\x7f" for c in s)
    assert s.startswith("見積") and s.endswith("書")


def test_safe_stem_strips_trailing_dots_and_spaces_and_hidden_prefix():
    assert safe_stem("議事録. . .docx") == "議事録"
    assert not safe_stem(".secret.docx").startswith(".")
    assert not safe_stem("~$議事録.docx").startswith("~")
    assert safe_stem("...docx") != ""


@pytest.mark.parametrize("name", ["CON.txt", "nul.docx", "Com1.pdf", "LPT9", "aux.tar.docx"])
def test_safe_stem_avoids_reserved_names(name):
    s = safe_stem(name)
    assert s.split(".")[0].upper() not in {"CON", "NUL", "COM1", "LPT9", "AUX"}


def test_safe_stem_nfd_input_gives_nfc():
    nfd = unicodedata.normalize("NFD", "パンフレット.pdf")
    assert safe_stem(nfd) == "パンフレット"


def test_safe_stem_keeps_folder_part_distinct():
    assert safe_stem("東京/議事録.docx") != safe_stem("大阪/議事録.docx")
    assert "/" not in safe_stem("東京/議事録.docx")


def test_safe_stem_non_extension_dot_is_kept():
    assert safe_stem("議事録 Ver.2 最終") == "議事録 Ver.2 最終"


# --- write_draft --------------------------------------------------------------------------


def test_write_draft_writes_both_files(tmp_path):
    outbox = tmp_path / "下書き" / "営業部"
    d = draft_for("商談メモ.docx")
    paths = write_draft(d, outbox)
    assert paths.md == outbox / "商談メモ.draft.md"
    assert paths.docx == outbox / "商談メモ.draft.docx"
    assert paths.md.read_text(encoding="utf-8") == d.markdown
    assert paths.docx.read_bytes() == d.docx_bytes
    assert Document(str(paths.docx)).core_properties.author == "teichaku"
    assert visible(outbox) == ["商談メモ.draft.docx", "商談メモ.draft.md"]


def test_rerun_of_same_document_replaces_its_draft(tmp_path):
    write_draft(draft_for("a.docx", summary="古い"), tmp_path)
    paths = write_draft(draft_for("a.docx", summary="新しい"), tmp_path)
    assert paths.md.name == "a.draft.md"
    assert "新しい" in paths.md.read_text(encoding="utf-8")
    assert visible(tmp_path) == ["a.draft.docx", "a.draft.md"]


def test_different_document_with_same_stem_gets_suffix(tmp_path):
    first = write_draft(draft_for("a:b.docx"), tmp_path)
    second = write_draft(draft_for("a?b.docx"), tmp_path)  # also sanitises to "a_b"
    assert first.md.name == "a_b.draft.md"
    assert second.md.name == "a_b_2.draft.md"
    assert "a:b.docx" in first.md.read_text(encoding="utf-8")
    assert "a?b.docx" in second.md.read_text(encoding="utf-8")
    third = write_draft(draft_for("a?b.docx", summary="再実行"), tmp_path)
    assert third.md.name == "a_b_2.draft.md"


def test_file_not_made_by_us_is_never_overwritten(tmp_path):
    (tmp_path / "a.draft.md").write_text("担当者が手で直した版", encoding="utf-8")
    paths = write_draft(draft_for("a.docx"), tmp_path)
    assert paths.md.name == "a_2.draft.md"
    assert (tmp_path / "a.draft.md").read_text(encoding="utf-8") == "担当者が手で直した版"


def test_existing_nfd_draft_of_same_document_is_replaced_not_twinned(tmp_path):
    stem = "パンフレット"
    first = write_draft(draft_for("パンフレット.pdf", summary="古い"), tmp_path)
    nfd_md = tmp_path / (unicodedata.normalize("NFD", stem) + ".draft.md")
    nfd_docx = tmp_path / (unicodedata.normalize("NFD", stem) + ".draft.docx")
    first.md.rename(nfd_md)  # as a Mac client would have left it
    first.docx.rename(nfd_docx)
    paths = write_draft(draft_for("パンフレット.pdf", summary="新しい"), tmp_path)
    assert paths.md == nfd_md
    assert len(visible(tmp_path)) == 2
    assert "新しい" in nfd_md.read_text(encoding="utf-8")


def test_caller_stem_cannot_escape_outbox(tmp_path):
    outbox = tmp_path / "out"
    d = draft_for("x.docx", stem="../../etc/evil")
    paths = write_draft(d, outbox)
    assert paths.md.parent == outbox and paths.docx.parent == outbox


def test_long_stem_with_counter_still_fits(tmp_path):
    name = "長い名前の商談メモ" * 12 + ".docx"
    (tmp_path / (safe_stem(name) + ".draft.md")).write_text("他人の", encoding="utf-8")
    paths = write_draft(draft_for(name), tmp_path)
    assert nbytes(paths.docx.name) <= 255 and nbytes(paths.md.name) <= 255
    assert paths.md.exists()


def test_failed_replace_keeps_old_files_and_leaves_no_temp(tmp_path, monkeypatch):
    paths = write_draft(draft_for("a.docx", summary="古い版"), tmp_path)
    old_md, old_docx = paths.md.read_bytes(), paths.docx.read_bytes()

    def boom(src, dst):
        raise OSError(errno.EIO, "simulated crash during replace")

    monkeypatch.setattr(publish.os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        write_draft(draft_for("a.docx", summary="新しい版"), tmp_path)
    assert paths.md.read_bytes() == old_md
    assert paths.docx.read_bytes() == old_docx
    assert visible(tmp_path) == ["a.draft.docx", "a.draft.md"]


def test_failed_temp_write_leaves_nothing(tmp_path, monkeypatch):
    real_fsync = os.fsync
    calls = []

    def flaky_fsync(fd):
        calls.append(fd)
        if len(calls) == 2:  # the second temp file (markdown) fails half-way
            raise OSError(errno.ENOSPC, "disk full")
        real_fsync(fd)

    monkeypatch.setattr(publish.os, "fsync", flaky_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_draft(draft_for("a.docx"), tmp_path)
    assert visible(tmp_path) == []


def test_stale_temp_files_are_swept(tmp_path):
    stale = tmp_path / ".teichaku-0123456789ab.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (0, 0))
    fresh = tmp_path / ".teichaku-ffffffffffff.tmp"  # maybe another run writing right now
    fresh.write_bytes(b"half")
    write_draft(draft_for("a.docx"), tmp_path)
    assert not stale.exists() and fresh.exists()


def test_unique_stem_free(tmp_path):
    assert unique_stem(tmp_path / "missing", "議事録") == "議事録"


def test_a_file_someone_else_adds_after_a_listing_is_seen(tmp_path):
    """The outbox's listing is kept between drafts while its mtime stands still; a person's
    file (here another case of the same name) moves the mtime and is seen by the next draft."""
    first = write_draft(draft_for("Report.docx"), tmp_path)
    assert first.md.name == "Report.draft.md"
    assert unique_stem(tmp_path, "memo") == "memo"  # listed and kept
    (tmp_path / "MEMO.draft.md").write_text("手で作ったメモ", encoding="utf-8")
    later = os.stat(tmp_path).st_mtime_ns + 1_000_000_000
    os.utime(tmp_path, ns=(later, later))  # a coarse clock may not have ticked yet
    assert unique_stem(tmp_path, "memo") == "memo_2"


def test_drafts_written_at_once_never_share_a_name(tmp_path):
    """Threads of one batch writing drafts of one name for different documents: each sees the
    others' files through the kept listing, so none replaces another's draft."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int):
        return write_draft(draft_for(f"{i}課/議事録.docx", stem="議事録"), tmp_path)

    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(one, range(24)))
    names = {p.md.name for p in paths}
    assert len(names) == 24
    assert len([n for n in visible(tmp_path) if n.endswith(".draft.md")]) == 24


# --- archive_original ---------------------------------------------------------------------


def make_original(inbox: Path, rel: str, data: bytes) -> Path:
    p = inbox / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def test_archive_keeps_bytes_and_subfolder(tmp_path):
    data = os.urandom(100_000) + "日本語".encode()
    src = make_original(tmp_path / "inbox", "2024年/5月/商談メモ.docx", data)
    digest = sha(src)
    dst = archive_original(src, tmp_path / "archive", "2024年/5月/商談メモ.docx")
    assert dst == tmp_path / "archive" / "2024年" / "5月" / "商談メモ.docx"
    assert sha(dst) == digest
    assert not src.exists()


def test_archiving_keeps_the_archive_listing_current(tmp_path):
    """Each move renames into the archive folder; the kept listing follows, not a new listing."""
    archive = tmp_path / "archive"
    for name in ("a.docx", "b.docx", "A.docx"):
        archive_original(make_original(tmp_path / "in", name, name.encode()), archive, name)
    mtime, names = publish._LISTINGS[archive]
    assert mtime == os.stat(archive).st_mtime_ns
    assert set(names.values()) == set(os.listdir(archive))
    assert len(os.listdir(archive)) == 3  # A.docx is a.docx to Windows: it got another name


def test_archive_never_overwrites(tmp_path):
    archive = tmp_path / "archive"
    first = archive_original(make_original(tmp_path / "in", "a.docx", b"first"), archive, "a.docx")
    second = archive_original(
        make_original(tmp_path / "in", "a.docx", b"second"), archive, "a.docx"
    )
    third = archive_original(make_original(tmp_path / "in", "a.docx", b"third"), archive, "a.docx")
    assert first.read_bytes() == b"first"
    assert second.read_bytes() == b"second" and third.read_bytes() == b"third"
    assert len({first, second, third}) == 3
    assert second.suffix == ".docx" and second.name.startswith("a_")
    assert not any(n.startswith(".") for n in visible(archive))


def test_archive_keeps_nfd_name_bytes(tmp_path):
    nfd = unicodedata.normalize("NFD", "パンフレット.pdf")
    src = make_original(tmp_path / "in", nfd, b"%PDF-1.4")
    dst = archive_original(src, tmp_path / "archive", unicodedata.normalize("NFC", nfd))
    assert os.fsencode(dst.name) == nfd.encode("utf-8")
    assert dst.read_bytes() == b"%PDF-1.4"


def test_archive_does_not_reuse_nfc_name_of_existing_nfd_file(tmp_path):
    archive = tmp_path / "archive"
    nfd = unicodedata.normalize("NFD", "パンフ.pdf")
    archive_original(make_original(tmp_path / "in", nfd, b"one"), archive, "パンフ.pdf")
    dst = archive_original(
        make_original(tmp_path / "in", "パンフ.pdf", b"two"), archive, "パンフ.pdf"
    )
    assert len(visible(archive)) == 2 and dst.read_bytes() == b"two"


def test_archive_rel_name_cannot_escape(tmp_path):
    src = make_original(tmp_path / "in", "x.txt", b"x")
    dst = archive_original(src, tmp_path / "archive", "../../x.txt")
    assert (tmp_path / "archive") in dst.parents


def test_archive_across_devices_copies_and_verifies(tmp_path, monkeypatch):
    real_replace = os.replace
    seen = []

    def exdev_once(src, dst):
        seen.append(src)
        if len(seen) == 1:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(publish.os, "replace", exdev_once)
    data = os.urandom(50_000)
    src = make_original(tmp_path / "in", "会議.docx", data)
    dst = archive_original(src, tmp_path / "archive", "会議.docx")
    assert dst.read_bytes() == data and not src.exists()
    assert visible(tmp_path / "archive") == ["会議.docx"]


def test_failed_move_leaves_no_placeholder(tmp_path, monkeypatch):
    def boom(src, dst):
        raise PermissionError(errno.EACCES, "denied")

    monkeypatch.setattr(publish.os, "replace", boom)
    src = make_original(tmp_path / "in", "a.docx", b"data")
    with pytest.raises(PermissionError):
        archive_original(src, tmp_path / "archive", "a.docx")
    assert src.read_bytes() == b"data"
    assert visible(tmp_path / "archive") == []


# --- quarantine_file ----------------------------------------------------------------------


def read_error(p: Path) -> str:
    raw = p.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM for Notepad
    return raw.decode("utf-8-sig")


def test_quarantine_moves_and_writes_reason(tmp_path):
    src = make_original(tmp_path / "in", "経理/請求書.pdf", b"%PDF-encrypted")
    digest = sha(src)
    refusal = Refusal(RefusalKind.ENCRYPTED, "pypdf: /Encrypt present, AES-256")
    dst = quarantine_file(src, tmp_path / "quarantine", "経理/請求書.pdf", refusal)
    assert dst == tmp_path / "quarantine" / "経理" / "請求書.pdf"
    assert sha(dst) == digest and not src.exists()
    text = read_error(dst.with_name("請求書.pdf.error.txt"))
    assert REASONS_JA[RefusalKind.ENCRYPTED] in text
    assert "対処" in text
    assert "経理/請求書.pdf" in text
    assert "encrypted" in text and "AES-256" in text
    assert "\r\n" in text
    assert not any(n.endswith(".tmp") for n in visible(dst.parent))


def test_quarantine_time_is_in_the_workspace_zone(tmp_path):
    # The machine may run in UTC; the person reads the workspace's time (Settings.zone).
    src = make_original(tmp_path / "in", "a.txt", b"")
    refusal = Refusal(RefusalKind.EMPTY, "0 bytes")
    dst = quarantine_file(src, tmp_path / "q", "a.txt", refusal, zone=ZoneInfo("Asia/Tokyo"))
    text = read_error(dst.with_name("a.txt.error.txt"))
    when = text.split("■ 日時")[1].split()[:3]
    assert when[2] == "JST"
    stamp = datetime.strptime(" ".join(when[:2]), "%Y-%m-%d %H:%M:%S")
    now = datetime.now(ZoneInfo("Asia/Tokyo")).replace(tzinfo=None)
    assert abs((now - stamp).total_seconds()) < 120


def test_quarantine_custom_reason_and_control_chars_in_detail(tmp_path):
    src = make_original(tmp_path / "in", "a.txt", b"\x00\x01")
    refusal = Refusal(
        RefusalKind.ENCODING, "bytes \x00\x01 at offset 0", reason_ja="独自の理由です。"
    )
    dst = quarantine_file(src, tmp_path / "q", "a.txt", refusal)
    text = read_error(dst.with_name("a.txt.error.txt"))
    assert "独自の理由です。" in text and "\x00" not in text


def test_quarantine_twice_same_name_keeps_both(tmp_path):
    q = tmp_path / "q"
    r = Refusal(RefusalKind.EMPTY)
    a = quarantine_file(make_original(tmp_path / "in", "a.txt", b""), q, "a.txt", r)
    b = quarantine_file(make_original(tmp_path / "in", "a.txt", b""), q, "a.txt", r)
    assert a != b and a.exists() and b.exists()
    assert (q / (a.name + ".error.txt")).exists() and (q / (b.name + ".error.txt")).exists()


def test_quarantine_long_name_error_file_fits(tmp_path):
    name = "あ" * 81 + ".pdf"  # 247 bytes: fits, but not with ".error.txt"
    src = make_original(tmp_path / "in", name, b"x")
    dst = quarantine_file(src, tmp_path / "q", name, Refusal(RefusalKind.NAME_TOO_LONG))
    assert dst.name == name
    errs = [n for n in visible(tmp_path / "q") if n.endswith(".error.txt")]
    assert len(errs) == 1 and nbytes(errs[0]) <= 255
    assert REASONS_JA[RefusalKind.NAME_TOO_LONG] in read_error(tmp_path / "q" / errs[0])


def test_quarantine_symlink_moves_link_without_touching_target(tmp_path, monkeypatch):
    target = Path("/etc/passwd")
    if not target.exists():
        pytest.skip("no /etc/passwd")
    before = os.stat(target)
    link = tmp_path / "in" / "給与一覧.txt"
    link.parent.mkdir()
    link.symlink_to(target)

    opened: list[str] = []
    real_open, real_os_open = builtins.open, os.open  # io.open is builtins.open

    def record(path) -> None:
        if isinstance(path, int):
            return
        opened.append(os.path.realpath(path))

    def spy_open(file, *a, **k):
        record(file)
        return real_open(file, *a, **k)

    def spy_os_open(path, *a, **k):
        record(path)
        return real_os_open(path, *a, **k)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    try:
        dst = quarantine_file(
            link,
            tmp_path / "q",
            "給与一覧.txt",
            Refusal(RefusalKind.LINK_OUTSIDE, "-> /etc/passwd"),
        )
    finally:
        monkeypatch.undo()

    assert str(target) not in opened
    assert not os.path.lexists(link)
    assert dst.is_symlink() and os.readlink(dst) == str(target)
    after = os.stat(target)
    assert (after.st_mtime_ns, after.st_size, after.st_ino) == (
        before.st_mtime_ns,
        before.st_size,
        before.st_ino,
    )
    text = read_error(dst.with_name("給与一覧.txt.error.txt"))
    assert REASONS_JA[RefusalKind.LINK_OUTSIDE] in text


def test_quarantine_symlink_across_devices_recreates_link(tmp_path, monkeypatch):
    real_replace = os.replace
    calls = []

    def exdev_once(src, dst):
        calls.append(src)
        if len(calls) == 1:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    monkeypatch.setattr(publish.os, "replace", exdev_once)
    link = tmp_path / "in" / "link.txt"
    link.parent.mkdir()
    link.symlink_to("/etc/passwd")
    dst = quarantine_file(link, tmp_path / "q", "link.txt", Refusal(RefusalKind.LINK_OUTSIDE))
    assert dst.is_symlink() and os.readlink(dst) == "/etc/passwd"
    assert not os.path.lexists(link)


def test_temp_files_are_staged_outside_the_outbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run killed mid-write must leave nothing in the folder people open: the temp files are
    # written in the workspace's hidden staging folder and renamed into the outbox from there.
    outbox, staging = tmp_path / "営業部" / "下書き", tmp_path / ".teichaku" / "staging"
    written: list[Path] = []
    real = publish._write_temp

    def recording(directory: Path, data: bytes) -> Path:
        tmp = real(directory, data)
        written.append(tmp)
        return tmp

    monkeypatch.setattr(publish, "_write_temp", recording)
    paths = write_draft(draft_for("議事録.docx"), outbox, ocr_text="OCR本文", staging=staging)
    assert len(written) == 3 and all(t.parent == staging for t in written)
    assert sorted(p.name for p in outbox.iterdir()) == sorted(
        [paths.docx.name, paths.md.name, "議事録.ocr.txt"]
    )
    assert list(staging.iterdir()) == []
    assert Document(str(paths.docx)).paragraphs


def test_staging_on_another_filesystem_falls_back_to_the_outbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox, staging = tmp_path / "out", tmp_path / "staging"
    outbox.mkdir()
    staging.mkdir()
    real_stat = os.stat

    def other_device(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        st = real_stat(path, *args, **kwargs)
        if Path(path) == staging:
            return os.stat_result((*st[:2], st.st_dev + 1, *st[3:]))
        return st

    monkeypatch.setattr(publish.os, "stat", other_device)
    paths = write_draft(draft_for("日報.txt"), outbox, staging=staging)
    assert paths.docx.is_file() and paths.md.is_file()
    assert list(staging.iterdir()) == [] and not [p for p in outbox.iterdir() if p.suffix == ".tmp"]
