"""Feedback where people work: a draft moved into `採用` (adopted) or `不採用` (rejected) inside its
outbox is a verdict. `teichaku feedback` records the same from a terminal.

Plain functions (no Prefect import), so the CLI stays fast; the intake flow gets a Prefect task
wrapping `scan_feedback` as `tasks.feedback.scan_feedback_task`.

Minutes actually spent can be given by folder too: `採用/20分/<draft>` means "adopted, and I
spent 20 minutes finishing it"; a reason for a rejection by a folder inside 不採用
(`不採用/内容が不正確/<draft>`, the names in `folders.rejection_reasons`).

Retention: when a draft is adopted, the version put in 採用/ (edited or not) is compared with the
draft as teichaku wrote it (its Markdown, kept in the store by flows/document.py), character by
character after normalising both (NFKC, no whitespace, no Markdown markup, without the banner and
the 確認用メモ that teichaku adds). `retention` is the share of the draft's characters that
survive in runs of at least `MIN_RUN` (shorter common runs are particles and punctuation that any
two Japanese texts share); `edit_chars` counts the characters removed plus added. A file in 採用/
that is not one of our drafts (the final document someone submitted) is matched to the draft it
came from by the same measure, or reported as unmatched.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from rapidfuzz.distance import Indel

from core.errors import ConfigError, Refusal
from core.models import FeedbackTally
from core.settings import Settings
from core.specs import LoadedSpec, PromptSpec
from core.store import Document, Feedback, Store
from core.workspace import folders_for

log = logging.getLogger(__name__)

Verdict = Literal["adopted", "rejected"]
MatchedBy = Literal["name", "content"]
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
    measured: int = 0  # adopted versions compared with their draft in this scan


def file_owner(path: Path) -> str | None:
    """The file's owner where the OS tells (POSIX); None elsewhere. Best effort on shares."""
    try:
        return pwd.getpwuid(os.stat(path).st_uid).pw_name
    except (KeyError, OSError):
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


def _reason_from(rel_dirs: tuple[str, ...]) -> str | None:
    """`不採用/<reason>/...`: the folder right under 不採用 names the reason (NFC, as recorded).
    A folder someone made beside the configured ones counts too: it is what they said."""
    if not rel_dirs:
        return None
    name = unicodedata.normalize("NFC", rel_dirs[0]).strip()
    return name or None


def _drafts_by_name(store: Store, spec_id: str) -> dict[str, list[Document]]:
    by_name: dict[str, list[Document]] = {}
    for d in store.drafted_documents(spec_id):
        for p in (d.draft_md, d.draft_docx):
            if p:
                by_name.setdefault(draft_key(Path(p).name), []).append(d)
    return by_name


class Observation(NamedTuple):
    """A file found in a verdict folder: when it was put there, what it says, which document."""

    when: datetime
    verdict: Verdict
    path: Path
    minutes: float | None
    reason: str | None
    matched_by: MatchedBy


@dataclass
class _SpecScan:
    """What one spec's scan needs: its drafts by name, what is already recorded, the draft texts
    (read from the store once, and only when a final document has to be matched by content) and
    the text of each final document matched by content (so retention does not read it again)."""

    store: Store
    spec: PromptSpec
    settings: Settings
    by_name: dict[str, list[Document]]
    recorded_paths: dict[str, int]
    result: FeedbackScan
    seen: dict[int, Observation] = field(default_factory=dict)
    versions: dict[Path, str] = field(default_factory=dict)
    _texts: dict[int, str] | None = None

    def texts(self) -> dict[int, str]:
        if self._texts is None:
            ids = sorted({d.id for docs in self.by_name.values() for d in docs})
            self._texts = self.store.draft_texts(ids)
        return self._texts

    def keep(self, doc_id: int, observation: Observation) -> None:
        """Per document, the newest observation wins (a draft moved from 採用 to 不採用 and back)."""
        if doc_id not in self.seen or observation.when >= self.seen[doc_id].when:
            self.seen[doc_id] = observation


def scan_feedback(settings: Settings, specs: list[LoadedSpec], store: Store) -> FeedbackScan:
    """Record a verdict for every draft found in an outbox's 採用 / 不採用 folder, a reason for a
    rejection, and for an adoption how much of the draft was kept. Idempotent: a rescan that
    finds the same files changes nothing and compares nothing again."""
    result = FeedbackScan()
    existing = {f.document_id: f for f in store.feedback()}
    recorded_paths = {f.path: f.document_id for f in existing.values() if f.path}
    for loaded in specs:
        spec = loaded.spec
        scan = _SpecScan(
            store, spec, settings, _drafts_by_name(store, spec.id), recorded_paths, result
        )
        for vdir, verdict in _verdict_dirs(settings, spec).items():
            _observe(vdir, verdict, scan)
        for doc_id, observation in scan.seen.items():
            prior = existing.get(doc_id)
            if _record(store, spec, doc_id, observation, prior, result):
                known = scan.versions.get(observation.path)
                measure_retention(store, settings, doc_id, observation, prior, result, known)
    if result.unmatched:
        log.warning(
            "%d file(s) in feedback folders match no draft: %s",
            len(result.unmatched),
            ", ".join(result.unmatched[:5]),
        )
    return result


