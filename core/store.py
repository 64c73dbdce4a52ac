"""The store: every document, its outcome, every model call, every verdict and every weekly
digest sent, on SQLite (one machine) or PostgreSQL (several), schema versioned by the Alembic
scripts in `core/migrations/`.

Documents are keyed by (spec, spec version, content hash), so identical bytes get one draft and
one model call. A worker *claims* a document before working on it; the claim carries a lease so
a dead worker's claim is taken over (at once when the dead worker was on this machine).

A `Store` holds a connection pool: open it as a context manager (`with Store.open(settings) as
store:`), so the pool is released however the block ends. Part of the ground package: imports
only SQLAlchemy and `core` (Alembic only when the schema is behind).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from core.models import ModelCall
from core.settings import sqlite_file

if TYPE_CHECKING:
    from types import TracebackType

    from core.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest Alembic revision. Checked with one SELECT so commands that only read the store do
# not pay for importing Alembic; tests/core/test_store.py keeps it equal to the scripts' head.
SCHEMA_HEAD = "0004"


def utcnow() -> datetime:
    # Naive UTC everywhere: SQLite has no time zones and mixing aware/naive breaks comparisons.
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("spec_id", "spec_version", "content_hash", name="uq_documents_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec_id: Mapped[str] = mapped_column(String(200))
    spec_version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(80))
    department: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(Text)
    rel_path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    mtime_ns: Mapped[int | None] = mapped_column(
        BigInteger
    )  # with size and rel_path: "seen this file"
    # claimed -> drafted | quarantined | pending (engine outage; retried next run)
    status: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    draft_stem: Mapped[str | None] = mapped_column(Text)
    draft_md: Mapped[str | None] = mapped_column(Text)
    draft_docx: Mapped[str | None] = mapped_column(Text)
    archive_path: Mapped[str | None] = mapped_column(Text)
    quarantine_path: Mapped[str | None] = mapped_column(Text)
    engine: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(200))
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    minutes_saved_est: Mapped[float] = mapped_column(Float, default=0.0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(200))
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class ModelCallRow(Base):
    __tablename__ = "model_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    spec_id: Mapped[str] = mapped_column(String(200))
    spec_version: Mapped[int] = mapped_column(Integer)
    engine: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(200))
    endpoint_host: Mapped[str] = mapped_column(String(300))
    purpose: Mapped[str] = mapped_column(String(20))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(20))
    sent_sha256: Mapped[str] = mapped_column(String(80))
    masked_counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Feedback(Base):
    """A person's verdict on one draft: adopted (採用) or rejected (不採用). One row per document;
    a later verdict replaces an earlier one, so moving a draft between folders is honoured."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("document_id", name="uq_feedback_document"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    verdict: Mapped[str] = mapped_column(String(20))  # adopted | rejected
    # Minutes the person actually spent finishing the document with the draft, when they said.
    minutes_spent: Mapped[float | None] = mapped_column(Float)
    # The spec's manual baseline when the verdict came in: confirmed saving = baseline - spent.
    baseline_minutes: Mapped[float | None] = mapped_column(Float)
    owner: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))  # folder | cli
    path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Why a draft was not used: the 不採用/<reason>/ folder it was put in, or `--reason`.
    reason: Mapped[str | None] = mapped_column(String(200))
    # Adopted: the share of the draft's characters that survive in the version used (0..1), and
    # the size of the edit (characters removed plus added), from tasks.feedback.compare.
    retention: Mapped[float | None] = mapped_column(Float)
    edit_chars: Mapped[int | None] = mapped_column(Integer)
    # "<path>\0<mtime_ns>" of the version compared: a rescan of the same file compares nothing.
    compared: Mapped[str | None] = mapped_column(Text)
    matched_by: Mapped[str | None] = mapped_column(String(20))  # name | content


