"""One document through the steps: claim -> extract -> guard -> generate -> render -> publish.

`process_document` is a plain function (tests call it directly); both runners (flows/batch.py,
flows/intake.py) call it on plain threads, which keeps orchestration overhead off the hot path.

The document's thread stays in this process and waits on the network; the CPU-heavy halves on
either side of the model call (flows/cpu_jobs.py: `prepare`, extract + guard; `render_output`,
render) run in the batch's worker processes (flows/pool.py) when it has them.

Crash safety comes from the order: the draft is written atomically, then recorded, then the
original is archived. A run killed anywhere in between redoes at most the unrecorded part, and
a reserved draft name makes the redo overwrite rather than duplicate.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from core.engine import Engine
from core.errors import EngineUnavailable, Refusal
from core.examples import draft_meta
from core.models import (
    DiscoveredFile,
    DocumentOutcome,
    DraftMeta,
    ExtractedDocument,
    GenerationResult,
    RefusalKind,
)
from core.settings import Settings, check_store_location
from core.specs import LoadedSpec, PromptSpec
from core.store import Store, worker_identity
from core.workspace import SpecFolders, folders_for
from flows.cpu_jobs import prepare, render_output
from flows.pool import FINISH, PREPARE, CpuPool, start_server, worker_count
from tasks.extract import READ_IN_CHILD, SUPPORTED_SUFFIXES, extract_text
from tasks.guard import GuardResult, restore, route_engine
from tasks.notify import Notifier, drafted_event, quarantined_event
from tasks.publish import archive_original, quarantine_file, safe_stem, unique_stem, write_draft
from tasks.render import source_heading

T = TypeVar("T")

PENDING_REASON_JA = "AI の接続先が応答しないため、次回の実行で再処理します（ファイルはそのまま受付に残っています）。"


@dataclass
class BatchContext:
    """Everything a document needs that is shared by the batch (one engine, one store)."""

    settings: Settings
    specs: dict[str, LoadedSpec]
    store: Store
    engine: Engine  # from tasks.generate.build_engine; shared by every document
    worker: str = field(default_factory=worker_identity)
    on_done: Callable[[DocumentOutcome], None] | None = None
    # (spec, rel_path) -> (size, mtime_ns, hash) of drafted files (Store.known_files), loaded once per
    # batch; None (the watcher) means every file is hashed.
    known: dict[tuple[str, str], tuple[int, int, str]] | None = None
    cpu: CpuPool | None = None  # worker processes for prepare / render_output; None: this process
    notifier: Notifier | None = None  # webhook sender (tasks/notify.py); None: no [notify] URL

    def folders(self, spec_id: str) -> SpecFolders:
        return folders_for(self.settings, self.specs[spec_id].spec)

    def run(self, fn: Callable[..., T], *args: Any, priority: int = PREPARE) -> T:
        """fn(*args) in a worker process when the batch has them, else on this thread."""
        if self.cpu is None:
            return fn(*args)
        return self.cpu.call(fn, *args, priority=priority)

    def close(self, *, wait: bool = True) -> None:
        """Stop the workers and release the store (`wait=False`: threads may still be inside)."""
        if self.cpu is not None:
            self.cpu.close(wait=wait)
        if self.notifier is not None:  # before the store goes: it records what it sent
            self.notifier.close(None if wait else 0.0)
        if wait:
            self.store.dispose()


def open_batch(
    settings: Settings, specs: list[LoadedSpec], engine: Engine | None = None, *, warm: bool = True
) -> BatchContext:
    """Store, engine and specs for one batch. The engine is built once and shared by all documents.

    `warm` starts loading GiNZA and the PDF reader in the background, so every consumer (batch,
    watcher) has them ready before its first document instead of inside it."""
    # Here, not at the top: the engine's modules (the offline engine's patterns: 0.1-0.3 s,
    # python -X importtime) are imported by a batch only.
    from tasks.generate import build_engine

    check_store_location(settings)  # before SQLite is opened on a share it would corrupt
    workers = worker_count(settings)
    cpu = CpuPool(settings, workers) if workers > 0 else None
    if warm:
        warm_up(settings, cpu)
    store = Store(settings.database_url or "")
    return BatchContext(
        settings=settings,
        specs={s.spec.id: s for s in specs},
        store=store,
        engine=engine or build_engine(settings),
        cpu=cpu,
        notifier=Notifier.start_for(settings, store),
    )


def release_claims(ctx: BatchContext) -> int:
    """Expire this worker's live leases so another worker takes those documents over at once
    instead of waiting for the lease (a watcher stopping mid-document)."""
    return ctx.store.expire_claims(ctx.worker)


def warm_up(settings: Settings, cpu: CpuPool | None = None) -> threading.Thread:
    """Load GiNZA and start the PDF forkserver in the background, so the first documents do not
    wait ~5 s for them on the critical path. With worker processes, they fork with GiNZA
    loaded by their forkserver (or load it in their initializer) and this process never does.
    Documents that need either before it is ready wait on the loader's own lock."""

    def work() -> None:
        start_server(settings)
        if cpu is not None:
            cpu.warm_up()
        elif settings.guard.enabled and settings.guard.ner:
            # tasks.guard loads GiNZA (~1.5-2.5 s); only this warm-up thread may pull it in.
            from tasks.guard import warm_up as warm_guard

            warm_guard()

    thread = threading.Thread(target=work, name="teichaku-warm-up", daemon=True)
    thread.start()
    return thread


