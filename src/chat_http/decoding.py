"""Client frames through msgspec when they are plainly valid; anything else takes the core's own parser.

`chatcore.codec.parse_client_event` (json + cattrs; the core may import nothing else) took ~23 us per
`send_message` frame, ~5 % of the server's CPU per delivered message; this path takes ~7 us. It answers
only for frames it can vouch for: an object with exactly `type` and `data`, a known type, every field of
the command's type and in range, no NUL in a string. Everything else (any error, any doubt) goes to the
core's parser, so the error a client sees is always the core's. A test compares the two on random frames.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any

import attrs
import msgspec

from chatcore.codec import parse_client_event
from chatcore.commands import CLIENT_EVENTS, ClientCommand
from chatcore.model import MAX_ID

_ID = Annotated[int, msgspec.Meta(ge=-MAX_ID, le=MAX_ID)]  # the core's int rule: any int within BIGINT


class _Frame(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    data: msgspec.Raw = msgspec.Raw(b"null")


_FRAME = msgspec.json.Decoder(_Frame)


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


def _decoder(cls: type[ClientCommand]) -> tuple[msgspec.json.Decoder[Any], tuple[str, ...], tuple[str, ...]]:
    """A strict msgspec struct with the command's fields and defaults; and which of them hold strings."""
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
    struct = msgspec.defstruct(f"Wire{cls.__name__}", fields, forbid_unknown_fields=True)
    return msgspec.json.Decoder(struct), tuple(field.name for field in attrs.fields(cls)), tuple(strings)


# Built at import, so a command field of a type this module does not know fails at start-up, not per frame.
_DECODERS = {kind: (cls, *_decoder(cls)) for kind, cls in CLIENT_EVENTS.items()}


def _fast(raw: str) -> tuple[str, ClientCommand] | None:
    try:
        frame = _FRAME.decode(raw)
        known = _DECODERS.get(frame.type)
        if known is None:
            return None
        cls, decoder, names, strings = known
        data = b"{}" if bytes(frame.data) == b"null" else frame.data
        wire = decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # ValidationError is a DecodeError
        return None  # RecursionError: nested ~1,000 deep, which the core refuses past 32 levels
    for name in strings:
        value = getattr(wire, name)
        if value is not None and "\x00" in value:
            return None
    return frame.type, cls(**{name: getattr(wire, name) for name in names})


def decode_client_event(raw: str) -> tuple[str, ClientCommand]:
    """The frame's type and command, as `parse_client_event` gives them; its InvalidError otherwise."""
    return _fast(raw) or parse_client_event(raw)
