"""Implementations of chatcore's ports: SQL, file storage, brokers, user directories, clock and ids.

A host building `ChatService` itself picks from here (names load on first use, so importing one adapter does not
pull in every driver):

- SQL (see `chat_adapters.sql`): `SqlDatabase` (the unit of work), `SqlUserDirectory` (the chat's own users);
- `HostUserDirectory` + `UserColumns`: the host's existing users table, read only;
- storage: `LocalStorage` (signed links through `UrlSigner`), `S3Storage`;
- brokers and live state: `MemoryBroker` + `MemoryLiveState` (one process), `open_redis` (many);
- `SystemClock`, `UuidIds`;
- `spelled_emoji`: ChatService's `is_emoji` (which reactions are one emoji).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chat_adapters.broker.memory import MemoryBroker, MemoryLiveState
    from chat_adapters.broker.redis import RedisBroker, RedisLiveState, open_redis
    from chat_adapters.emojis import spelled_emoji
    from chat_adapters.sql.host_users import HostTableError, HostUserDirectory, UserColumns
    from chat_adapters.sql.store import SqlDatabase
    from chat_adapters.sql.users import SqlUserDirectory
    from chat_adapters.storage.local import LocalStorage
    from chat_adapters.storage.s3 import S3Storage
    from chat_adapters.storage.signing import UrlSigner
    from chat_adapters.system import SystemClock, UuidIds

_WHERE = {
    "MemoryBroker": "chat_adapters.broker.memory",
    "MemoryLiveState": "chat_adapters.broker.memory",
    "RedisBroker": "chat_adapters.broker.redis",
    "RedisLiveState": "chat_adapters.broker.redis",
    "open_redis": "chat_adapters.broker.redis",
    "spelled_emoji": "chat_adapters.emojis",
    "HostTableError": "chat_adapters.sql.host_users",
    "HostUserDirectory": "chat_adapters.sql.host_users",
    "UserColumns": "chat_adapters.sql.host_users",
    "SqlDatabase": "chat_adapters.sql.store",
    "LocalStorage": "chat_adapters.storage.local",
    "S3Storage": "chat_adapters.storage.s3",
    "UrlSigner": "chat_adapters.storage.signing",
    "SystemClock": "chat_adapters.system",
    "UuidIds": "chat_adapters.system",
    "SqlUserDirectory": "chat_adapters.sql.users",
}

__all__ = [
    "HostTableError",
    "HostUserDirectory",
    "LocalStorage",
    "MemoryBroker",
    "MemoryLiveState",
    "RedisBroker",
    "RedisLiveState",
    "S3Storage",
    "SqlDatabase",
    "SqlUserDirectory",
    "SystemClock",
    "UrlSigner",
    "UserColumns",
    "UuidIds",
    "open_redis",
    "spelled_emoji",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'chat_adapters' has no attribute {name!r}")
