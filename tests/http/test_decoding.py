"""The socket's msgspec frame decoder gives exactly the core parser's command, or leaves the frame to it."""

from __future__ import annotations

import json
import random
from typing import Any

import attrs
import pytest

from chat_http.wire import _fast, decode_client_event
from chatcore.codec import parse_client_event
from chatcore.commands import CLIENT_EVENTS, SendMessage
from chatcore.errors import InvalidError
from chatcore.model import MAX_ID, MessageType

STRINGS = [
    "",
    "hi",
    'quote " back \\ slash',
    "héllo ✓ 日本語 😀",
    "line\nbreak\ttab \u2028",
    "nul \x00 inside",
    "x" * 300,
]
NUMBERS: list[Any] = [0, 1, -1, 7, MAX_ID, -MAX_ID, MAX_ID + 1, -MAX_ID - 1, 2**70, 1.0, 1.5, 1e2, -0.0]
OTHERS: list[Any] = [None, True, False, [], {}, [1], {"a": 1}, "12", "text", "image", "voice", "nope"]


def _value(rng: random.Random) -> Any:
    return rng.choice([rng.choice(STRINGS), rng.choice(NUMBERS), rng.choice(OTHERS)])


def _plausible(rng: random.Random, kind: str) -> dict[str, Any]:
    """Mostly well-typed data for the command, with now and then a wrong value, a missing or unknown key."""
    data: dict[str, Any] = {}
    for field in attrs.fields(CLIENT_EVENTS[kind]):
        if rng.random() < 0.3:
            continue
        if field.name == "message_type":
            good: Any = rng.choice([t.value for t in MessageType])
        elif field.name == "is_typing":
            good = rng.random() < 0.5
        elif field.name.endswith(("_id", "_size")) and field.name not in ("client_msg_id", "upload_id"):
            good = rng.randrange(1, 10**6)
        else:
            good = rng.choice(STRINGS[:5])
        data[field.name] = good if rng.random() < 0.85 else _value(rng)
    for _ in range(rng.choice([0, 0, 0, 1, 2])):  # keys of a newer client: ignored by both
        data[rng.choice(["unknown", "reply_to", "colour", "\u00e9t\u00e9", "room"])] = rng.choice([*OTHERS, *NUMBERS])
    return data


def _frame(rng: random.Random) -> str:
    kind = rng.choice([*CLIENT_EVENTS, "nope"]) if rng.random() < 0.95 else _value(rng)
    frame: dict[str, Any] = {"type": kind}
    roll = rng.random()
    if roll < 0.8:
        frame["data"] = _plausible(rng, kind) if isinstance(kind, str) and kind in CLIENT_EVENTS else {}
    elif roll < 0.9:
        frame["data"] = _value(rng)
    if rng.random() < 0.1:
        frame["extra"] = rng.choice([[[[1]]], {"v": 2}, "x", None])
    text = json.dumps(frame, ensure_ascii=rng.random() < 0.5)
    if rng.random() < 0.05 and text.endswith("}"):  # an unknown key the core's json refuses or finds too deep
        text = text[:-1] + rng.choice([', "big": ' + "9" * 5000, ', "deep": ' + "[" * 33 + "]" * 33]) + "}"
    if rng.random() < 0.03 and text.endswith("}"):
        text = text[:-1] + ', "pad": "' + "p" * 5000 + '"}'  # a long frame: unknown keys take the core's path
    if rng.random() < 0.03:
        text = text[: rng.randrange(len(text))]  # truncated
    if rng.random() < 0.03:
        text = text.replace("1", "NaN", 1)
    return text


def _reference(raw: str) -> tuple[str, Any] | str:
    try:
        return parse_client_event(raw)
    except InvalidError as exc:
        return f"InvalidError: {exc.detail} ({exc.field})"


def _ours(raw: str) -> tuple[str, Any] | str:
    try:
        return decode_client_event(raw)
    except InvalidError as exc:
        return f"InvalidError: {exc.detail} ({exc.field})"


def test_random_frames_decode_as_the_core_parses_them() -> None:
    rng = random.Random(20261127)
    frames = [_frame(rng) for _ in range(3000)]
    fast = 0
    for raw in frames:
        assert _ours(raw) == _reference(raw), raw
        fast += _fast(raw) is not None
    assert 1000 < fast < 3000  # both paths were taken, many times


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "send_message", "data": {"content": "hi", "client_msg_id": "c1"}}',
        '{"type": "send_message", "data": {"room_id": 3, "receiver_id": 4, "message_type": "file",'
        ' "file_name": "a.pdf", "file_size": 12, "mime_type": "application/pdf", "upload_id": "u"}}',
        '{"type": "typing", "data": {"room_id": 3, "is_typing": false}}',
        '{"type": "join_room", "data": {"room_id": 9}}',
        '{"type": "leave_room"}',
        '{"type": "mark_read", "data": null}',
        '{"type": "ping", "data": {}}',
        '{"data": {"room_id": 1, "room_id": 2}, "type": "mark_read"}',  # the last of a repeated key, as json
        '{"type": "send_message", "data": {"content": "hi", "reply_to": {"id": 7, "q": [1, 2]}}, "v": 2}',
        '{"type": "typing", "data": {"room_id": 3, "colour": "red", "n": 1e400, "z": null}}',
        '{"type": "ping", "data": {"\\u00e9": "\\u0000"}, "trace": "abc"}',
    ],
)
def test_everyday_frames_take_the_fast_path(raw: str) -> None:
    decoded = _fast(raw)

    assert decoded is not None
    assert decoded == parse_client_event(raw)


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "send_message", "data": {"content": "nul \\u0000"}}',
        '{"type": "send_message", "data": {"content": "\\ud800"}}',
        '{"type": "send_message", "data": {"room_id": true}}',
        '{"type": "send_message", "data": {"room_id": 1e2}}',
        '{"type": "send_message", "data": {"file_size": 9223372036854775808}}',
        '{"type": "send_message", "data": {}, "x": ' + "[" * 40 + "1" + "]" * 40 + "}",
        '{"type": "send_message", "data": {"content": "x", "big": ' + "9" * 5000 + "}}",  # json refuses the int
        '{"type": "send_message", "data": {"content": "' + "x" * 5000 + '", "colour": "red"}}',  # long: core's
        '{"type": "ping", "data": {"x": "\\ud800"}}',
        '{"type": "join_room", "data": {}}',
        '{"type": "typing", "data": {"is_typing": null}}',
        '{"type": "send_message", "data": {"message_type": "video"}}',
        '{"type": "send_message", "data": [1]}',
        '{"type": 5}',
        "[1, 2]",
        '{"type": "ping", "data": {}',
        '{"type": "ping", "data": {"n": NaN}}',
        '{"type": "ping", "data": {"x": ' + "[" * 1000 + "]" * 1000 + "}}",  # msgspec: RecursionError
        '{"type": "mark_read", "data": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}",
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_anything_doubtful_is_left_to_the_core(raw: str) -> None:
    assert _fast(raw) is None
    assert _ours(raw) == _reference(raw)


def test_every_command_field_is_decoded() -> None:
    raw = json.dumps({"type": "send_message", "data": {field.name: None for field in attrs.fields(SendMessage)}})

    assert _fast(raw) is None  # message_type may not be null
    data = {field.name: "x" for field in attrs.fields(SendMessage)}
    data.update(room_id=1, receiver_id=2, file_size=3, message_type="voice", reply_to_id=4)
    decoded = _fast(json.dumps({"type": "send_message", "data": data}))
    assert decoded == ("send_message", SendMessage(**{**data, "message_type": MessageType.VOICE}))