def inboxes(ctx: BatchContext) -> dict[str, Path]:
    return {spec_id: ctx.folders(spec_id).inbox for spec_id in ctx.specs}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _file_owner(path: Path) -> str | None:
    """The file's owner on the share, when the OS tells (used by KPIs; no per-person view by default)."""
    try:
        return _user_name(os.stat(path).st_uid)
    except (KeyError, OSError):
        return None


@lru_cache(maxsize=256)
def _user_name(uid: int) -> str:
    # getpwuid reads the user database (/etc/passwd, or the directory service) on every call;
    # a batch asks for the same few owners hundreds of times.
    return pwd.getpwuid(uid).pw_name


def process_document(found: DiscoveredFile, ctx: BatchContext) -> DocumentOutcome:
    """Turn one discovered file into a draft, a quarantine entry, or leave it pending."""
    outcome = _process(found, ctx)
    outcome.finished_at = datetime.now()
    if ctx.on_done is not None:
        ctx.on_done(outcome)
    return outcome


class _Skip(Exception):
    """Leave this document for now with a "skipped" outcome (the Japanese reason): nothing to undo."""


def _process(found: DiscoveredFile, ctx: BatchContext) -> DocumentOutcome:
    spec = ctx.specs[found.spec_id].spec
    folders = ctx.folders(spec.id)
    base = {"spec_id": spec.id, "name": found.name_nfc}
    try:
        if found.is_link and found.link_target is None:
            return _quarantine_link(found, ctx, spec, folders, base)
        read_path = found.link_target or found.path
        base["content_hash"] = _content_hash(found, read_path, ctx, spec.id)
        claim = ctx.store.claim(
            spec_id=spec.id,
            spec_version=spec.version,
            department=spec.department,
            content_hash=base["content_hash"],
            name=found.name_nfc,
            rel_path=found.rel_nfc,
            size=found.size,
            worker=ctx.worker,
            lease_seconds=ctx.settings.intake.lease_seconds,
            mtime_ns=found.mtime_ns,
        )
        if claim.outcome == "busy":
            raise _Skip("別のワーカーが処理中です。")
        if claim.outcome == "done":
            return _duplicate(found, ctx, folders, claim.document_id, base)
        return _settle(found, read_path, ctx, folders, claim, base)
    except _Skip as skip:
        return DocumentOutcome(**base, status="skipped", reason=str(skip))


def _quarantine_link(
    found: DiscoveredFile,
    ctx: BatchContext,
    spec: PromptSpec,
    folders: SpecFolders,
    base: dict[str, str],
) -> DocumentOutcome:
    refusal = Refusal(RefusalKind.LINK_OUTSIDE, "symlink resolving outside the workspace")
    moved = quarantine_file(
        found.path, folders.quarantine, found.rel_nfc, refusal, zone=ctx.settings.zone
    )
    ctx.store.record_refusal(
        spec_id=spec.id,
        spec_version=spec.version,
        department=spec.department,
        key="link:" + hashlib.sha256(found.rel_nfc.encode()).hexdigest(),
        name=found.name_nfc,
        rel_path=found.rel_nfc,
        reason=refusal.reason_ja,
        detail=refusal.detail,
        path=moved,
    )
    _announce_quarantine(ctx, spec, f"link:{found.rel_nfc}", found, refusal.reason_ja)
    return DocumentOutcome(**base, status="quarantined", reason=refusal.reason_ja)


