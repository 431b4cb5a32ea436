"""The wire codec: client frames are taken strictly, never coerced; server events come out with `Z` times."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chatcore import (
    InvalidError,
    JoinRoom,
    LeaveRoom,
    MarkRead,
    MessageDeleted,
    MessageId,
    MessagesRead,
    MessageType,
    Ping,
    PresenceChanged,
    RoomId,
    SendMessage,
    SetTyping,
    Typing,
    UserId,
)
from chatcore.codec import MAX_DEPTH, dumps, encode_event, loads, make_converter, parse_client_event, structure
from chatcore.events import Event


def frame(kind: str, data: object) -> str:
    return json.dumps({"type": kind, "data": data})


def refused(raw: str | bytes) -> InvalidError:
    with pytest.raises(InvalidError) as raised:
        parse_client_event(raw)
    raised.value.detail.encode("utf-8")  # an error can always be sent back
    return raised.value


# -- accepted frames ------------------------------------------------------------------------------


def test_a_send_message_frame_becomes_its_command() -> None:
    data = {
        "room_id": 1,
        "receiver_id": 2,
        "message_type": "image",
        "file_data": "iVBORw0KGgo=",
        "file_name": "photo.jpg",
        "file_size": 245760,
        "mime_type": "image/jpeg",
        "client_msg_id": "c-1",
    }

    kind, command = parse_client_event(frame("send_message", data))

    assert kind == "send_message"
    assert command == SendMessage(
        room_id=RoomId(1),
        receiver_id=UserId(2),
        message_type=MessageType.IMAGE,
        file_data="iVBORw0KGgo=",
        file_name="photo.jpg",
        file_size=245760,
        mime_type="image/jpeg",
        client_msg_id="c-1",
    )


def test_a_text_message_frame_without_room_or_type_takes_the_defaults() -> None:
    _, command = parse_client_event(frame("send_message", {"receiver_id": 2, "content": "Hello there!"}))

    assert command == SendMessage(receiver_id=UserId(2), message_type=MessageType.TEXT, content="Hello there!")


def test_nulls_are_accepted_for_optional_fields() -> None:
    _, command = parse_client_event(frame("send_message", {"room_id": None, "content": "hi", "file_name": None}))

    assert command == SendMessage(content="hi")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            frame("typing", {"room_id": 1, "is_typing": False}),
            ("typing", SetTyping(room_id=RoomId(1), is_typing=False)),
        ),
        (frame("join_room", {"room_id": 1}), ("join_room", JoinRoom(room_id=RoomId(1)))),
        (frame("leave_room", {}), ("leave_room", LeaveRoom())),
        (frame("mark_read", {"room_id": 3}), ("mark_read", MarkRead(room_id=RoomId(3)))),
        ('{"type": "ping"}', ("ping", Ping())),
        ('{"type": "ping", "data": null}', ("ping", Ping())),
        (b'{"type": "ping", "data": {}}', ("ping", Ping())),
    ],
)
def test_every_client_event_type_is_understood(raw: str | bytes, expected: tuple[str, object]) -> None:
    assert parse_client_event(raw) == expected


def test_the_largest_id_is_accepted() -> None:
    _, command = parse_client_event(frame("join_room", {"room_id": 2**63 - 1}))

    assert command == JoinRoom(room_id=RoomId(2**63 - 1))


def test_unicode_text_is_kept_as_is() -> None:
    _, command = parse_client_event(frame("send_message", {"content": "Grüße 👋 \u200b"}))

    assert isinstance(command, SendMessage)
    assert command.content == "Grüße 👋 \u200b"


# -- refused frames -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({"room_id": "12"}, "room_id", id="string-for-int"),
        pytest.param({"room_id": True}, "room_id", id="bool-for-int"),
        pytest.param({"room_id": 1.9}, "room_id", id="float-for-int"),
        pytest.param({"room_id": 1.0}, "room_id", id="whole-float-for-int"),
        pytest.param({"room_id": [1]}, "room_id", id="list-for-int"),
        pytest.param({"receiver_id": "2"}, "receiver_id", id="string-for-receiver"),
        pytest.param({"file_size": "1024"}, "file_size", id="string-for-size"),
        pytest.param({"content": 12}, "content", id="int-for-string"),
        pytest.param({"content": None, "file_name": False}, "file_name", id="bool-for-string"),
        pytest.param({"message_type": "gif"}, "message_type", id="unknown-message-type"),
        pytest.param({"message_type": "TEXT"}, "message_type", id="message-type-is-case-sensitive"),
        pytest.param({"message_type": 1}, "message_type", id="int-for-message-type"),
        pytest.param({"room_id": 2**63}, "room_id", id="id-beyond-2-63"),
        pytest.param({"room_id": -(2**63) - 1}, "room_id", id="id-below-minus-2-63"),
        pytest.param({"room_id": 10**30}, "room_id", id="huge-id"),
        pytest.param({"content": "\ud800"}, "content", id="lone-surrogate"),
        pytest.param({"content": "a\udfffb"}, "content", id="lone-low-surrogate"),
        pytest.param({"content": "a\x00b"}, "content", id="nul-in-text"),
        pytest.param({"file_name": "x\x00.png"}, "file_name", id="nul-in-name"),
    ],
)
def test_send_message_fields_are_never_coerced(data: dict[str, object], field: str) -> None:
    error = refused(frame("send_message", data))

    assert error.field == field
    assert f"$.data.{field}" in error.detail
    assert error.code == "invalid"


@pytest.mark.parametrize("value", [1, 0, "true", None])
def test_is_typing_must_be_a_boolean(value: object) -> None:
    assert refused(frame("typing", {"room_id": 1, "is_typing": value})).field == "is_typing"


def test_a_missing_required_field_is_named() -> None:
    error = refused(frame("join_room", {}))

    assert error.field == "room_id"
    assert "required field missing" in error.detail


def test_unknown_keys_are_ignored_so_clients_can_evolve() -> None:
    raw = json.dumps(
        {
            "type": "send_message",
            "data": {"content": "hi", "reply_to": {"id": 5, "quote": [1, [2]]}, "is_admin": True, "z": None},
            "v": 2,
            "trace": {"id": "abc"},
        }
    )

    assert parse_client_event(raw) == ("send_message", SendMessage(content="hi"))
    assert parse_client_event('{"type": "ping", "data": {"\\ud800": "\\udfff", "n": 1e400}}') == ("ping", Ping())
    assert parse_client_event(frame("join_room", {"room_id": 1, "room": "x"})) == (
        "join_room",
        JoinRoom(room_id=RoomId(1)),
    )


def test_known_fields_stay_strict_beside_unknown_ones() -> None:
    error = refused(frame("send_message", {"content": "hi", "room_id": "1", "colour": "red"}))

    assert error.field == "room_id"
    assert "expected an integer, got str @ $.data.room_id" in error.detail
    assert refused(frame("join_room", {"room": 1})).field == "room_id"  # a misspelt required field is missing


def test_unknown_keys_still_count_towards_the_nesting_limit() -> None:
    deep: object = 1
    for _ in range(MAX_DEPTH):
        deep = [deep]

    assert "nested deeper than 32" in refused(json.dumps({"type": "ping", "data": {}, "x": deep})).detail
    assert "not valid JSON" in refused('{"type": "ping", "data": {"n": NaN}}').detail


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"message_type": "file", "file_name": "cv\x00.pdf"}, "file_name", "NUL characters are not allowed"),
        ({"content": "a\x00b"}, "content", "NUL characters are not allowed"),
        ({"client_msg_id": "\ud800"}, "client_msg_id", "lone surrogates are not allowed"),
        ({"room_id": 2**63}, "room_id", "integer out of range"),
        ({"message_type": "gif"}, "message_type", "'gif' is not a valid MessageType"),
    ],
)
def test_a_refused_value_is_named_with_the_reason(data: dict[str, object], field: str, reason: str) -> None:
    """A NUL in file_name said only "invalid value for type, expected str | None"."""
    error = refused(frame("send_message", data))

    assert error.field == field
    assert error.detail == f"{reason} @ $.data.{field}"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(constant: str) -> None:
    error = refused(f'{{"type": "send_message", "data": {{"file_size": {constant}}}}}')

    assert "not valid JSON" in error.detail


def test_an_integer_with_thousands_of_digits_is_refused_without_a_crash() -> None:
    assert "not valid JSON" in refused('{"type": "join_room", "data": {"room_id": ' + "9" * 5000 + "}}").detail


def test_a_float_too_large_for_json_is_refused_for_an_int_field() -> None:
    assert refused('{"type": "send_message", "data": {"file_size": 1e400}}').field == "file_size"


def test_nesting_deeper_than_thirty_two_levels_is_refused() -> None:
    deep: object = 1
    for _ in range(MAX_DEPTH):
        deep = [deep]

    error = refused(frame("ping", {"x": deep}))

    assert "nested deeper than 32" in error.detail


def test_pathologically_deep_nesting_is_refused_without_a_crash() -> None:
    error = refused('{"type": "ping", "data": ' + "[" * 100_000 + "]" * 100_000 + "}")

    assert "nested deeper than 32" in error.detail


def test_nesting_of_exactly_thirty_two_levels_is_valid_json() -> None:
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(InvalidError):
        loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    assert loads('{"a": {"b": []}}') == {"a": {"b": []}}


def test_an_unknown_event_type_is_refused_by_name() -> None:
    error = refused(frame("delete_everything", {}))

    assert error.field == "type"
    assert "'delete_everything'" in error.detail


def test_an_unknown_event_type_with_a_lone_surrogate_gives_an_error_that_can_be_sent() -> None:
    assert refused('{"type": "\\ud800", "data": {}}').field == "type"


@pytest.mark.parametrize("raw", ['{"data": {}}', '{"type": 5, "data": {}}', '{"type": null}'])
def test_a_frame_without_a_string_type_is_refused(raw: str) -> None:
    assert refused(raw).field == "type"


@pytest.mark.parametrize("raw", ["[]", '["send_message", {}]', '"ping"', "42", "null", "true"])
def test_a_frame_that_is_not_an_object_is_refused(raw: str) -> None:
    assert "JSON object" in refused(raw).detail


@pytest.mark.parametrize("data", [[], "room 1", 1, True])
def test_data_that_is_not_an_object_is_refused(data: object) -> None:
    assert refused(frame("join_room", data)).field == "data"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="empty"),
        pytest.param("{", id="truncated"),
        pytest.param("{'type': 'ping'}", id="single-quotes"),
        pytest.param(b"\xff\xfe{", id="not-utf8"),
        pytest.param('{"type": "ping"} trailing', id="trailing-text"),
    ],
)
def test_text_that_is_not_json_is_refused(raw: str | bytes) -> None:
    assert "not valid JSON" in refused(raw).detail


def test_structure_refuses_a_body_that_is_not_an_object() -> None:
    for body in ([1], "x", None, 3):
        with pytest.raises(InvalidError) as raised:
            structure(body, JoinRoom, where="body")
        assert raised.value.field == "body"


def test_a_reason_quoting_a_long_value_is_cut_short() -> None:
    error = refused(frame("send_message", {"message_type": "x" * 10_000}))

    assert error.field == "message_type"
    assert len(error.detail) < 250
    assert error.detail.endswith("… @ $.data.message_type")


def test_structure_refuses_unknown_keys_of_a_request_body_in_words_that_can_be_sent() -> None:
    with pytest.raises(InvalidError) as raised:
        structure({"room_id": 1, "\ud800": 1}, JoinRoom, where="body")

    assert "extra fields found" in raised.value.detail
    assert "\\ud800" in raised.value.detail
    raised.value.detail.encode("utf-8")
    assert structure({"room_id": 1, "x": 1}, JoinRoom, ignore_unknown=True) == JoinRoom(room_id=RoomId(1))


def test_structure_of_a_plain_type_is_strict_too() -> None:
    assert structure(5, int) == 5
    with pytest.raises(InvalidError):
        structure("5", int)


# -- encoding -------------------------------------------------------------------------------------


def test_datetimes_are_written_in_utc_with_a_z() -> None:
    to_wire = make_converter().unstructure
    assert to_wire(datetime(2024, 1, 21, 12, 0, tzinfo=UTC)) == "2024-01-21T12:00:00Z"
    assert to_wire(datetime(2024, 1, 21, 14, 0, tzinfo=timezone(timedelta(hours=2)))) == "2024-01-21T12:00:00Z"
    assert to_wire(datetime(2024, 1, 21, 12, 0, 0, 5000)) == "2024-01-21T12:00:00.005000Z"  # naive is taken as UTC


def test_events_are_encoded_as_type_and_data() -> None:
    seen = datetime(2024, 1, 21, 12, 5, tzinfo=UTC)
    events: list[tuple[Event, dict[str, object]]] = [
        (MessageDeleted(id=MessageId(5), room_id=RoomId(1)), {"id": 5, "room_id": 1}),
        (
            MessagesRead(room_id=RoomId(1), user_id=UserId(2), last_read_message_id=None),
            {"room_id": 1, "user_id": 2, "last_read_message_id": None},
        ),
        (
            Typing(
                room_id=RoomId(1), user_id=UserId(2), user_name="John Doe", is_typing=True, typing_users=[UserId(2)]
            ),
            {"room_id": 1, "user_id": 2, "user_name": "John Doe", "is_typing": True, "typing_users": [2]},
        ),
        (
            PresenceChanged(user_id=UserId(2), user_name="John Doe", is_online=True, last_seen=seen),
            {"user_id": 2, "user_name": "John Doe", "is_online": True, "last_seen": "2024-01-21T12:05:00Z"},
        ),
    ]
    for event, data in events:
        assert json.loads(encode_event(event)) == {"type": event.type, "data": data}


def test_encoded_text_keeps_unicode_and_is_compact() -> None:
    assert dumps({"a": "ü", "b": [1, 2]}) == '{"a":"ü","b":[1,2]}'.encode()


def test_nan_is_never_written() -> None:
    with pytest.raises(ValueError, match="JSON"):
        dumps({"x": float("nan")})


def test_the_converter_is_built_once() -> None:
    assert make_converter() is make_converter()
