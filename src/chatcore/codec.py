"""The one cattrs setup for wire JSON: strict input, `Z` timestamps out, events encoded once."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any, TypeVar

import attrs
import cattrs

from chatcore.commands import CLIENT_EVENTS, ClientCommand
from chatcore.errors import InvalidError
from chatcore.events import Event, MessageUpdated, NewMessage
from chatcore.model import MAX_ID

T = TypeVar("T")

MAX_DEPTH = 32
MAX_REASON = 200  # characters of a refused value's reason


def _exactly(kind: type[T]) -> Callable[[Any, type], T]:
    """No coercion: type(v) is kind, so "12" is no int and true is no int either."""

    def hook(value: Any, _: type) -> T:
        if type(value) is not kind:
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return hook


def _int(value: Any, _: type) -> int:
    if type(value) is not int:
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    if not -MAX_ID <= value <= MAX_ID:
        raise ValueError("integer out of range")
    return value


def _str(value: Any, _: type) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("lone surrogates are not allowed") from None
    return value


def _utc_z(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def make_converter() -> cattrs.Converter:
    """Strict, for request bodies: an unknown key is an error."""
    return _converter(forbid_extra_keys=True)


@cache
def _converter(*, forbid_extra_keys: bool) -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=forbid_extra_keys)
    conv.register_structure_hook(int, _int)
    conv.register_structure_hook(str, _str)
    conv.register_structure_hook(bool, _exactly(bool))
    # An Enum subclass of str would otherwise take the str hook and let any string through.
    conv.register_structure_hook(StrEnum, lambda v, cls: cls(_str(v, str)))
    conv.register_unstructure_hook(datetime, _utc_z)
    return conv


def event_payload(event: Event) -> Any:
    """Message events carry the message itself as `data`, as the seed shows."""
    return event.message if isinstance(event, NewMessage | MessageUpdated) else event


def event_frame(event: Event) -> dict[str, Any]:
    return {"type": event.type, "data": make_converter().unstructure(event_payload(event))}


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def encode_event(event: Event) -> bytes:
    return dumps(event_frame(event))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def loads(raw: str | bytes) -> Any:
    """Strict JSON: no NaN/Infinity, bounded nesting."""
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise InvalidError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidError(f"body is not valid JSON: {exc}") from None
    if brackets(raw) > MAX_DEPTH and _depth(value) > MAX_DEPTH:  # no deeper than it has brackets
        raise InvalidError(f"JSON nested deeper than {MAX_DEPTH} levels")
    return value


def brackets(raw: str | bytes) -> int:
    """Opening brackets: an upper bound on how deep the JSON nests, counted in C."""
    if isinstance(raw, str):
        return raw.count("{") + raw.count("[")
    return raw.count(b"{") + raw.count(b"[")


def _printable(text: str) -> str:
    """Error text echoes client input: escape lone surrogates so the reply itself can be encoded."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def structure(data: Any, cls: type[T], *, where: str = "data", ignore_unknown: bool = False) -> T:
    """Structure wire data, turning cattrs' errors into one readable InvalidError; unknown keys are an error
    unless `ignore_unknown`."""
    if attrs.has(cls) and not isinstance(data, dict):
        raise InvalidError(f"{where} must be a JSON object", field=where)
    try:
        return _converter(forbid_extra_keys=not ignore_unknown).structure(data, cls)
    except cattrs.ClassValidationError as exc:
        messages = [_printable(m) for m in cattrs.transform_error(exc, path=f"$.{where}", format_exception=_reason)]
        field = _first_field(messages)
        raise InvalidError("; ".join(messages), field=field) from None
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidError(_printable(f"{where}: {exc}")) from None


def _reason(exc: BaseException, kind: type | None) -> str:
    """Why a value was refused, in the words of the hook that refused it ("NUL characters are not allowed");
    cattrs' own text otherwise, which says only "invalid value for type, expected str | None". Cut short, as
    it may quote the value ("'...' is not a valid MessageType")."""
    if type(exc) in (TypeError, ValueError) and exc.args:
        text = str(exc)
        return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
    return cattrs.v.format_exception(exc, kind)


def _first_field(messages: list[str]) -> str | None:
    for message in messages:
        _, _, path = message.rpartition(" @ $.")
        if path:
            return path.split(".")[-1].split("[")[0]
    return None


def parse_client_event(raw: str | bytes) -> tuple[str, ClientCommand]:
    """A client frame `{"type": ..., "data": {...}}` as its command; InvalidError says what is wrong.

    Keys the server does not know, in `data` or beside `type` and `data`, are ignored, so a newer client
    works with an older server; the known fields keep their strict types and values.
    """
    frame = loads(raw)
    if not isinstance(frame, dict):
        raise InvalidError("a frame must be a JSON object with 'type' and 'data'")
    kind = frame.get("type")
    if not isinstance(kind, str):
        raise InvalidError("the frame has no 'type'", field="type")
    cls = CLIENT_EVENTS.get(kind)
    if cls is None:
        raise InvalidError(f"unknown event type {kind!r}", field="type")
    data = frame.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidError("'data' must be an object", field="data")
    return kind, structure(data, cls, ignore_unknown=True)
