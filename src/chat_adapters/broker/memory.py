"""The single-process broker and live state: complete, so the core's tests use the very same classes."""

from chatcore.broker import MemoryBroker
from chatcore.presence import MemoryLiveState

__all__ = ["MemoryBroker", "MemoryLiveState"]
