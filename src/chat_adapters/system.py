"""The real clock and id source."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidIds:
    def uuid4(self) -> str:
        return uuid.uuid4().hex