def _content_hash(found: DiscoveredFile, read_path: Path, ctx: BatchContext, spec_id: str) -> str:
    """The file's SHA-256, unread when the batch knows it drafted these very bytes before."""
    try:
        st = os.stat(read_path)
        if (st.st_size, st.st_mtime_ns) != (found.size, found.mtime_ns):
            raise _Skip("書き込み中のため次回に処理します。")
        seen = ctx.known.get((spec_id, found.rel_nfc)) if ctx.known else None
        if seen is not None and seen[:2] == (found.size, found.mtime_ns):
            return seen[2]  # drafted before, unchanged since: the claim says "done" unread
        return sha256_file(read_path)
    except FileNotFoundError:
        # Another worker took it (or the user removed it) since discovery: nothing to do.
        raise _Skip("ファイルが移動されました。") from None


def _duplicate(
    found: DiscoveredFile,
    ctx: BatchContext,
    folders: SpecFolders,
    document_id: int,
    base: dict[str, str],
) -> DocumentOutcome:
    """Identical bytes were drafted before: no second draft, no second model call."""
    try:
        archive_original(found.path, folders.archive, found.rel_nfc)
    except FileNotFoundError:
        # The worker that drafted it archived this very file between our hash and our claim.
        raise _Skip("別のワーカーが処理済みです。") from None
    ctx.store.count_duplicate(document_id)
    return DocumentOutcome(**base, status="duplicate", reason="同じ内容のファイルは処理済みです。")


def _settle(
    found: DiscoveredFile,
    read_path: Path,
    ctx: BatchContext,
    folders: SpecFolders,
    claim: Any,
    base: dict[str, str],
) -> DocumentOutcome:
    """Draft a claimed document; whatever stops it is recorded against the claim."""
    try:
        return _draft(found, read_path, ctx, folders, claim.document_id, claim.draft_stem, base)
    except Refusal as refusal:
        moved = quarantine_file(
            found.path, folders.quarantine, found.rel_nfc, refusal, zone=ctx.settings.zone
        )
        ctx.store.mark_quarantined(
            claim.document_id, reason=refusal.reason_ja, detail=refusal.detail, path=moved
        )
        spec = ctx.specs[found.spec_id].spec
        _announce_quarantine(ctx, spec, claim.document_id, found, refusal.reason_ja)
        return DocumentOutcome(**base, status="quarantined", reason=refusal.reason_ja)
    except FileNotFoundError as e:
        # Moved away mid-way by a person: nothing is lost, and a later scan handles it if it returns.
        ctx.store.release_claim(claim.document_id, detail=str(e))
        return DocumentOutcome(
            **base, status="skipped", reason="処理中にファイルが移動されました。"
        )
    except EngineUnavailable as e:
        # A missing reader (no OCR engine) says so; otherwise the endpoint is what failed.
        reason = getattr(e, "reason_ja", None) or PENDING_REASON_JA
        ctx.store.mark_pending(claim.document_id, reason=reason, detail=str(e))
        if e.permanent:
            raise
        return DocumentOutcome(**base, status="pending", reason=reason)


@dataclass
class Produced:
    """What the model made of one document, names restored: what a draft is rendered from."""

    extracted: ExtractedDocument
    guarded: GuardResult
    result: GenerationResult
    output: dict[str, Any]

    def meta(self, spec: PromptSpec, source_name: str, zone: tzinfo | None = None) -> DraftMeta:
        """The draft's provenance: source, spec, engine, and every warning a reviewer must see;
        the time in the workspace's zone (`zone`, Settings.zone), the source's own title."""
        base = draft_meta(
            spec, source=source_name, engine=self.result.engine, model=self.result.model, zone=zone
        )
        return base.model_copy(
            update={
                "warnings": [*self.extracted.warnings, *self.guarded.warnings],
                "needs_review_reason": self.result.needs_review_reason,
                "source_heading": source_heading(self.extracted.text),
            }
        )


def _inline(fn: Callable[..., T], *args: Any, priority: int = PREPARE) -> T:
    return fn(*args)


