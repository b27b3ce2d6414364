"""batch scans kept in the database and run as jobs (compat_scan, compat_scan_batch)

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compat_scan",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("runtimes", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_compat_scan_key", "compat_scan", ["key"])
    op.create_index("ix_compat_scan_state", "compat_scan", ["state"])
    active = sa.text("state IN ('queued', 'running')")
    op.create_index(
        "ux_compat_scan_active_key", "compat_scan", ["key"], unique=True, sqlite_where=active, postgresql_where=active
    )
    op.create_table(
        "compat_scan_batch",
        sa.Column("scan_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("requirements", sa.Text(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("scan_id", "number"),
    )
    op.create_index("ix_compat_scan_batch_state", "compat_scan_batch", ["state"])


def downgrade() -> None:
    op.drop_index("ix_compat_scan_batch_state", table_name="compat_scan_batch")
    op.drop_table("compat_scan_batch")
    op.drop_index("ux_compat_scan_active_key", table_name="compat_scan")
    op.drop_index("ix_compat_scan_state", table_name="compat_scan")
    op.drop_index("ix_compat_scan_key", table_name="compat_scan")
    op.drop_table("compat_scan")
