"""The msgspec twin of `chatcore.codec` at the socket's edge: server events out, client frames in.

Out: server events as JSON through msgspec, byte for byte what `chatcore.codec.encode_event` writes, faster.
The core encodes with cattrs and the json module (it may import nothing else); every sent message is
encoded once for all its recipients, and that was a visible share of a send. A test compares the two.

In: Client frames through msgspec when they are plainly valid; anything else takes the core's own parser.

`chatcore.codec.parse_client_event` (json + cattrs; the core may import nothing else) cost a visible share of
the server's CPU per delivered message; this path takes a third of its time. It answers
only for frames it can vouch for: an object with `type` and `data`, a known type, every field of the
command's type and in range, no NUL in a string. Everything else (any error, any doubt) goes to the
core's parser, so the error a client sees is always the core's. A test compares the two on random frames.

Unknown keys are ignored, as the core ignores them. msgspec skips them unread, while the core's json still
parses them and refuses nesting deeper than 32 levels or an int of more digits than Python converts; so
they are skipped here only in a frame too short to hold such an int and with too few brackets to nest that
deep. A longer frame with an unknown key is left to the core.
"""

from __future__ import annotations

import functools
import sys
import typing
from datetime import UTC, datetime
from typing import Annotated, Any

import attrs
import msgspec

from chatcore.codec import MAX_DEPTH, brackets, event_payload, parse_client_event
from chatcore.commands import CLIENT_EVENTS, ClientCommand
from chatcore.events import Event
from chatcore.model import MAX_ID

_ENCODER = msgspec.json.Encoder()


@functools.cache
def _shape(cls: Any) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """An event's (or view's) fields, those holding times, and those holding attrs objects or lists of them
    (a group's member cards, a system message's `system`); the rest are ints, strings, enums (msgspec writes
    their value) and lists of ids (a test encodes every event)."""
    hints = typing.get_type_hints(cls)
    names = tuple(field.name for field in attrs.fields(cls))

    def nested(hint: Any) -> bool:
        return any(attrs.has(arg) or nested(arg) for arg in typing.get_args(hint)) or attrs.has(hint)

    times = tuple(name for name in names if "datetime" in str(hints[name]) and not nested(hints[name]))
    return names, times, tuple(name for name in names if nested(hints[name]))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _plain(value: Any) -> dict[str, Any]:
    """Field order kept (msgspec would sort an attrs object's keys); times in UTC, as the core writes them."""
    cls: Any = type(value)
    names, times, nested = _shape(cls)
    plain = {name: getattr(value, name) for name in names}
    for name in times:
        when = plain[name]
        if when is not None and when.tzinfo is not UTC:
            plain[name] = _utc(when)
    for name in nested:
        inner = plain[name]
        if isinstance(inner, list):
            plain[name] = [_plain(item) for item in inner]
        elif inner is not None:
            plain[name] = _plain(inner)
    return plain


def encode_event(event: Event) -> bytes:
    return _ENCODER.encode({"type": event.type, "data": _plain(event_payload(event))})


_ID = Annotated[int, msgspec.Meta(ge=-MAX_ID, le=MAX_ID)]  # the core's int rule: any int within BIGINT


class _Frame(msgspec.Struct):
    type: str
    data: msgspec.Raw = msgspec.Raw(b"null")


class _StrictFrame(_Frame, forbid_unknown_fields=True):
    pass


_FRAMES = (msgspec.json.Decoder(_StrictFrame), msgspec.json.Decoder(_Frame))


def _wire_type(hint: Any) -> Any:
    """A command field's type for msgspec: ids (NewTypes of int) and ints get the core's range."""
    args = typing.get_args(hint)
    if args and type(None) in args:
        (inner,) = (arg for arg in args if arg is not type(None))
        return _wire_type(inner) | None
    base = getattr(hint, "__supertype__", hint)
    if base is int:
        return _ID
    if base in (str, bool) or (isinstance(base, type) and issubclass(base, str)):  # str, bool, StrEnum
        return base
    raise TypeError(f"no wire type for {hint!r}")


@attrs.frozen
class _Command:
    cls: type[ClientCommand]
    decoders: tuple[msgspec.json.Decoder[Any], msgspec.json.Decoder[Any]]  # refusing, ignoring unknown keys
    names: tuple[str, ...]
    strings: tuple[str, ...]  # the fields that hold strings


def _command(cls: type[ClientCommand]) -> _Command:
    """msgspec structs with the command's fields and defaults."""
    hints = typing.get_type_hints(cls)
    fields: list[Any] = []
    strings = []
    for field in attrs.fields(cls):
        kind = _wire_type(hints[field.name])
        if field.default is attrs.NOTHING:
            fields.append((field.name, kind))
        else:
            fields.append((field.name, kind, field.default))
        if str in (typing.get_args(kind) or (kind,)):
            strings.append(field.name)
    strict = msgspec.defstruct(f"Strict{cls.__name__}", fields, forbid_unknown_fields=True)
    lenient = msgspec.defstruct(f"Wire{cls.__name__}", fields)
    return _Command(
        cls=cls,
        decoders=(msgspec.json.Decoder(strict), msgspec.json.Decoder(lenient)),
        names=tuple(field.name for field in attrs.fields(cls)),
        strings=tuple(strings),
    )


# Built at import, so a command field of a type this module does not know fails at start-up, not per frame.
_COMMANDS = {kind: _command(cls) for kind, cls in CLIENT_EVENTS.items()}


def _may_skip_unknown(raw: str) -> bool:
    """Too short for an int json.loads refuses (sys.get_int_max_str_digits, 4300 by default), and too few
    brackets to nest deeper than the core allows."""
    return len(raw) <= (sys.get_int_max_str_digits() or len(raw)) and brackets(raw) <= MAX_DEPTH


def _fast(raw: str) -> tuple[str, ClientCommand] | None:
    lenient = _may_skip_unknown(raw)
    try:
        frame = _FRAMES[lenient].decode(raw)
        known = _COMMANDS.get(frame.type)
        if known is None:
            return None
        data = b"{}" if bytes(frame.data) == b"null" else frame.data
        wire = known.decoders[lenient].decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # ValidationError is a DecodeError
        return None  # RecursionError: nested ~1,000 deep, which the core refuses past 32 levels
    for name in known.strings:
        value = getattr(wire, name)
        if value is not None and "\x00" in value:
            return None
    return frame.type, known.cls(**{name: getattr(wire, name) for name in known.names})


def decode_client_event(raw: str) -> tuple[str, ClientCommand]:
    """The frame's type and command, as `parse_client_event` gives them; its InvalidError otherwise."""
    return _fast(raw) or parse_client_event(raw)
