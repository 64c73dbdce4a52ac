"""Typed data passed between pipeline steps (discover -> extract -> guard -> generate -> render -> publish).

Every step takes and returns these models, never loose dicts, so a step can be tested alone
and the flow only has to compose them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=False, extra="forbid", arbitrary_types_allowed=True)


class RefusalKind(StrEnum):
    """Why a file could not be turned into a draft. Each kind has a Japanese reason (errors.py)."""

    EMPTY = "empty"
    CORRUPT = "corrupt"
    TRUNCATED = "truncated"
    ENCRYPTED = "encrypted"
    SCANNED = "scanned"  # no text layer; OCR not supported yet
    UNSUPPORTED_TYPE = "unsupported_type"
    ENCODING = "encoding"  # unreadable text encoding / binary content
    TOO_LARGE = "too_large"
    ZIP_BOMB = "zip_bomb"
    TIMEOUT = "timeout"  # parser exceeded its time or memory bound
    LINK_OUTSIDE = "link_outside"  # symlink pointing outside the workspace
    CONFIDENTIAL = "confidential"  # blocked by a confidentiality policy (guard)
    NAME_TOO_LONG = "name_too_long"


class DiscoveredFile(_Model):
    """A candidate file found in a spec's inbox, not yet read."""

    spec_id: str
    path: Path  # on-disk path (may be NFD); always open by this
    name_nfc: str  # NFC-normalised file name, used as the logical key
    rel_nfc: str  # NFC path relative to the inbox (sub-folders allowed)
    size: int
    mtime_ns: int
    is_link: bool = False
    link_target: Path | None = None  # resolved target when is_link


class ExtractedDocument(_Model):
    """Plain text pulled out of a file, in reading order."""

    text: str
    source_type: str  # "docx" | "pdf" | "txt" | "md"
    pages: int | None = None  # PDFs: number of pages read
    encoding: str | None = None  # text files: the encoding that decoded it
    warnings: list[str] = Field(default_factory=list)  # Japanese, shown in the draft
    ocr_text: str | None = None  # read by OCR: kept beside the draft as <stem>.ocr.txt


class ModelCall(_Model):
    """One request to a model endpoint, as recorded in the store (never the prompt itself)."""

    engine: str
    model: str
    endpoint_host: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    outcome: str = "ok"  # ok | error | retry
    purpose: str = "single"  # single | map | reduce
    sent_sha256: str = ""  # hash of what was sent, for the audit trail
    masked_counts: dict[str, int] = Field(default_factory=dict)


class GenerationResult(_Model):
    """The structured output of an engine for one document, validated against the spec schema."""

    output: dict[str, Any]  # validated by the spec's output model; field name -> value
    engine: str  # "openai" | "offline"
    model: str
    calls: list[ModelCall] = Field(default_factory=list)
    chunks: int = 1
    needs_review_reason: str | None = None  # set when the output could not be fully parsed


class RenderedDraft(_Model):
    """Bytes of the draft files, not yet written."""

    stem: str  # safe file stem for outputs
    markdown: str
    docx_bytes: bytes


class DraftPaths(_Model):
    md: Path
    docx: Path


class DocumentOutcome(_Model):
    """What happened to one discovered file."""

    spec_id: str
    name: str  # NFC name
    status: str  # drafted | quarantined | duplicate | skipped | pending
    reason: str | None = None  # Japanese, for quarantined/skipped/pending
    draft: DraftPaths | None = None
    minutes_saved: float = 0.0
    content_hash: str | None = None
    finished_at: datetime | None = None


class DraftMeta(_Model):
    """What the draft header says about where it came from."""

    source_name: str  # NFC name of the original file
    spec_id: str
    spec_version: int
    spec_title: str
    department_name: str
    engine: str
    model: str
    created_at: datetime
    offline: bool = False  # True: say clearly it is offline extractive output, not a model's
    warnings: list[str] = Field(default_factory=list)  # Japanese lines shown under the banner
    needs_review_reason: str | None = None
    source_heading: str | None = None  # the source's own title line, for the draft's title


class FeedbackTally(_Model):
    """The verdicts one batch's feedback scan recorded (drafts moved into 採用 / 不採用)."""

    adopted: int = 0
    rejected: int = 0
    minutes_reports: int = 0  # adopted verdicts that said how many minutes were spent (採用/20分/)
    minutes_total: float = 0.0

    @property
    def recorded(self) -> int:
        return self.adopted + self.rejected


class BatchSummary(_Model):
    """The closing summary of one intake run."""

    workspace: str
    engine: str
    model: str
    outcomes: list[DocumentOutcome] = Field(default_factory=list)
    stopped_reason: str | None = None  # set when the batch had to stop (e.g. quota exhausted)
    seconds: float = 0.0
    feedback: FeedbackTally = Field(default_factory=FeedbackTally)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def minutes_saved(self) -> float:
        return sum(o.minutes_saved for o in self.outcomes)
