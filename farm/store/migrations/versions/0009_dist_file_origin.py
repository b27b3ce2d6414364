"""an index on dist_file (origin, project_id): the runtime lock reads the projects built, uploaded or from a Pyodide
distribution without scanning what is mirrored

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_dist_file_origin", "dist_file", ["origin", "project_id"])


def downgrade() -> None:
    op.drop_index("ix_dist_file_origin", "dist_file")