class DraftText(Base):
    """The text of a draft as teichaku wrote it. Kept here, never read back from the share (where
    people edit the draft), so the version they adopt can be compared with what we wrote."""

    __tablename__ = "draft_texts"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Notification(Base):
    """One webhook event (a draft made, a file quarantined, a digest headline). The row is the
    exactly-once record: unique per event, `sending` before the POST, `sent` after a 2xx."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("event_key", name="uq_notifications_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(200))  # drafted:<doc id>, digest:<week> ...
    kind: Mapped[str] = mapped_column(String(40))  # drafted | quarantined | digest
    department: Mapped[str | None] = mapped_column(String(100))
    # pending -> sending -> sent | pending (nothing accepted: retried) | uncertain (timed out
    # after the request went out: may have arrived, not resent) | failed (gave up)
    status: Mapped[str] = mapped_column(String(20), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # never the URL
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Digest(Base):
    """One weekly digest e-mail. The row is the exactly-once record: `sending` is written before
    the SMTP conversation, `sent` only after the server's 250 reply to the message."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("week", name="uq_digests_week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[str] = mapped_column(String(10))  # ISO week, 2026-W48
    # sending -> sent | failed (nothing reached the server; retryable) | uncertain (lost after DATA)
    status: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str | None] = mapped_column(Text)
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    message_id: Mapped[str | None] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


DigestSendDecision = Literal["send", "already_sent", "uncertain", "in_progress"]


def worker_identity() -> str:
    """host:pid:random. The pid lets a worker on the same host see that a claimant is dead."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claimant_is_dead(claimed_by: str | None) -> bool:
    if not claimed_by:
        return True
    host, _, rest = claimed_by.partition(":")
    pid_s = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_s.isdigit():
        return False  # another machine: only the lease tells
    pid = int(pid_s)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class Claim:
    outcome: Literal["claimed", "done", "busy"]
    document_id: int
    draft_stem: str | None = None  # reserved by an earlier attempt: reuse it, so a retry overwrites
    status: str | None = None  # for "done": the finished status


@dataclass(frozen=True)
class _ClaimRequest:
    """One worker's claim on one document, as `Store.claim` was asked for it."""

    spec_id: str
    spec_version: int
    department: str
    content_hash: str
    name: str
    rel_path: str
    size: int
    mtime_ns: int | None
    worker: str
    now: datetime
    lease_until: datetime


def _by_key(spec_id: str, spec_version: int, content_hash: str) -> Select[tuple[Document]]:
    """The one document stored under (spec, spec version, content hash)."""
    return select(Document).where(
        Document.spec_id == spec_id,
        Document.spec_version == spec_version,
        Document.content_hash == content_hash,
    )


def _held_by_a_live_worker(doc: Document, now: datetime) -> bool:
    """Claimed, with a lease still running, by a worker that may be alive."""
    live = doc.status == "claimed" and doc.lease_until is not None and doc.lease_until > now
    return live and not _claimant_is_dead(doc.claimed_by)


