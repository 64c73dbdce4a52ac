"""The file's mtime beside its size and path, so a rescan recognises a file it has drafted without
reading it again (hashing a 10,000-file backlog on a share is what this avoids).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("mtime_ns", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("mtime_ns")
