"""import names of wheels (for pyodide-lock.json 'imports')

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dist_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("import_names", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dist_file", schema=None) as batch_op:
        batch_op.drop_column("import_names")
