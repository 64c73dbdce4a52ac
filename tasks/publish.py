"""Publish step: write drafts into the outbox and move originals to archive or quarantine.

These folders are SMB shares that staff browse with Explorer while we write, so:
- a visible file is always complete (hidden temp file, fsync, then rename over),
- names are legal on Windows and fit 255 UTF-8 bytes (the Linux/ext4 and Samba limit),
- nothing that a person or an earlier run put there is ever overwritten,
- originals keep their exact bytes and, where possible, their exact on-disk name (NFD included).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import shutil
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path, PurePosixPath

from core.errors import Refusal
from core.models import DraftPaths, RenderedDraft
from tasks.render import DOC_MARKER_RE, clean_text, format_time

MD_SUFFIX = ".draft.md"
# What OCR read, beside the draft of a scan or photo, so a reviewer can compare it with the paper.
OCR_SUFFIX = ".ocr.txt"
DOCX_SUFFIX = ".draft.docx"
ERROR_SUFFIX = ".error.txt"
NAME_MAX_BYTES = 255

# Starts with "." and ends with ".tmp": both make discovery skip it, and Explorer hides neither
# but staff know "*.tmp" is not theirs. Short, so it never hits the name limit itself.
_TMP_PREFIX = ".teichaku-"
_TMP_SUFFIX = ".tmp"
_STALE_TMP_SECONDS = 3600

_ILLEGAL = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f-\x9f\ud800-\udfff]')
_RESERVED = {
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$",
    *(f"COM{i}" for i in "123456789¹²³"),
    *(f"LPT{i}" for i in "123456789¹²³"),
}  # fmt: skip
# Zero-width joiners and variation selectors only make sense before the next character;
# left dangling at a cut they render as tofu or change the previous glyph.
_DANGLING = re.compile(r"[\u200d\ufe00-\ufe0f\U000e0100-\U000e01ef]+$")


def _nbytes(s: str) -> int:
    # surrogateescape: an on-disk name that is not valid UTF-8 still has a real byte length.
    try:
        return len(s.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return len(s.encode("utf-8", "surrogatepass"))


def _truncate_utf8(s: str, max_bytes: int) -> str:
    """Longest prefix of `s` within `max_bytes` UTF-8 bytes, cut between code points."""
    if _nbytes(s) <= max_bytes:
        return s
    used = 0
    cut = 0
    for i, ch in enumerate(s):
        used += _nbytes(ch)
        if used > max_bytes:
            cut = i
            break
    out = _DANGLING.sub("", s[:cut])
    # A base character whose combining mark was cut off would change meaning (が written NFD
    # is か + U+3099), so drop the base too.
    while out and unicodedata.combining(s[len(out)]):
        out = out[:-1]
    return out


def _short_hash(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _split_ext(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    # Only a short alphanumeric tail counts as an extension: 「議事録 Ver.2 最終」 has none.
    if dot and stem.strip(" .") and 1 <= len(ext) <= 8 and ext.isascii() and ext.isalnum():
        return stem, "." + ext
    return name, ""


def _sanitize(stem: str) -> str:
    s = _ILLEGAL.sub("_", unicodedata.normalize("NFC", stem))
    # Windows drops trailing dots/spaces (two names collide); a leading dot hides the file and
    # makes our own scanner skip it; "~$" is how Word marks its lock files.
    s = s.strip(" .")
    if s.startswith("~"):
        s = "_" + s[1:]
    if not s:
        s = "無題"
    if s.split(".")[0].rstrip(" ").upper() in _RESERVED:
        s = "_" + s
    return s


def _fit(stem: str, suffix: str, max_bytes: int, *, key: str) -> str:
    """`stem` shortened (with a hash of `key`) so that stem + suffix fits in max_bytes."""
    budget = max_bytes - _nbytes(suffix)
    if _nbytes(stem) <= budget:
        return stem
    tag = "_" + _short_hash(key)
    if budget - len(tag) < 1:
        raise ValueError(f"suffix {suffix!r} leaves no room for a name within {max_bytes} bytes")
    head = _truncate_utf8(stem, budget - len(tag)).rstrip(" .")
    return (head or "_") + tag


def safe_stem(name: str, *, suffix: str = DOCX_SUFFIX, max_bytes: int = NAME_MAX_BYTES) -> str:
    """A file stem from `name` that is legal on Windows/SMB and fits with `suffix` in max_bytes.

    Deterministic: the same name always gives the same stem. Long names are cut between
    characters and get a hash of the full name, so two long names sharing a prefix differ.
    """
    nfc = unicodedata.normalize("NFC", name)
    base = nfc.replace("\\", "/").rsplit("/", 1)[-1] or nfc
    stem, _ = _split_ext(base)
    if base != nfc:
        # Keep the folder part: 「東京/議事録.docx」 and 「大阪/議事録.docx」 are different documents.
        stem = nfc[: len(nfc) - len(base)] + stem
    return _fit(_sanitize(stem), suffix, max_bytes, key=nfc)


# --- atomic writes --------------------------------------------------------------------------


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; SMB/Windows cannot open directories, and the
    # data is already fsynced, so failing here is not worth failing the write for.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temp_path(directory: Path) -> Path:
    return directory / f"{_TMP_PREFIX}{secrets.token_hex(6)}{_TMP_SUFFIX}"


def _write_temp(directory: Path, data: bytes) -> Path:
    tmp = _temp_path(directory)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so readers see the old file or the new one, never a part."""
    tmp = _write_temp(path.parent, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


# When each folder was last swept: once every _SWEEP_EVERY seconds is enough for temps a killed
# run left (listing a 4,800-draft outbox for every draft cost ~5 ms each).
_SWEEP_EVERY = 600.0
_swept: dict[Path, float] = {}


def _sweep_stale_temps(directory: Path) -> None:
    # A run killed mid-write leaves its hidden temp file; nobody else will ever clean it up.
    now = time.monotonic()
    if now - _swept.get(directory, -_SWEEP_EVERY) < _SWEEP_EVERY:
        return
    _swept[directory] = now
    cutoff = time.time() - _STALE_TMP_SECONDS
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for e in entries:
        if e.name.startswith(_TMP_PREFIX) and e.name.endswith(_TMP_SUFFIX):
            try:
                if e.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(e.path)
            except OSError:
                pass


# --- drafts ---------------------------------------------------------------------------------


# A folder's listing, kept while the folder's mtime says nothing changed: an outbox holds two
# files a draft, and listing 9,600 of them cost ~12 ms for every document of a 4,800-file
# backlog (O(N^2) over the batch). Our own writes add their names under the lock and record the
# folder's new mtime, so a batch's threads always see each other's files; anyone else's change
# (a person, another machine) moves the mtime and the folder is listed again.
_LISTINGS: dict[Path, tuple[int, dict[str, str]]] = {}
_LISTINGS_LOCK = threading.RLock()


def _existing_names(directory: Path) -> dict[str, str]:
    """NFC-casefolded name -> on-disk name: a Mac-written NFD name or another case is the same
    file as far as staff (and Windows) are concerned. The caller must not change the dict."""
    with _LISTINGS_LOCK:
        try:
            mtime = os.stat(directory).st_mtime_ns
        except FileNotFoundError:
            return {}
        kept = _LISTINGS.get(directory)
        if kept is not None and kept[0] == mtime:
            return kept[1]
        try:
            names = {_key(n): n for n in os.listdir(directory)}
        except FileNotFoundError:
            return {}
        _LISTINGS[directory] = (mtime, names)
        return names


@contextmanager
def _placing(directory: Path, *names: str) -> Iterator[None]:
    """Around our own write of `names` into `directory`: no thread lists the folder meanwhile,
    and afterwards its kept listing has them and the folder's new mtime."""
    with _LISTINGS_LOCK:
        try:
            yield
        finally:
            _wrote(directory, *names)


def _wrote(directory: Path, *names: str) -> None:
    kept = _LISTINGS.get(directory)
    if kept is None:
        return
    try:
        mtime = os.stat(directory).st_mtime_ns
    except FileNotFoundError:
        _LISTINGS.pop(directory, None)
        return
    kept[1].update((_key(n), n) for n in names)
    _LISTINGS[directory] = (mtime, kept[1])


@lru_cache(maxsize=1 << 16)
def _key(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def _draft_owner(outbox: Path, md_name: str | None, docx_name: str | None) -> str | None:
    """The document key stored in an existing draft, or None if it is not recognisably ours."""
    if md_name:
        try:
            with open(outbox / md_name, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 4096))
                m = DOC_MARKER_RE.search(f.read().decode("utf-8", "replace"))
            return m.group(1) if m else None
        except OSError:
            return None
    if docx_name:
        try:
            # python-docx ~35 ms (-X importtime): only to read back an existing .docx draft's id.
            from docx import Document

            return Document(str(outbox / docx_name)).core_properties.identifier or None
        except Exception:
            return None
    return None


def unique_stem(outbox: Path, stem: str, doc_key: str | None = None) -> str:
    """`stem`, or `stem_2`, `stem_3`... : the first whose draft files are free or already belong
    to the document `doc_key` (a re-run replaces its own draft, never someone else's)."""
    names = _existing_names(outbox)
    n = 1
    while True:
        tail = "" if n == 1 else f"_{n}"
        cand = _fit(stem, tail + DOCX_SUFFIX, NAME_MAX_BYTES, key=stem) + tail
        md = names.get((cand + MD_SUFFIX).casefold())
        dx = names.get((cand + DOCX_SUFFIX).casefold())
        if md is None and dx is None:
            return cand
        if doc_key is not None and _draft_owner(outbox, md, dx) == doc_key:
            # Reuse the on-disk spelling so we replace the file instead of adding a twin.
            on_disk = md[: -len(MD_SUFFIX)] if md else dx[: -len(DOCX_SUFFIX)]  # type: ignore[index]
            return on_disk
        n += 1


def _staged_temps(payloads: list[bytes], outbox: Path, staging: Path | None) -> list[Path]:
    """One temp file per payload, complete and fsynced, in `staging` when a rename from there
    into the outbox works (same filesystem), else in the outbox itself.

    Staged outside the outbox, a run killed mid-write (kill -9, power loss) leaves nothing in the
    folder people open: at worst a temp file in the workspace's hidden state folder, swept later.
    """
    for directory in ([staging] if staging is not None else []) + [outbox]:
        temps: list[Path] = []
        try:
            if directory != outbox:  # write_draft has made and swept the outbox already
                directory.mkdir(parents=True, exist_ok=True)
                _sweep_stale_temps(directory)
            for data in payloads:
                temps.append(_write_temp(directory, data))
            if directory == outbox or os.stat(directory).st_dev == os.stat(outbox).st_dev:
                return temps
        except OSError:
            if directory == outbox:
                for t in temps:
                    t.unlink(missing_ok=True)
                raise
        for t in temps:  # another filesystem: a rename would not be atomic, use the outbox
            t.unlink(missing_ok=True)
    raise AssertionError("unreachable: the outbox either returns or raises")


def write_draft(
    rendered: RenderedDraft,
    outbox: Path,
    *,
    ocr_text: str | None = None,
    staging: Path | None = None,
) -> DraftPaths:
    """Write <stem>.draft.md and <stem>.draft.docx into `outbox` atomically; return their paths.

    With `ocr_text` (the document was read by OCR), <stem>.ocr.txt is written beside them.
    `staging` (the workspace's hidden state folder) holds the temp files while they are written."""
    outbox.mkdir(parents=True, exist_ok=True)
    _sweep_stale_temps(outbox)
    m = DOC_MARKER_RE.search(rendered.markdown)
    # Re-sanitise (idempotent for safe_stem output): the stem becomes a path component, so a
    # caller's "/" or ".." must not reach the filesystem.
    wanted = _fit(_sanitize(rendered.stem), DOCX_SUFFIX, NAME_MAX_BYTES, key=rendered.stem)

    # Every temp file is complete before any becomes visible, so a failure while writing leaves
    # the previous pair untouched.
    payloads = [rendered.docx_bytes, rendered.markdown.encode("utf-8")]
    if ocr_text is not None:
        payloads.append(ocr_text.encode("utf-8"))
    temps = _staged_temps(payloads, outbox, staging)
    try:
        # The name is chosen and taken in one step: two threads drafting different documents
        # of one name never pick the same (each sees the other's files once they are placed).
        with _LISTINGS_LOCK:
            stem = unique_stem(outbox, wanted, m.group(1) if m else None)
            paths = DraftPaths(
                md=outbox / f"{stem}{MD_SUFFIX}", docx=outbox / f"{stem}{DOCX_SUFFIX}"
            )
            targets = [paths.docx, paths.md]
            if ocr_text is not None:
                targets.append(outbox / f"{stem}{OCR_SUFFIX}")
            with _placing(outbox, *(t.name for t in targets)):
                for tmp, target in zip(temps, targets, strict=True):
                    os.replace(tmp, target)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    _fsync_dir(outbox)
    return paths


# --- moving originals -----------------------------------------------------------------------


def _dest_dir(path: Path, base: Path, rel_name: str) -> Path:
    """Folder under `base` mirroring the sub-folders of `rel_name`, spelt as on disk if possible."""
    rel_dirs = [
        p for p in PurePosixPath(rel_name.replace("\\", "/")).parts[:-1] if p not in ("/", "")
    ]
    disk_dirs = list(path.parent.parts[-len(rel_dirs) :]) if rel_dirs else []
    nfc = [unicodedata.normalize("NFC", d) for d in disk_dirs]
    if nfc != [unicodedata.normalize("NFC", d) for d in rel_dirs]:
        disk_dirs = rel_dirs
    # Never let a crafted relative name climb out of the archive or quarantine folder.
    safe = [d if d not in (".", "..") else "_" for d in disk_dirs]
    return base.joinpath(*safe)


def _candidate_names(name: str) -> Iterator[str]:
    """`name`, then `name_<timestamp>`, then `name_<timestamp>_2`... (extension kept last)."""
    yield name
    stem, ext = _split_ext(name)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for tail in (f"_{stamp}", *(f"_{stamp}_{i}" for i in range(2, 1000))):
        yield _truncate_utf8(stem, NAME_MAX_BYTES - _nbytes(tail + ext)) + tail + ext


def _reserve(directory: Path, name: str) -> Path:
    """Create an empty placeholder under the first free variant of `name`.

    O_EXCL makes the check and the claim one step, so a concurrent run (or a person) creating
    the same name can never be overwritten by our rename afterwards.
    """
    taken = _existing_names(directory)
    for cand in _candidate_names(name):
        if _key(cand) in taken:
            continue
        try:
            with _placing(directory, cand):
                fd = os.open(directory / cand, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return directory / cand
    raise FileExistsError(errno.EEXIST, "no free name for", str(directory / name))


def _copy_across_devices(src: Path, dst: Path) -> None:
    tmp = _temp_path(dst.parent)
    try:
        if src.is_symlink():
            # Recreate the link itself: opening it would read (and leak) whatever it points at.
            os.symlink(os.readlink(src), tmp)
        else:
            shutil.copy2(src, tmp, follow_symlinks=False)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            if os.lstat(tmp).st_size != os.lstat(src).st_size:
                raise OSError(errno.EIO, "size mismatch after copy", str(src))
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(dst.parent)
    os.unlink(src)


def _move(path: Path, base: Path, rel_name: str) -> Path:
    """Move `path` (a file, or a symlink as itself) under `base`/<sub-folders of rel_name>."""
    directory = _dest_dir(path, base, rel_name)
    directory.mkdir(parents=True, exist_ok=True)
    dst = _reserve(directory, path.name)
    try:
        try:
            # Same filesystem: atomic, the bytes never move. The rename moves the folder's
            # mtime, so the kept listing is brought up to date with it.
            with _placing(directory, dst.name):
                os.replace(path, dst)
        except OSError as e:
            if e.errno != errno.EXDEV:
                raise
            _copy_across_devices(path, dst)
    except BaseException:
        # Only ever our own empty placeholder: a failed move must not leave a 0-byte "original".
        try:
            if os.lstat(dst).st_size == 0 and not dst.is_symlink():
                dst.unlink()
        except OSError:
            pass
        raise
    _fsync_dir(directory)
    return dst


def archive_original(path: Path, archive_dir: Path, rel_name: str) -> Path:
    """Move a processed original into the archive unchanged; return where it went."""
    return _move(path, archive_dir, rel_name)


def _error_report(refusal: Refusal, rel_name: str, moved: Path, zone: tzinfo | None) -> str:
    # The workspace's zone (Settings.zone), as the digest speaks it; not the machine's UTC.
    now = format_time(datetime.now(zone) if zone else datetime.now().astimezone(), seconds=True)
    lines = [
        "このファイルは AI 下書きの対象にできませんでした。",
        "",
        "■ 理由",
        clean_text(refusal.reason_ja),
        "",
        "■ 対処方法",
        "上の理由を確認し、問題を直したファイルを元のフォルダにもう一度入れてください。",
        "このファイル自体は変更せず、この「隔離」フォルダに保管しています（削除してかまいません）。",
        "わからないときは DX推進室 にこのメモを添えてお問い合わせください。",
        "",
        "■ 元のファイル名",
        clean_text(unicodedata.normalize("NFC", rel_name)),
        "",
        "■ 日時",
        now,
        "",
        "---- 技術情報（IT担当者向け） ----",
        f"kind: {refusal.kind.value}",
        f"detail: {clean_text(refusal.detail) or '-'}",
        f"stored_as: {clean_text(str(moved))}",
        "",
    ]
    return "\r\n".join(lines)


def quarantine_file(
    path: Path,
    quarantine_dir: Path,
    rel_name: str,
    refusal: Refusal,
    *,
    zone: tzinfo | None = None,
) -> Path:
    """Move a refused file into quarantine and put '<name>.error.txt' beside it (its time in
    `zone`, the workspace's); return the file."""
    moved = _move(path, quarantine_dir, rel_name)
    err_name = moved.name + ERROR_SUFFIX
    if _nbytes(err_name) > NAME_MAX_BYTES:
        # NAME_TOO_LONG refusals are exactly the names that would not fit with our suffix.
        err_name = _fit(moved.name, ERROR_SUFFIX, NAME_MAX_BYTES, key=moved.name) + ERROR_SUFFIX
    # BOM + CRLF: Notepad on older Windows guesses Shift_JIS without the BOM and shows mojibake.
    data = _error_report(refusal, rel_name, moved, zone).encode("utf-8-sig")
    atomic_write(moved.with_name(err_name), data)
    return moved
