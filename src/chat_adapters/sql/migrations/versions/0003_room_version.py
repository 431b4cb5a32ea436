"""chat_rooms.version: a counter bumped by every change to what a room list shows of the room.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from chat_adapters.sql.tables import migrating_layout

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    layout = migrating_layout()  # ALTER TABLE names the table itself: the schema map does not apply to it
    with op.batch_alter_table(layout.prefix + "chat_rooms", schema=layout.schema) as batch:
        batch.add_column(sa.Column("version", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    layout = migrating_layout()  # ALTER TABLE names the table itself: the schema map does not apply to it
    with op.batch_alter_table(layout.prefix + "chat_rooms", schema=layout.schema) as batch:
        batch.drop_column("version")