class Store:
    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.migrate()

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Store:
        """The workspace's store (`database_url`: the settings' SQLite file or PostgreSQL)."""
        return cls(settings.database_url or "", migrate=migrate)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.dispose()

    # -- schema ---------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent, safe with many workers)."""
        if self._schema_revision() == SCHEMA_HEAD:
            return
        # Alembic: ~0.1 s to import; only a store whose schema is behind (checked above) needs it.
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        head = ScriptDirectory.from_config(cfg).get_current_head()
        with self.engine.connect() as conn:
            if MigrationContext.configure(conn).get_current_revision() == head:
                return
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Two workers starting together must not both create the tables.
                conn.execute(text("SELECT pg_advisory_xact_lock(74200001)"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def _schema_revision(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except SQLAlchemyError:  # no table yet: let Alembic decide
            return None

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as s, s.begin():
            yield s

    # -- claims ---------------------------------------------------------------------------
    def claim(
        self,
        *,
        spec_id: str,
        spec_version: int,
        department: str,
        content_hash: str,
        name: str,
        rel_path: str,
        size: int,
        worker: str,
        lease_seconds: float,
        mtime_ns: int | None = None,
    ) -> Claim:
        """Claim a document for `worker`: a new one, or one whose claimant is gone (lease over,
        or a dead process on this machine). Of workers racing for one document, one wins."""
        now = utcnow()
        req = _ClaimRequest(
            spec_id=spec_id,
            spec_version=spec_version,
            department=department,
            content_hash=content_hash,
            name=name,
            rel_path=rel_path,
            size=size,
            mtime_ns=mtime_ns,
            worker=worker,
            now=now,
            lease_until=now + timedelta(seconds=lease_seconds),
        )
        return self._claim_new(req) or self._claim_known(req)

    def _claim_new(self, req: _ClaimRequest) -> Claim | None:
        """Insert the document as claimed; None when it is already stored (the unique key)."""
        # The per-document writes (this one, record_calls, mark_drafted, mark_archived) are
        # Core statements on a connection: the ORM's unit of work around one row each was most
        # of the store's CPU, ~1.2 ms a drafted document in the main process.
        try:
            with self.engine.begin() as conn:
                res = conn.execute(
                    insert(Document).values(
                        spec_id=req.spec_id,
                        spec_version=req.spec_version,
                        department=req.department,
                        content_hash=req.content_hash,
                        name=req.name,
                        rel_path=req.rel_path,
                        size=req.size,
                        mtime_ns=req.mtime_ns,
                        status="claimed",
                        claimed_by=req.worker,
                        lease_until=req.lease_until,
                        attempts=1,
                        created_at=req.now,
                        updated_at=req.now,
                    )
                )
                return Claim("claimed", res.inserted_primary_key[0])
        except IntegrityError:
            return None

    def _claim_known(self, req: _ClaimRequest) -> Claim:
        """A stored document: done, busy, or taken over from a claimant that is gone."""
        with self.session() as s:
            doc = s.scalars(_by_key(req.spec_id, req.spec_version, req.content_hash)).one()
            if doc.status == "drafted":
                return Claim("done", doc.id, doc.draft_stem, doc.status)
            if _held_by_a_live_worker(doc, req.now) or not _take_over(s, doc, req):
                return Claim("busy", doc.id)
            return Claim("claimed", doc.id, doc.draft_stem)

    def count_duplicate(self, document_id: int) -> None:
        with self.session() as s:
            s.execute(
                update(Document)
                .where(Document.id == document_id)
                .values(duplicates=Document.duplicates + 1)
            )

    # -- outcomes -------------------------------------------------------------------------
    def _finish(self, document_id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            self._finish_in(conn, document_id, **values)

    @staticmethod
    def _finish_in(conn: Connection, document_id: int, **values: Any) -> None:
        """The claim released and the outcome set, inside the caller's transaction."""
        conn.execute(
            update(Document)
            .where(Document.id == document_id)
            .values(claimed_by=None, lease_until=None, updated_at=utcnow(), **values)
        )

    def mark_drafted(
        self,
        document_id: int,
        *,
        draft_md: Path,
        draft_docx: Path,
        engine: str,
        model: str,
        chunks: int,
        minutes_saved_est: float,
        owner: str | None = None,
        text: str | None = None,
    ) -> None:
        """The draft is written: its paths and engine, and `text` (the draft as written, kept for
        retention) in the same transaction, so a drafted document always has its text."""
        with self.engine.begin() as conn:
            self._finish_in(
                conn,
                document_id,
                status="drafted",
                reason=None,
                detail=None,
                draft_md=str(draft_md),
                draft_docx=str(draft_docx),
                engine=engine,
                model=model,
                chunks=chunks,
                minutes_saved_est=minutes_saved_est,
                owner=owner,
                finished_at=utcnow(),
            )
            if text is not None:
                self._keep_text(conn, document_id, text)

    def mark_archived(self, document_id: int, archive_path: Path) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(Document)
                .where(Document.id == document_id)
                .values(archive_path=str(archive_path))
            )

    def mark_quarantined(self, document_id: int, *, reason: str, detail: str, path: Path) -> None:
        self._finish(
            document_id,
            status="quarantined",
            reason=reason,
            detail=detail,
            quarantine_path=str(path),
            finished_at=utcnow(),
        )

    def mark_pending(self, document_id: int, *, reason: str, detail: str) -> None:
        """Engine outage: the original stays in the inbox and the next run tries again."""
        self._finish(document_id, status="pending", reason=reason, detail=detail)

    def expire_claims(self, worker: str) -> int:
        """End the leases `worker` holds now; returns how many. The documents stay claimed until
        another worker takes them over, which it may do at once."""
        with self.session() as s:
            res = s.execute(
                update(Document)
                .where(Document.claimed_by == worker, Document.status == "claimed")
                .values(lease_until=utcnow())
            )
        return int(res.rowcount or 0)

    def release_claim(self, document_id: int, *, detail: str) -> None:
        """Give a claim back without an outcome (the file went away), unless it was finished."""
        with self.session() as s:
            s.execute(
                update(Document)
                .where(Document.id == document_id, Document.status == "claimed")
                .values(
                    status="pending",
                    detail=detail,
                    claimed_by=None,
                    lease_until=None,
                    updated_at=utcnow(),
                )
            )

    def record_refusal(
        self,
        *,
        spec_id: str,
        spec_version: int,
        department: str,
        key: str,
        name: str,
        rel_path: str,
        reason: str,
        detail: str,
        path: Path,
    ) -> None:
        """A refusal decided before the content could be read (e.g. a link out of the workspace)."""
        now = utcnow()
        with self.session() as s:
            existing = s.scalars(_by_key(spec_id, spec_version, key)).first()
            doc = existing or Document(
                spec_id=spec_id,
                spec_version=spec_version,
                department=department,
                content_hash=key,
                created_at=now,
            )
            doc.name, doc.rel_path, doc.size = name, rel_path, 0
            doc.status, doc.reason, doc.detail = "quarantined", reason, detail
            doc.quarantine_path, doc.updated_at, doc.finished_at = str(path), now, now
            if existing is None:
                s.add(doc)

    def record_calls(
        self,
        document_id: int,
        spec_id: str,
        spec_version: int,
        calls: list[ModelCall],
        *,
        draft_stem: str | None = None,
    ) -> None:
        """What was sent where, and the draft's file stem when it is reserved now: one
        transaction, both on record before the draft is written (a retry after a kill reuses
        the stem, so it never writes a second draft)."""
        if not calls and draft_stem is None:
            return
        with self.engine.begin() as conn:
            if calls:
                conn.execute(
                    insert(ModelCallRow),
                    [
                        {
                            "document_id": document_id,
                            "spec_id": spec_id,
                            "spec_version": spec_version,
                            "engine": c.engine,
                            "model": c.model,
                            "endpoint_host": c.endpoint_host,
                            "purpose": c.purpose,
                            "prompt_tokens": c.prompt_tokens,
                            "completion_tokens": c.completion_tokens,
                            "latency_ms": c.latency_ms,
                            "outcome": c.outcome,
                            "sent_sha256": c.sent_sha256,
                            "masked_counts": dict(c.masked_counts),
                            "created_at": utcnow(),
                        }
                        for c in calls
                    ],
                )
            if draft_stem is not None:
                conn.execute(
                    update(Document).where(Document.id == document_id).values(draft_stem=draft_stem)
                )

    def drafted_documents(self, spec_id: str | None = None) -> list[Document]:
        with self.session() as s:
            q = select(Document).where(Document.status == "drafted")
            if spec_id is not None:
                q = q.where(Document.spec_id == spec_id)
            return list(s.scalars(q.order_by(Document.id)))

    def record_feedback(
        self,
        document_id: int,
        *,
        verdict: Literal["adopted", "rejected"],
        source: Literal["folder", "cli"],
        minutes_spent: float | None = None,
        baseline_minutes: float | None = None,
        owner: str | None = None,
        path: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """Insert or update the verdict for a document. Returns False when verdict, minutes and
        reason are unchanged, so a rescan of the same folders is a no-op. Minutes and a reason given
        earlier survive a rescan that repeats the same verdict without them."""
        now = utcnow()
        given = {
            "verdict": verdict,
            "minutes_spent": minutes_spent,
            "baseline_minutes": baseline_minutes,
            "owner": owner,
            "source": source,
            "path": path,
            "reason": reason,
        }
        for _ in range(2):  # a concurrent insert of the same document: retry as an update
            try:
                with self.session() as s:
                    row = s.scalars(
                        select(Feedback).where(Feedback.document_id == document_id)
                    ).first()
                    if row is None:
                        s.add(
                            Feedback(
                                document_id=document_id, **given, created_at=now, updated_at=now
                            )
                        )
                        return True
                    return self._update_feedback(row, now, **given)
            except IntegrityError:
                continue
        return False

    @staticmethod
    def _update_feedback(
        row: Feedback,
        now: datetime,
        *,
        verdict: str,
        minutes_spent: float | None,
        baseline_minutes: float | None,
        owner: str | None,
        source: str,
        path: str | None,
        reason: str | None,
    ) -> bool:
        """record_feedback on a document judged before: False when nothing changes."""
        same_verdict = row.verdict == verdict
        new_minutes = (
            minutes_spent
            if minutes_spent is not None
            else (row.minutes_spent if same_verdict else None)
        )
        new_reason = reason or (row.reason if same_verdict else None)
        unchanged = (new_minutes, new_reason) == (row.minutes_spent, row.reason)
        if same_verdict and unchanged:
            return False
        row.verdict, row.minutes_spent, row.source = verdict, new_minutes, source
        row.reason = new_reason
        if verdict != "adopted":  # nothing was kept of a rejected draft
            row.retention = row.edit_chars = row.compared = row.matched_by = None
        row.baseline_minutes = (
            baseline_minutes if baseline_minutes is not None else row.baseline_minutes
        )
        row.owner = owner or row.owner
        row.path = path or row.path
        row.updated_at = now
        return True

    def feedback(self) -> list[Feedback]:
        with self.session() as s:
            return list(s.scalars(select(Feedback).order_by(Feedback.id)))

    def record_retention(
        self,
        document_id: int,
        *,
        retention: float,
        edit_chars: int,
        compared: str,
        matched_by: Literal["name", "content"],
    ) -> None:
        """How much of an adopted draft survived into the version compared (`compared` names it)."""
        with self.session() as s:
            s.execute(
                update(Feedback)
                .where(Feedback.document_id == document_id)
                .values(
                    retention=retention,
                    edit_chars=edit_chars,
                    compared=compared,
                    matched_by=matched_by,
                )
            )

    # -- draft texts ----------------------------------------------------------------------
    @staticmethod
    def _keep_text(conn: Connection, document_id: int, text_: str) -> None:
        """The draft's text as written (a retry of the same document replaces it)."""
        values = {"text": text_, "created_at": utcnow()}
        replaced = conn.execute(
            update(DraftText).where(DraftText.document_id == document_id).values(**values)
        )
        if not replaced.rowcount:
            conn.execute(insert(DraftText).values(document_id=document_id, **values))

    def draft_texts(self, document_ids: list[int] | None = None) -> dict[int, str]:
        """Draft texts by document id (all of them when `document_ids` is None)."""
        with self.session() as s:
            q = select(DraftText.document_id, DraftText.text)
            if document_ids is not None:
                q = q.where(DraftText.document_id.in_(document_ids))
            return {r[0]: r[1] for r in s.execute(q)}

    # -- notifications --------------------------------------------------------------------
    def add_notification(
        self, event_key: str, *, kind: str, department: str | None, payload: dict[str, Any]
    ) -> bool:
        """Record an event to send, once: False when this event was recorded before."""
        now = utcnow()
        try:
            with self.session() as s:
                s.add(
                    Notification(
                        event_key=event_key,
                        kind=kind,
                        department=department,
                        status="pending",
                        payload=payload,
                        attempts=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
            return True
        except IntegrityError:
            return False

    def pending_notifications(self, limit: int = 100) -> list[Notification]:
        with self.session() as s:
            q = select(Notification).where(Notification.status == "pending")
            return list(s.scalars(q.order_by(Notification.id).limit(limit)))

    def begin_notification(self, notification_id: int) -> bool:
        """Claim a pending event for sending; of senders racing for it, one gets True."""
        with self.session() as s:
            res = s.execute(
                update(Notification)
                .where(Notification.id == notification_id, Notification.status == "pending")
                .values(status="sending", updated_at=utcnow())
            )
            return res.rowcount == 1

    def finish_notification(
        self,
        notification_id: int,
        status: Literal["sent", "pending", "uncertain", "failed"],
        *,
        attempts: int,
        error: str | None = None,
    ) -> None:
        now = utcnow()
        with self.session() as s:
            s.execute(
                update(Notification)
                .where(Notification.id == notification_id)
                .values(
                    status=status,
                    attempts=Notification.attempts + attempts,
                    error=error,
                    updated_at=now,
                    sent_at=now if status == "sent" else None,
                )
            )

    def notifications(self) -> list[Notification]:
        with self.session() as s:
            return list(s.scalars(select(Notification).order_by(Notification.id)))

    # -- weekly digest --------------------------------------------------------------------
    def begin_digest_send(
        self,
        week: str,
        *,
        subject: str,
        recipients: list[str],
        message_id: str,
        resend: bool = False,
    ) -> DigestSendDecision:
        """Claim the right to send this week's digest. Only one caller gets "send"; a week already
        sent, or whose last attempt may have reached the server, is not sent again unless `resend`."""
        now = utcnow()
        values = {
            "status": "sending",
            "subject": subject,
            "recipients": list(recipients),
            "message_id": message_id,
            "error": None,
            "started_at": now,
            "updated_at": now,
        }
        try:
            with self.session() as s:
                s.add(Digest(week=week, attempts=1, **values))
            return "send"
        except IntegrityError:
            pass
        with self.session() as s:
            row = s.scalars(select(Digest).where(Digest.week == week)).one()
            if row.status == "sent" and not resend:
                return "already_sent"
            if row.status == "uncertain" and not resend:
                return "uncertain"
            if row.status == "sending" and not resend:
                # Another sender is at work, or one died mid-conversation: either way the server
                # may have the message, so only a person (with --resend) may send again.
                return "in_progress"
            res = s.execute(
                update(Digest)
                .where(
                    Digest.id == row.id,
                    Digest.status == row.status,
                    Digest.attempts == row.attempts,
                )
                .values(attempts=Digest.attempts + 1, **values)
            )
            return "send" if res.rowcount == 1 else "in_progress"

    def finish_digest_send(
        self, week: str, status: Literal["sent", "failed", "uncertain"], error: str | None = None
    ) -> None:
        now = utcnow()
        with self.session() as s:
            s.execute(
                update(Digest)
                .where(Digest.week == week)
                .values(
                    status=status,
                    error=error,
                    updated_at=now,
                    sent_at=now if status == "sent" else None,
                )
            )

    # -- reads ----------------------------------------------------------------------------
    def documents(self) -> list[Document]:
        with self.session() as s:
            return list(s.scalars(select(Document).order_by(Document.id)))

    def model_calls(self) -> list[ModelCallRow]:
        with self.session() as s:
            return list(s.scalars(select(ModelCallRow).order_by(ModelCallRow.id)))

    def known_files(self) -> dict[tuple[str, str], tuple[int, int, str]]:
        """(spec, rel_path) -> (size, mtime_ns, hash) of drafted documents, in one query: a file still
        (or again) in the inbox with the same size and mtime is the same content, so it needs no hashing
        (the heuristic rsync and git use)."""
        with self.session() as s:
            rows = s.execute(
                select(
                    Document.spec_id,
                    Document.rel_path,
                    Document.size,
                    Document.mtime_ns,
                    Document.content_hash,
                ).where(Document.status == "drafted", Document.mtime_ns.is_not(None))
            )
            return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}

    def dispose(self) -> None:
        self.engine.dispose()


def _take_over(s: Session, doc: Document, req: _ClaimRequest) -> bool:
    """Move the claim to `req.worker` with a conditional update (status and claimant as read), so
    of two workers racing to take over only one wins. True when this one did."""
    same_claimant = (
        Document.claimed_by.is_(None)
        if doc.claimed_by is None
        else Document.claimed_by == doc.claimed_by
    )
    res = s.execute(
        update(Document)
        .where(Document.id == doc.id, Document.status == doc.status, same_claimant)
        .values(
            status="claimed",
            claimed_by=req.worker,
            lease_until=req.lease_until,
            attempts=Document.attempts + 1,
            name=req.name,
            rel_path=req.rel_path,
            mtime_ns=req.mtime_ns,
            updated_at=req.now,
        )
    )
    return res.rowcount == 1


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        if (path := sqlite_file(url)) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers work beside the writer; busy_timeout waits instead of failing.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            # In WAL mode NORMAL never corrupts the file and saves an fsync per commit; a power cut
            # may lose the last commits (a record), never a document: files move only after writes.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
