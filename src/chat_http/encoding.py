"""Server events as JSON through msgspec: byte for byte what `chatcore.codec.encode_event` writes, faster.

The core encodes with cattrs and the json module (it may import nothing else); every sent message is
encoded once for all its recipients, and that was a visible share of a send. A test compares the two.
"""

from __future__ import annotations

import functools
import typing
from datetime import UTC, datetime
from typing import Any

import attrs
import msgspec

from chatcore.codec import event_payload
from chatcore.events import Event

_ENCODER = msgspec.json.Encoder()


@functools.cache
def _shape(cls: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """An event's (or view's) fields, and those holding times; their values are ints, strings, enums
    (msgspec writes their value), lists of ids or times, never nested objects (a test encodes every event)."""
    hints = typing.get_type_hints(cls)
    names = tuple(field.name for field in attrs.fields(cls))
    return names, tuple(name for name in names if "datetime" in str(hints[name]))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _plain(value: Any) -> dict[str, Any]:
    """Field order kept (msgspec would sort an attrs object's keys); times in UTC, as the core writes them."""
    cls: Any = type(value)
    names, times = _shape(cls)
    plain = {name: getattr(value, name) for name in names}
    for name in times:
        when = plain[name]
        if when is not None and when.tzinfo is not UTC:
            plain[name] = _utc(when)
    return plain


def encode_event(event: Event) -> bytes:
    return _ENCODER.encode({"type": event.type, "data": _plain(event_payload(event))})
