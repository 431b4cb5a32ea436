"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Names take the layout's prefix (CHAT_TABLE_PREFIX): rewrite what autogenerate wrote as
`p = migrating_layout().prefix` (from chat_adapters.sql.tables), then `p + "chat_rooms"`, `op.f(f"ix_{p}...")`;
skip the `users` table unless `migrating_layout().own_users`. See 0001_initial_schema.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op
${imports if imports else ""}
revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
