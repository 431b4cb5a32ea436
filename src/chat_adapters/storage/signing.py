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
        message = f"{key}\n{expires}".encode("utf-8", "surrogatepass")  # any text a URL can carry
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def sign(self, key: str, *, expires_at: float) -> str:
        expires = int(expires_at)
        return f"{self.base_path}/{quote(key)}?expires={expires}&sig={self._signature(key, expires)}"

    def verify(self, key: str, expires: str | None, signature: str | None, *, now: float | None = None) -> bool:
        """True only for an unexpired URL signed with our key for exactly this file; False for any other text.

        ASCII only: `"²".isdigit()` holds but int() refuses it, and compare_digest raises on non-ASCII str.
        """
        if not (expires and signature and len(expires) <= 12 and (expires + signature).isascii() and expires.isdigit()):
            return False
        if int(expires) < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(self._signature(key, int(expires)), signature)
