"""checks of the compatibility oracle

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compat_check",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project", sa.String(255), nullable=False),
        sa.Column("version", sa.String(128), nullable=True),
        sa.Column("runtime", sa.String(32), nullable=False),
        sa.Column("requirement", sa.Text(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("wheel_filename", sa.String(512), nullable=True),
        sa.Column("wheel_sha256", sa.String(64), nullable=True),
        sa.Column("input_key", sa.String(64), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("ran", sa.Boolean(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("log", sa.Text(), nullable=True),
        sa.Column("verdict", sa.Text(), nullable=False),
    )
    op.create_index("ix_compat_check_project_runtime", "compat_check", ["project", "runtime"])
    op.create_index("ix_compat_check_status", "compat_check", ["status"])
    op.create_index("ix_compat_check_input_key", "compat_check", ["input_key"])
    op.create_index("ix_compat_check_current", "compat_check", ["current"])


def downgrade() -> None:
    op.drop_table("compat_check")
