"""Uploads streamed ahead of their message: chat_uploads.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

from chat_adapters.sql.tables import migrating_layout

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    p = migrating_layout().prefix
    op.create_table(
        p + "chat_uploads",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("storage_key", sa.String(1024), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("mime_type", sa.String(255), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{p}chat_uploads")),
    )
    op.create_index(op.f(f"ix_{p}chat_uploads_created_at"), p + "chat_uploads", ["created_at"])
    op.create_index(op.f(f"ix_{p}chat_uploads_storage_key"), p + "chat_uploads", ["storage_key"])


def downgrade() -> None:
    p = migrating_layout().prefix
    op.drop_index(op.f(f"ix_{p}chat_uploads_storage_key"), table_name=p + "chat_uploads")
    op.drop_index(op.f(f"ix_{p}chat_uploads_created_at"), table_name=p + "chat_uploads")
    op.drop_table(p + "chat_uploads")
