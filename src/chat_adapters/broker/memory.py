"""The single-process broker and live state: the same classes the core's tests use, as they are complete."""

from chatcore.presence import MemoryLiveState
from chatcore.testing import MemoryBroker as InMemoryBroker

__all__ = ["InMemoryBroker", "MemoryLiveState"]
