"""Discover: list the files waiting in every spec's inbox, without reading them.

Lock files, temp files and OS litter are left alone silently; links are never followed out of
the workspace; names are keyed by NFC (Mac clients write NFD) but opened by their on-disk name.
"""

from __future__ import annotations

import fnmatch
import os
import time
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from core.models import DiscoveredFile

# Word owner files, LibreOffice locks, partial downloads, Mac/Windows/Synology litter, and our
# own hidden temp files (".name.tmp"), which must never be taken for a document.
IGNORED_PATTERNS: tuple[str, ...] = (
    "~$*",
    "~WRL*.tmp",
    ".~lock.*#",
    "*.tmp",
    "*.temp",
    "*.part",
    "*.partial",
    "*.crdownload",
    "*.download",
    "._*",
    ".DS_Store",
    "Thumbs.db",
    "desktop.ini",
    ".*",
)
IGNORED_DIRS: frozenset[str] = frozenset({"@eaDir", "#recycle", ".teichaku", "__MACOSX", ".git"})


def is_ignored(name: str) -> bool:
    """True for names that belong to another program (locks, temp files, OS metadata)."""
    nfc = unicodedata.normalize("NFC", name)
    low = nfc.lower()
    return any(fnmatch.fnmatchcase(low, pat.lower()) for pat in IGNORED_PATTERNS)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


class _Entry(NamedTuple):
    """A directory entry with the names it is keyed by (NFC) beside the one it is opened by."""

    entry: os.DirEntry[str]
    name_nfc: str
    rel_nfc: str


def scan_inbox(
    spec_id: str,
    inbox: Path,
    workspace: Path,
    *,
    quiet_seconds: float = 0.0,
    now: float | None = None,
) -> Iterable[DiscoveredFile]:
    """Yield the ready files under one inbox (sub-folders included), oldest first per folder."""
    if not inbox.is_dir():
        return
    now = time.time() if now is None else now
    workspace = workspace.resolve()
    for item in _walk(inbox):
        found = _describe(spec_id, item, workspace)
        if found is None:
            continue
        file, quiet_from = found
        if quiet_seconds and quiet_from is not None and now - quiet_from < quiet_seconds:
            continue  # still being written (or just copied): a later scan picks it up
        yield file


def _walk(inbox: Path) -> Iterator[_Entry]:
    """Every entry under `inbox` that is not a folder and not another program's file."""
    stack: list[tuple[Path, str]] = [(inbox, "")]
    while stack:
        folder, rel_prefix = stack.pop()
        for entry in _sorted_entries(folder):
            name_nfc = unicodedata.normalize("NFC", entry.name)
            rel = f"{rel_prefix}{name_nfc}"
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if name_nfc not in IGNORED_DIRS and not name_nfc.startswith("."):
                    stack.append((Path(entry.path), rel + "/"))
            elif not is_ignored(entry.name):
                yield _Entry(entry, name_nfc, rel)


def _sorted_entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        return sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []  # folder vanished or unreadable: the next scan tries again


def _describe(
    spec_id: str, item: _Entry, workspace: Path
) -> tuple[DiscoveredFile, float | None] | None:
    """The file and the mtime its quiet period counts from (None: not waited for), or None
    for what is not a file.

    A link is followed only to a regular file inside the workspace; any other link (outside,
    dangling) is reported with no target and never opened, and its quiet period is not waited.
    """
    entry = item.entry
    try:
        is_link = entry.is_symlink()
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return None
    target: Path | None = None
    if is_link:
        target = _target_inside(Path(entry.path), workspace)
        if target is None:
            return _found(spec_id, item, st, size=0, is_link=True, target=None), None
        st = target.stat()
    elif not entry.is_file(follow_symlinks=False):
        return None  # sockets, fifos, devices
    found = _found(spec_id, item, st, size=st.st_size, is_link=is_link, target=target)
    return found, st.st_mtime


def _target_inside(link: Path, workspace: Path) -> Path | None:
    """The regular file a link resolves to, when that lies inside the workspace."""
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return target if _inside(target, workspace) and target.is_file() else None


def _found(
    spec_id: str,
    item: _Entry,
    st: os.stat_result,
    *,
    size: int,
    is_link: bool,
    target: Path | None,
) -> DiscoveredFile:
    return DiscoveredFile(
        spec_id=spec_id,
        path=Path(item.entry.path),
        name_nfc=item.name_nfc,
        rel_nfc=item.rel_nfc,
        size=size,
        mtime_ns=st.st_mtime_ns,
        is_link=is_link,
        link_target=target,
    )


def discover(
    inboxes: dict[str, Path], workspace: Path, *, quiet_seconds: float = 0.0
) -> list[DiscoveredFile]:
    """All ready files in all inboxes (spec id -> inbox)."""
    now = time.time()
    found: list[DiscoveredFile] = []
    for spec_id, inbox in sorted(inboxes.items()):
        found.extend(scan_inbox(spec_id, inbox, workspace, quiet_seconds=quiet_seconds, now=now))
    return found
