"""The store: every document, its outcome and every model call, on SQLite or PostgreSQL.

Documents are keyed by (spec, spec version, content hash), so identical bytes get one draft and
one model call. A worker *claims* a document before working on it; the claim carries a lease so
a dead worker's claim is taken over (at once when the dead worker was on this machine).
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
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from teichaku.models import ModelCall

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def utcnow() -> datetime:
    # Naive UTC everywhere: SQLite has no time zones and mixing aware/naive breaks comparisons.
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("spec_id", "spec_version", "content_hash", name="uq_documents_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec_id: Mapped[str] = mapped_column(String(200))
    spec_version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(80))
    department: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(Text)
    rel_path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
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


class Store:
    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.migrate()

    # -- schema ---------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent, safe with many workers)."""
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
    ) -> Claim:
        now = utcnow()
        lease = now + timedelta(seconds=lease_seconds)
        try:
            with self.session() as s:
                doc = Document(
                    spec_id=spec_id,
                    spec_version=spec_version,
                    department=department,
                    content_hash=content_hash,
                    name=name,
                    rel_path=rel_path,
                    size=size,
                    status="claimed",
                    claimed_by=worker,
                    lease_until=lease,
                    attempts=1,
                    created_at=now,
                    updated_at=now,
                )
                s.add(doc)
                s.flush()
                return Claim("claimed", doc.id)
        except IntegrityError:
            pass
        with self.session() as s:
            doc = s.scalars(
                select(Document).where(
                    Document.spec_id == spec_id,
                    Document.spec_version == spec_version,
                    Document.content_hash == content_hash,
                )
            ).one()
            if doc.status == "drafted":
                return Claim("done", doc.id, doc.draft_stem, doc.status)
            live = doc.status == "claimed" and doc.lease_until is not None and doc.lease_until > now
            if live and not _claimant_is_dead(doc.claimed_by):
                return Claim("busy", doc.id)
            # Take over: a conditional update, so of two workers racing only one wins.
            res = s.execute(
                update(Document)
                .where(
                    Document.id == doc.id,
                    Document.status == doc.status,
                    Document.claimed_by.is_(None)
                    if doc.claimed_by is None
                    else Document.claimed_by == doc.claimed_by,
                )
                .values(
                    status="claimed",
                    claimed_by=worker,
                    lease_until=lease,
                    attempts=Document.attempts + 1,
                    name=name,
                    rel_path=rel_path,
                    updated_at=now,
                )
            )
            if res.rowcount != 1:
                return Claim("busy", doc.id)
            return Claim("claimed", doc.id, doc.draft_stem)

    def reserve_stem(self, document_id: int, stem: str) -> None:
        with self.session() as s:
            s.execute(update(Document).where(Document.id == document_id).values(draft_stem=stem))

    def count_duplicate(self, document_id: int) -> None:
        with self.session() as s:
            s.execute(
                update(Document).where(Document.id == document_id).values(duplicates=Document.duplicates + 1)
            )

    # -- outcomes -------------------------------------------------------------------------
    def _finish(self, document_id: int, **values: Any) -> None:
        now = utcnow()
        with self.session() as s:
            s.execute(
                update(Document)
                .where(Document.id == document_id)
                .values(claimed_by=None, lease_until=None, updated_at=now, **values)
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
    ) -> None:
        self._finish(
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

    def mark_archived(self, document_id: int, archive_path: Path) -> None:
        with self.session() as s:
            s.execute(update(Document).where(Document.id == document_id).values(archive_path=str(archive_path)))

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
            existing = s.scalars(
                select(Document).where(
                    Document.spec_id == spec_id,
                    Document.spec_version == spec_version,
                    Document.content_hash == key,
                )
            ).first()
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

    def record_calls(self, document_id: int, spec_id: str, spec_version: int, calls: list[ModelCall]) -> None:
        if not calls:
            return
        with self.session() as s:
            s.add_all(
                ModelCallRow(
                    document_id=document_id,
                    spec_id=spec_id,
                    spec_version=spec_version,
                    engine=c.engine,
                    model=c.model,
                    endpoint_host=c.endpoint_host,
                    purpose=c.purpose,
                    prompt_tokens=c.prompt_tokens,
                    completion_tokens=c.completion_tokens,
                    latency_ms=c.latency_ms,
                    outcome=c.outcome,
                    sent_sha256=c.sent_sha256,
                    masked_counts=dict(c.masked_counts),
                    created_at=utcnow(),
                )
                for c in calls
            )

    # -- reads ----------------------------------------------------------------------------
    def documents(self) -> list[Document]:
        with self.session() as s:
            return list(s.scalars(select(Document).order_by(Document.id)))

    def model_calls(self) -> list[ModelCallRow]:
        with self.session() as s:
            return list(s.scalars(select(ModelCallRow).order_by(ModelCallRow.id)))

    def finished_keys(self) -> set[tuple[str, int, str]]:
        """(spec, version, hash) of drafted documents: lets discovery skip known content cheaply."""
        with self.session() as s:
            rows = s.execute(
                select(Document.spec_id, Document.spec_version, Document.content_hash).where(
                    Document.status == "drafted"
                )
            )
            return {(r[0], r[1], r[2]) for r in rows}

    def dispose(self) -> None:
        self.engine.dispose()


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers work beside the writer; busy_timeout waits instead of failing.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