def _observe(vdir: Path, verdict: Verdict, scan: _SpecScan) -> None:
    """Every draft under one verdict folder (and, in 採用, every final document), kept in
    `scan.seen` when it is the newest of its document."""
    # Created on every scan so people find them next to the drafts.
    dirs_to_make = [vdir]
    if verdict == "rejected":
        dirs_to_make += [vdir / r for r in scan.settings.folders.rejection_reasons]
    for d in dirs_to_make:
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            log.warning("cannot create feedback folder %s: %s", d, e)
    for root, dirs, files in os.walk(vdir):  # os.walk does not follow directory links
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel_dirs = Path(root).relative_to(vdir).parts
        for name in files:
            _observe_file(Path(root) / name, verdict, rel_dirs, scan)


def _observe_file(path: Path, verdict: Verdict, rel_dirs: tuple[str, ...], scan: _SpecScan) -> None:
    name = path.name
    matched_by: MatchedBy
    if _is_draft(name):
        doc = _match(scan.by_name.get(draft_key(name), []), scan.recorded_paths.get(str(path)))
        doc_id, matched_by = (doc.id if doc else None), "name"
    elif verdict == "adopted" and _is_final_document(name):
        doc_id, matched_by = _match_by_content(path, scan), "content"
    else:
        return
    if doc_id is None:
        scan.result.unmatched.append(str(path))
        return
    try:
        st = path.stat()
    except OSError:
        return  # moved again while we looked
    # A rename keeps mtime but updates ctime (POSIX): the later of the two is
    # the best "when was it put here" a share offers.
    when = datetime.fromtimestamp(max(st.st_mtime, st.st_ctime), UTC).replace(tzinfo=None)
    reason = _reason_from(rel_dirs) if verdict == "rejected" else None
    minutes = _minutes_from(rel_dirs) if verdict == "adopted" else None
    scan.keep(doc_id, Observation(when, verdict, path, minutes, reason, matched_by))


def _is_final_document(name: str) -> bool:
    """A file someone put in 採用/ that may be the document they made from a draft."""
    suffix = Path(name).suffix.lower()
    hidden = name.startswith(("~$", ".", "._", "~WRL", ".~lock"))
    return suffix in FINAL_SUFFIXES and not hidden and not name.endswith(".error.txt")


def _match_by_content(path: Path, scan: _SpecScan) -> int | None:
    """The draft a final document came from: the one most of whose text it carries (at least
    `MATCH_MIN`), newest first on a tie. A file matched before keeps its document."""
    known = scan.recorded_paths.get(str(path))
    if known is not None:
        return known
    try:
        st = path.stat()
    except OSError:
        return None
    stamp = (str(path), st.st_size, st.st_mtime_ns, len(scan.texts()))
    if stamp in _UNMATCHED:  # unchanged, and no new draft since: not read again every minute
        return None
    text = read_version(path, scan.settings) or ""
    best: tuple[float, int] | None = None
    for doc_id, draft in scan.texts().items() if text else ():
        kept = compare(draft, text).retention
        if kept >= MATCH_MIN and (best is None or (kept, doc_id) > best):
            best = (kept, doc_id)
    if best is None:
        if len(_UNMATCHED) > 10_000:
            _UNMATCHED.clear()
        _UNMATCHED.add(stamp)
        return None
    scan.versions[path] = text
    return best[1]


def _record(
    store: Store,
    spec: PromptSpec,
    doc_id: int,
    observation: Observation,
    prior: Feedback | None,
    result: FeedbackScan,
) -> bool:
    """Store one document's folder verdict, unless a later `teichaku feedback` overrides it.
    True when the folder's verdict stands (recorded now or before)."""
    if (
        prior is not None
        and prior.source == "cli"
        and (prior.path == str(observation.path) or prior.updated_at >= observation.when)
    ):
        # Someone gave a verdict with `teichaku feedback` after the file was put here.
        result.unchanged += 1
        return False
    changed = store.record_feedback(
        doc_id,
        verdict=observation.verdict,
        source="folder",
        minutes_spent=observation.minutes,
        baseline_minutes=spec.baseline_minutes,
        owner=file_owner(observation.path),
        path=str(observation.path),
        reason=observation.reason,
    )
    if changed:
        result.recorded += 1
    else:
        result.unchanged += 1
    return True


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


