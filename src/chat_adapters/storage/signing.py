"""HMAC-signed, expiring URLs for files served by the service itself."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote


class UrlSigner:
    def __init__(self, key: bytes, *, base_path: str = "/static/chat_files") -> None:
        self._key = key
        self.base_path = base_path.rstrip("/")

    def _signature(self, key: str, expires: int) -> str:
        return hmac.new(self._key, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def sign(self, key: str, *, expires_at: float) -> str:
        expires = int(expires_at)
        return f"{self.base_path}/{quote(key)}?expires={expires}&sig={self._signature(key, expires)}"

    def verify(self, key: str, expires: str | None, signature: str | None, *, now: float | None = None) -> bool:
        """True only for an unexpired URL signed with our key for exactly this file."""
        if not expires or not signature or not expires.isdigit() or len(expires) > 12:
            return False
        if int(expires) < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(self._signature(key, int(expires)), signature)
