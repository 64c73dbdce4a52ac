"""Discover: list the files waiting in every spec's inbox, without reading them.

Lock files, temp files and OS litter are left alone silently; links are never followed out of
the workspace; names are keyed by NFC (Mac clients write NFD) but opened by their on-disk name.
"""

from __future__ import annotations

import fnmatch
import os
import time
import unicodedata
from collections.abc import Iterable
from pathlib import Path

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
    stack: list[tuple[Path, str]] = [(inbox, "")]
    while stack:
        folder, rel_prefix = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue  # folder vanished or unreadable: the next scan tries again
        for entry in entries:
            name_nfc = unicodedata.normalize("NFC", entry.name)
            rel = f"{rel_prefix}{name_nfc}"
            try:
                if entry.is_dir(follow_symlinks=False):
                    if name_nfc not in IGNORED_DIRS and not name_nfc.startswith("."):
                        stack.append((Path(entry.path), rel + "/"))
                    continue
                if is_ignored(entry.name):
                    continue
                is_link = entry.is_symlink()
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            target: Path | None = None
            if is_link:
                try:
                    target = Path(entry.path).resolve(strict=True)
                except (OSError, RuntimeError):
                    target = None
                if target is not None and _inside(target, workspace) and target.is_file():
                    st = target.stat()
                else:
                    # Outside the workspace (or dangling): reported, never opened.
                    yield DiscoveredFile(
                        spec_id=spec_id,
                        path=Path(entry.path),
                        name_nfc=name_nfc,
                        rel_nfc=rel,
                        size=0,
                        mtime_ns=st.st_mtime_ns,
                        is_link=True,
                        link_target=None,
                    )
                    continue
            elif not entry.is_file(follow_symlinks=False):
                continue  # sockets, fifos, devices
            if quiet_seconds and now - st.st_mtime < quiet_seconds:
                continue  # still being written (or just copied): a later scan picks it up
            yield DiscoveredFile(
                spec_id=spec_id,
                path=Path(entry.path),
                name_nfc=name_nfc,
                rel_nfc=rel,
                size=st.st_size,
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
