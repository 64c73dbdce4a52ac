"""Feedback where people work: a draft moved into `採用` (adopted) or `不採用` (rejected) inside its
outbox is a verdict. `teichaku feedback` records the same from a terminal.

Plain functions (no Prefect import), so the CLI stays fast; the intake flow gets a Prefect task
wrapping `scan_feedback` as `tasks.feedback.scan_feedback_task`.

Minutes actually spent can be given by folder too: `採用/20分/<draft>` means "adopted, and I
spent 20 minutes finishing it".
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from core.errors import ConfigError
from core.settings import Settings
from core.specs import LoadedSpec, PromptSpec
from core.store import Document, Feedback, Store
from core.workspace import folders_for

log = logging.getLogger(__name__)

Verdict = Literal["adopted", "rejected"]
DRAFT_SUFFIXES = (".draft.md", ".draft.docx")
_MINUTES_DIR = re.compile(r"^\s*(\d{1,4}(?:\.\d+)?)\s*(分|min|mins|minutes)?\s*$", re.IGNORECASE)
# What Explorer, Finder and Nautilus append when a file of the same name is already there.
_COPY_TAIL = re.compile(
    r"(?: \(\d+\)| - (?:コピー|Copy)(?: \(\d+\))?| copy(?: \d+)?|のコピー)(?=\.draft\.(?:md|docx)$)"
)


@dataclass
class FeedbackScan:
    recorded: int = 0
    unchanged: int = 0
    unmatched: list[str] = field(default_factory=list)


def file_owner(path: Path) -> str | None:
    """The file's owner where the OS tells (POSIX); None elsewhere. Best effort on shares."""
    try:
        import pwd

        return pwd.getpwuid(os.stat(path).st_uid).pw_name
    except (ImportError, KeyError, OSError):
        return None


def draft_key(name: str) -> str:
    """A draft's file name as recorded: NFC (Mac clients write NFD) and without copy suffixes."""
    return _COPY_TAIL.sub("", unicodedata.normalize("NFC", name))


def _is_draft(name: str) -> bool:
    return name.endswith(DRAFT_SUFFIXES) and not name.startswith(("~$", ".", "._"))


def _minutes_from(rel_dirs: tuple[str, ...]) -> float | None:
    for part in rel_dirs:
        m = _MINUTES_DIR.match(unicodedata.normalize("NFKC", part))
        if m:
            return float(m.group(1))
    return None


def _verdict_dirs(settings: Settings, spec: Any) -> dict[Path, Verdict]:
    outbox = folders_for(settings, spec).outbox
    return {
        outbox / settings.folders.adopted: "adopted",
        outbox / settings.folders.rejected: "rejected",
    }


def _drafts_by_name(store: Store, spec_id: str) -> dict[str, list[Document]]:
    by_name: dict[str, list[Document]] = {}
    for d in store.drafted_documents(spec_id):
        for p in (d.draft_md, d.draft_docx):
            if p:
                by_name.setdefault(draft_key(Path(p).name), []).append(d)
    return by_name


# When a draft was put in a verdict folder, its verdict, its path and the minutes given by folder.
Observation = tuple[datetime, Verdict, Path, float | None]


def scan_feedback(settings: Settings, specs: list[LoadedSpec], store: Store) -> FeedbackScan:
    """Record a verdict for every draft found in an outbox's 採用 / 不採用 folder. Idempotent:
    a rescan that finds the same files changes nothing."""
    result = FeedbackScan()
    existing = {f.document_id: f for f in store.feedback()}
    recorded_paths = {f.path: f.document_id for f in existing.values() if f.path}
    for loaded in specs:
        spec = loaded.spec
        by_name = _drafts_by_name(store, spec.id)
        # Per document, the newest observation wins (a draft moved from 採用 to 不採用 and copied back).
        seen: dict[int, Observation] = {}
        for vdir, verdict in _verdict_dirs(settings, spec).items():
            _observe(vdir, verdict, by_name, recorded_paths, seen, result)
        for doc_id, observation in seen.items():
            _record(store, spec, doc_id, observation, existing.get(doc_id), result)
    return result