def produce(
    read_path: Path,
    file_name: str,
    spec: PromptSpec,
    settings: Settings,
    engine: Any,
    *,
    run: Callable[..., Any] = _inline,
) -> Produced:
    """Read, guard, route, generate, restore: the one path from a file to an output. The intake,
    the watcher and `specs test` all take it, so an example is guarded exactly like a dropped
    file. `run` puts the CPU-heavy half in the batch's worker processes."""
    check_accepted(read_path, spec)
    # A PDF is read by a child process of its own either way; only its text goes to a worker.
    extracted = (
        extract_text(read_path, settings.intake)
        if read_path.suffix.lower() in READ_IN_CHILD
        else None
    )
    extracted, guarded = run(prepare, read_path, spec, settings, file_name, extracted)
    # A confidentiality label may quarantine the document (Refusal) or keep it on a local engine.
    route = route_engine(engine, spec, settings, guarded)
    guarded = guarded.model_copy(update={"warnings": [*guarded.warnings, *route.notes]})
    result = route.engine.generate(spec, guarded.text, file_name=guarded.file_name or file_name)
    for call in result.calls:
        call.masked_counts = dict(guarded.counts)
    return Produced(extracted, guarded, result, restore(result.output, guarded.mapping))


def check_accepted(read_path: Path, spec: PromptSpec) -> None:
    """The spec's `inputs.extensions` decide what its folder takes; a workspace spec may narrow it."""
    suffix = read_path.suffix.lower()
    accepted = [e.lower() for e in spec.inputs.extensions]
    if not accepted:  # the field omitted: every format the readers support
        return
    # A format no reader knows keeps the general reason (it lists every supported format).
    if suffix in SUPPORTED_SUFFIXES and suffix not in accepted:
        listed = "、".join(accepted)
        raise Refusal(
            RefusalKind.UNSUPPORTED_TYPE,
            f"{suffix} is not in inputs.extensions of {spec.id}",
            reason_ja=f"このフォルダでは受け付けていないファイル形式です。受け付ける形式：{listed}",
        )


def _draft(
    found: DiscoveredFile,
    read_path: Path,
    ctx: BatchContext,
    folders: SpecFolders,
    document_id: int,
    reserved_stem: str | None,
    base: dict[str, str],
) -> DocumentOutcome:
    spec = ctx.specs[found.spec_id].spec
    made = produce(read_path, found.name_nfc, spec, ctx.settings, ctx.engine, run=ctx.run)
    stem = reserved_stem or unique_stem(folders.outbox, safe_stem(found.name_nfc))
    ctx.store.record_calls(
        document_id,
        spec.id,
        spec.version,
        made.result.calls,
        draft_stem=stem if reserved_stem is None else None,
    )
    meta = made.meta(spec, found.name_nfc, ctx.settings.zone)
    rendered = ctx.run(render_output, spec, made.output, meta, stem, priority=FINISH)
    # Written on this thread, not in the worker: the three fsyncs wait on the disk, and a CPU
    # worker waiting on them guards and renders nothing meanwhile. Same atomic write, same order.
    paths = write_draft(
        rendered,
        folders.outbox,
        ocr_text=made.extracted.ocr_text,
        staging=ctx.settings.state_dir / "staging",
    )
    minutes = spec.minutes_saved_estimate
    # The draft as written, kept for retention (tasks/feedback.py): people edit the file itself.
    # write_draft writes exactly these characters (render_markdown's output has no "\r").
    ctx.store.mark_drafted(
        document_id,
        draft_md=paths.md,
        draft_docx=paths.docx,
        engine=made.result.engine,
        model=made.result.model,
        chunks=made.result.chunks,
        minutes_saved_est=minutes,
        owner=_file_owner(read_path),
        text=rendered.markdown,
    )
    archived = archive_original(found.path, folders.archive, found.rel_nfc)
    ctx.store.mark_archived(document_id, archived)
    if ctx.notifier is not None:
        rel = folders.outbox.relative_to(ctx.settings.workspace).as_posix()
        masked = made.guarded.file_name
        ctx.notifier.announce(
            drafted_event(spec, document_id, outbox_rel=rel, real_name=found.name_nfc,
                          masked_name=masked, settings=ctx.settings)
        )  # fmt: skip
    return DocumentOutcome(**base, status="drafted", draft=paths, minutes_saved=minutes)


def _announce_quarantine(
    ctx: BatchContext, spec: PromptSpec, key: int | str, found: DiscoveredFile, reason: str
) -> None:
    if ctx.notifier is None:
        return
    rel = ctx.folders(spec.id).quarantine.relative_to(ctx.settings.workspace).as_posix()
    ctx.notifier.announce(
        quarantined_event(spec, key, quarantine_rel=rel, real_name=found.name_nfc, reason=reason,
                          settings=ctx.settings)
    )  # fmt: skip