# --- retention -------------------------------------------------------------------------------

# What teichaku puts around a draft's content (tasks/render): the banner line, the offline notice,
# provenance lines, and the review notes at the end. Mirrored here rather than imported, so the
# CLI's `feedback` does not load python-docx; tests/tasks/test_feedback.py compares real drafts,
# so a change in the renderer shows there.
_BANNER_MARKS = ("AI下書き・要確認", "オフライン抽出エンジンの出力です")
_NOTES_HEADINGS = frozenset({"確認用メモ", "利用上の注意"})
_PROVENANCE = re.compile(r"^\s*(?:[-*]\s+)?(元ファイル|仕様|部署|エンジン/モデル|作成日時)\s*[:：]")
_DOC_MARKER = re.compile(r"<!--\s*teichaku:[^>]*-->")
_RULE_LINE = re.compile(r"^\s*(?:[-*_]\s*){3,}$")  # --- *** ___
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_MARKUP = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s?)+")
_SPACE = re.compile(r"\s+")
MIN_RUN = 4  # characters: shorter common runs are coincidence, not kept text
MATCH_MIN = 0.5  # a final document carries at least this share of the draft it came from
FINAL_SUFFIXES = frozenset({".docx", ".md", ".txt", ".pdf"})
# Final documents this process found no draft for, by (path, size, mtime, drafts known).
_UNMATCHED: set[tuple[str, int, int, int]] = set()


class Comparison(NamedTuple):
    retention: float  # share of the draft's characters kept, 0..1
    edit_chars: int  # characters removed from the draft plus characters added


def content_lines(text: str) -> list[str]:
    """A draft's or a final document's lines without what teichaku added around the content: the
    banner, the offline notice, provenance lines, the doc marker; nothing after the review notes."""
    out: list[str] = []
    for line in text.splitlines():
        bare = line.strip().lstrip("#").strip().strip("*").strip()
        if bare in _NOTES_HEADINGS:
            break
        if any(m in line for m in _BANNER_MARKS) or _PROVENANCE.match(line):
            continue
        out.append(_DOC_MARKER.sub("", line))
    return out


def normalise(text: str) -> str:
    """The characters that carry content: NFKC (full-width digits and letters fold), no
    whitespace, no Markdown markup (headings, list markers, emphasis, table pipes and rules)."""
    chars: list[str] = []
    for line in content_lines(unicodedata.normalize("NFKC", text)):
        if _RULE_LINE.match(line) or _TABLE_RULE.match(line):
            continue
        line = _MARKUP.sub("", line).replace("**", "").replace("|", "")
        chars.append(_SPACE.sub("", line))
    return "".join(chars)


def compare(draft_markdown: str, final_text: str) -> Comparison:
    """How much of the draft survives in the final text (character level, normalised)."""
    ref, fin = normalise(draft_markdown), normalise(final_text)
    if not ref:
        return Comparison(1.0 if not fin else 0.0, len(fin))
    blocks = Indel.opcodes(ref, fin).as_matching_blocks()
    kept = sum(b.size for b in blocks if b.size >= MIN_RUN)
    return Comparison(round(kept / len(ref), 3), (len(ref) - kept) + (len(fin) - kept))


def read_version(path: Path, settings: Settings) -> str | None:
    """The text of a version someone put in 採用/, by the inbox's own readers; None if unreadable."""
    # Here: the readers load python-docx and pypdf (0.6 s), which `teichaku feedback` without a
    # file to compare never needs.
    from tasks.extract import extract_text

    try:
        return extract_text(path, settings.intake).text
    except (Refusal, OSError) as e:
        log.warning("cannot read %s to compare it with its draft: %s", path.name, e)
        return None


def measure_retention(
    store: Store,
    settings: Settings,
    doc_id: int,
    observation: Observation,
    prior: Feedback | None,
    result: FeedbackScan,
    version_text: str | None = None,
) -> None:
    """For an adoption, compare the version found with the draft, unless this very version (path
    and mtime) was compared before. `version_text`: the version's text when the scan has read it
    already (a final document matched by content), so it is not extracted twice."""
    if observation.verdict != "adopted":
        return
    try:
        stamp = f"{observation.path}\0{observation.path.stat().st_mtime_ns}"
    except OSError:
        return
    if prior is not None and prior.compared == stamp and prior.verdict == "adopted":
        return
    draft = store.draft_texts([doc_id]).get(doc_id)
    if draft is None:
        return  # a draft made before its text was kept: no retention, the verdict still counts
    text = version_text if version_text is not None else read_version(observation.path, settings)
    if text is None:
        return  # unreadable: the verdict still counts
    c = compare(draft, text)
    store.record_retention(
        doc_id,
        retention=c.retention,
        edit_chars=c.edit_chars,
        compared=stamp,
        matched_by=observation.matched_by,
    )
    result.measured += 1