def _observe(
    vdir: Path,
    verdict: Verdict,
    by_name: dict[str, list[Document]],
    recorded_paths: dict[str, int],
    seen: dict[int, Observation],
    result: FeedbackScan,
) -> None:
    """Every draft under one verdict folder, kept in `seen` when it is the newest of its document."""
    # Created on every scan so people find them next to the drafts.
    try:
        vdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        log.warning("cannot create feedback folder %s: %s", vdir, e)
    for root, dirs, files in os.walk(vdir):  # os.walk does not follow directory links
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel_dirs = Path(root).relative_to(vdir).parts
        for name in files:
            if not _is_draft(name):
                continue
            path = Path(root) / name
            doc = _match(by_name.get(draft_key(name), []), recorded_paths.get(str(path)))
            if doc is None:
                result.unmatched.append(str(path))
                continue
            try:
                st = path.stat()
            except OSError:
                continue  # moved again while we looked
            # A rename keeps mtime but updates ctime (POSIX): the later of the two is
            # the best "when was it put here" a share offers.
            when = datetime.fromtimestamp(max(st.st_mtime, st.st_ctime), UTC).replace(tzinfo=None)
            if doc.id not in seen or when >= seen[doc.id][0]:
                seen[doc.id] = (when, verdict, path, _minutes_from(rel_dirs))


def _record(
    store: Store,
    spec: PromptSpec,
    doc_id: int,
    observation: Observation,
    prior: Feedback | None,
    result: FeedbackScan,
) -> None:
    """Store one document's folder verdict, unless a later `teichaku feedback` overrides it."""
    when, verdict, path, minutes = observation
    if (
        prior is not None
        and prior.source == "cli"
        and (prior.path == str(path) or prior.updated_at >= when)
    ):
        # Someone gave a verdict with `teichaku feedback` after the file was put here.
        result.unchanged += 1
        return
    changed = store.record_feedback(
        doc_id,
        verdict=verdict,
        source="folder",
        minutes_spent=minutes if verdict == "adopted" else None,
        baseline_minutes=spec.baseline_minutes,
        owner=file_owner(path),
        path=str(path),
    )
    if changed:
        result.recorded += 1
    else:
        result.unchanged += 1


def _match(candidates: list[Document], recorded_id: int | None) -> Document | None:
    if not candidates:
        return None
    if recorded_id is not None:
        for d in candidates:
            if d.id == recorded_id:
                return d
    # The same draft name can come back after the first was moved away: the newest one is the
    # draft that was still in the outbox to be moved.
    return max(candidates, key=lambda d: d.id)


def record_cli_feedback(
    settings: Settings,
    specs: list[LoadedSpec],
    store: Store,
    draft: Path,
    verdict: Verdict,
    minutes: float | None = None,
) -> Document:
    """`teichaku feedback`: the verdict for one draft named by its path (in the outbox or moved)."""
    draft = draft.expanduser().resolve()
    key = draft_key(draft.name)
    if not _is_draft(draft.name):
        raise ConfigError(
            f"{draft.name}: 下書きファイル（*.draft.docx / *.draft.md）を指定してください。"
        )
    best: tuple[int, Document, Any] | None = None
    for loaded in specs:
        outbox = folders_for(settings, loaded.spec).outbox
        for doc in _drafts_by_name(store, loaded.spec.id).get(key, []):
            # Prefer the spec whose outbox holds the file (directly or in a verdict folder).
            score = 2 if outbox in draft.parents else 1
            if best is None or (score, doc.id) > (best[0], best[1].id):
                best = (score, doc, loaded.spec)
    if best is None:
        raise ConfigError(
            f"{draft}: この下書きの記録が見つかりません（teichaku が作成した下書きを指定してください）。"
        )
    _, doc, spec = best
    store.record_feedback(
        doc.id,
        verdict=verdict,
        source="cli",
        minutes_spent=minutes,
        baseline_minutes=spec.baseline_minutes,
        owner=file_owner(draft) if draft.exists() else None,
        path=str(draft) if draft.exists() else None,
    )
    return doc


def __getattr__(name: str) -> Any:
    # The Prefect task is built on first use, so importing this module (the CLI) stays light.
    if name == "scan_feedback_task":
        from prefect import task
        from prefect.cache_policies import NO_CACHE

        wrapped = task(name="scan-feedback", cache_policy=NO_CACHE)(scan_feedback)
        globals()[name] = wrapped
        return wrapped
    raise AttributeError(name)
