"""What people did with a draft, and word where they work:
- `draft_texts`: the text of each draft as teichaku wrote it (never read back from the share, where
  people edit it), so an adopted version can be compared with it;
- `feedback.reason` (a rejection reason: the 不採用/<reason>/ folder or `--reason`),
  `feedback.retention` / `edit_chars` (how much of the draft survived, how big the edit was),
  `feedback.compared` (which file version was compared, so a rescan does not compare again) and
  `feedback.matched_by` (name: one of our drafts; content: a final document matched to its draft);
- `notifications`: one row per webhook event, the exactly-once record (like `digests`).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "draft_texts",
        sa.Column("document_id", sa.Integer, sa.ForeignKey("documents.id"), primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("reason", sa.String(200), nullable=True))
        batch.add_column(sa.Column("retention", sa.Float, nullable=True))
        batch.add_column(sa.Column("edit_chars", sa.Integer, nullable=True))
        batch.add_column(sa.Column("compared", sa.Text, nullable=True))
        batch.add_column(sa.Column("matched_by", sa.String(20), nullable=True))
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("event_key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("department", sa.String(100)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("event_key", name="uq_notifications_event"),
    )
    op.create_index("ix_notifications_status", "notifications", ["status"])


def downgrade() -> None:
    op.drop_index("ix_notifications_status", "notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("feedback") as batch:
        for name in ("matched_by", "compared", "edit_chars", "retention", "reason"):
            batch.drop_column(name)
    op.drop_table("draft_texts")
