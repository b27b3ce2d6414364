"""kept checks sort by version in PEP 440 order: a version key column (farm.store.version_key), filled for old rows

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from farm.store.version_key import MAX_LENGTH, version_key

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("compat_check", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version_key", sa.String(MAX_LENGTH), nullable=False, server_default=""))
    bind = op.get_bind()
    table = sa.table("compat_check", sa.column("version", sa.String), sa.column("version_key", sa.String))
    versions = [v for (v,) in bind.execute(sa.select(table.c.version).distinct()) if v]
    for version in versions:  # one statement per distinct version (few), not per row
        bind.execute(table.update().where(table.c.version == version).values(version_key=version_key(version)))
    op.create_index("ix_compat_check_current_version", "compat_check", ["current", "version_key"])


def downgrade() -> None:
    op.drop_index("ix_compat_check_current_version", "compat_check")
    with op.batch_alter_table("compat_check", schema=None) as batch_op:
        batch_op.drop_column("version_key")
