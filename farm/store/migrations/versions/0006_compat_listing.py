"""indexes for the /compat pages: current checks by project, status, runtime and time

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_compat_check_current_project", "compat_check", ["current", "project", "runtime"])
    op.create_index("ix_compat_check_current_status", "compat_check", ["current", "status", "project"])
    op.create_index("ix_compat_check_current_runtime", "compat_check", ["current", "runtime", "status"])
    op.create_index("ix_compat_check_current_checked", "compat_check", ["current", "checked_at"])


def downgrade() -> None:
    op.drop_index("ix_compat_check_current_checked", "compat_check")
    op.drop_index("ix_compat_check_current_runtime", "compat_check")
    op.drop_index("ix_compat_check_current_status", "compat_check")
    op.drop_index("ix_compat_check_current_project", "compat_check")