def record_cli_feedback(
    settings: Settings,
    specs: list[LoadedSpec],
    store: Store,
    draft: Path,
    verdict: Verdict,
    minutes: float | None = None,
    reason: str | None = None,
) -> Document:
    """`teichaku feedback`: the verdict for one draft named by its path (in the outbox or moved);
    for an adoption of a file that exists, how much of the draft it kept."""
    draft = draft.expanduser().resolve()
    if reason is not None and reason not in settings.folders.rejection_reasons:
        names = "、".join(settings.folders.rejection_reasons)
        raise ConfigError(f"--reason {reason}: 理由は次のどれかを指定してください: {names}")
    doc, spec = _cli_document(settings, specs, store, draft)
    exists = draft.exists()
    store.record_feedback(
        doc.id,
        verdict=verdict,
        source="cli",
        minutes_spent=minutes,
        baseline_minutes=spec.baseline_minutes,
        owner=file_owner(draft) if exists else None,
        path=str(draft) if exists else None,
        reason=reason,
    )
    if exists and verdict == "adopted":
        prior = next((f for f in store.feedback() if f.document_id == doc.id), None)
        when = datetime.now(UTC).replace(tzinfo=None)
        observation = Observation(when, verdict, draft, minutes, None, "name")
        # `prior` is the row just written: compared again only if the file changed since.
        measure_retention(store, settings, doc.id, observation, prior, FeedbackScan())
    return doc


def _cli_document(
    settings: Settings, specs: list[LoadedSpec], store: Store, draft: Path
) -> tuple[Document, PromptSpec]:
    key = draft_key(draft.name)
    if not _is_draft(draft.name):
        raise ConfigError(
            f"{draft.name}: 下書きファイル（*.draft.docx / *.draft.md）を指定してください。"
        )
    best: tuple[int, Document, PromptSpec] | None = None
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
    return best[1], best[2]


# --- the list of judged drafts ---------------------------------------------------------------


class JudgedDraft(BaseModel):
    """One judged draft, as `teichaku feedback list --json` prints it (the keys are a contract)."""

    draft: str = Field(description="The draft's file name (.draft.docx)")
    verdict: Verdict
    reason: str | None = Field(description="Why it was not used (不採用/<reason>/ or --reason)")
    retention: float | None = Field(description="Share of the draft kept in the version adopted")
    minutes: float | None = Field(description="Minutes the person said they spent")
    spec: str
    version: int
    judged_at: datetime = Field(description="When the verdict was recorded, in digest.timezone")


def judged_drafts(store: Store, timezone: str) -> list[JudgedDraft]:
    """Every judged draft, oldest verdict first."""
    docs = {d.id: d for d in store.documents()}
    zone = ZoneInfo(timezone)
    out = []
    for f in sorted(store.feedback(), key=lambda f: (f.updated_at, f.id)):
        d = docs.get(f.document_id)
        if d is None:
            continue
        name = Path(d.draft_docx or d.draft_md or d.name).name
        out.append(
            JudgedDraft(
                draft=draft_key(name),
                verdict=f.verdict,  # type: ignore[arg-type]
                reason=f.reason,
                retention=f.retention if f.verdict == "adopted" else None,
                minutes=f.minutes_spent,
                spec=d.spec_id,
                version=d.spec_version,
                judged_at=f.updated_at.replace(tzinfo=UTC).astimezone(zone).replace(microsecond=0),
            )
        )
    return out


def __getattr__(name: str) -> Any:
    # The Prefect task is built on first use, so importing this module (the CLI) stays light.
    if name == "scan_feedback_task":
        from prefect import task
        from prefect.cache_policies import NO_CACHE

        wrapped = task(name="scan-feedback", cache_policy=NO_CACHE)(scan_feedback)
        globals()[name] = wrapped
        return wrapped
    raise AttributeError(name)


def feedback_tally(store: Store, since: datetime) -> FeedbackTally:
    """What the feedback scan recorded since `since` (folder verdicts new or changed), so the
    person who moved drafts into 採用 / 不採用 sees that it counted."""
    tally = FeedbackTally()
    for f in store.feedback():
        if f.source != "folder" or f.updated_at < since:
            continue
        if f.verdict == "adopted":
            tally.adopted += 1
            if f.minutes_spent is not None:
                tally.minutes_reports += 1
                tally.minutes_total += f.minutes_spent
        else:
            tally.rejected += 1
    return tally
