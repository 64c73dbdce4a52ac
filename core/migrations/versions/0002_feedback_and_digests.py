"""Feedback on drafts (採用 / 不採用) and the weekly digest send record.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("document_id", sa.Integer, sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("verdict", sa.String(20), nullable=False),
        sa.Column("minutes_spent", sa.Float),
        sa.Column("baseline_minutes", sa.Float),
        sa.Column("owner", sa.String(200)),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("path", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("document_id", name="uq_feedback_document"),
    )
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("week", sa.String(10), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("recipients", sa.JSON, nullable=False),
        sa.Column("message_id", sa.String(300)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("started_at", sa.DateTime),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("week", name="uq_digests_week"),
    )


def downgrade() -> None:
    op.drop_table("digests")
    op.drop_table("feedback")
