"""Documents and model calls.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("spec_id", sa.String(200), nullable=False),
        sa.Column("spec_version", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(80), nullable=False),
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("rel_path", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("detail", sa.Text),
        sa.Column("draft_stem", sa.Text),
        sa.Column("draft_md", sa.Text),
        sa.Column("draft_docx", sa.Text),
        sa.Column("archive_path", sa.Text),
        sa.Column("quarantine_path", sa.Text),
        sa.Column("engine", sa.String(40)),
        sa.Column("model", sa.String(200)),
        sa.Column("chunks", sa.Integer, nullable=False, server_default="0"),
        sa.Column("minutes_saved_est", sa.Float, nullable=False, server_default="0"),
        sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
        sa.Column("owner", sa.String(200)),
        sa.Column("claimed_by", sa.String(200)),
        sa.Column("lease_until", sa.DateTime),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.UniqueConstraint("spec_id", "spec_version", "content_hash", name="uq_documents_key"),
    )
    op.create_index("ix_documents_status", "documents", ["status"])
    op.create_table(
        "model_calls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("document_id", sa.Integer, sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("spec_id", sa.String(200), nullable=False),
        sa.Column("spec_version", sa.Integer, nullable=False),
        sa.Column("engine", sa.String(40), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("endpoint_host", sa.String(300), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("completion_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("latency_ms", sa.Integer, nullable=False, server_default="0"),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("sent_sha256", sa.String(80), nullable=False),
        sa.Column("masked_counts", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_model_calls_document", "model_calls", ["document_id"])


def downgrade() -> None:
    op.drop_table("model_calls")
    op.drop_table("documents")
