"""docs/asyncapi.yaml is the WebSocket protocol for machines: it must name every event the code has, with the
fields the code sends and accepts, and every close code; real frames must validate against its schemas."""

from __future__ import annotations

import base64
import json
import typing
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import pytest
import yaml

from chat_adapters.emojis import spelled_emoji
from chat_http import errors
from chatcore import ChatService, MessageType, SendMessage, User, UserId
from chatcore.codec import parse_client_event
from chatcore.commands import CLIENT_EVENTS
from chatcore.events import Event, NewMessage
from chatcore.testing import (
    FakeClock,
    MemoryBroker,
    MemoryDatabase,
    MemoryLiveState,
    MemoryStorage,
    MemoryUserDirectory,
    SequentialIds,
)
from chatcore.views import MessageView

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
SERVER_EVENTS = typing.get_args(Event)


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded = yaml.safe_load(DOC_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _messages(doc: dict[str, Any], operation: str) -> dict[str, dict[str, Any]]:
    """Wire name -> message object, for the messages of one operation."""
    found = {}
    for ref in doc["operations"][operation]["messages"]:
        message = _resolve(doc, _resolve(doc, ref["$ref"])["$ref"])
        found[message["name"]] = message
    return found


def _data_properties(doc: dict[str, Any], message: dict[str, Any]) -> set[str]:
    frame = _resolve(doc, message["payload"]["$ref"])
    data = frame["properties"]["data"]
    if "$ref" in data:
        data = _resolve(doc, data["$ref"])
    return set(data.get("properties", {}))


def _fields(cls: type) -> set[str]:
    return {field.name for field in attrs.fields(cls)}


def test_it_is_an_asyncapi_3_document_whose_references_all_resolve(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"].startswith("3.")
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert len(refs) > 30
    for ref in refs:
        _resolve(doc, ref)


def test_every_client_event_is_described_with_the_fields_the_server_accepts(doc: dict[str, Any]) -> None:
    described = _messages(doc, "receiveClientEvents")

    assert set(described) == set(CLIENT_EVENTS)
    for name, cls in CLIENT_EVENTS.items():
        assert _data_properties(doc, described[name]) == _fields(cls), name


def test_every_server_event_is_described_with_the_fields_it_carries(doc: dict[str, Any]) -> None:
    described = _messages(doc, "sendServerEvents")

    assert set(described) == {cls.type for cls in SERVER_EVENTS} | {"pong", "error"}
    for cls in SERVER_EVENTS:
        carried = _fields(MessageView) if "message" in _fields(cls) else _fields(cls)
        assert _data_properties(doc, described[cls.type]) == carried, cls.type
    assert _data_properties(doc, described["error"]) == set(errors.ws_error("x", "y")["data"])


def test_every_close_code_is_listed(doc: dict[str, Any]) -> None:
    codes = {value for name, value in vars(errors).items() if name.startswith("CLOSE_")}

    assert codes
    assert codes <= set(doc["channels"]["chat"]["x-close-codes"])


def _validator(doc: dict[str, Any], schema: str) -> jsonschema.Draft202012Validator:
    root = {"$ref": f"#/components/schemas/{schema}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(root)


async def test_frames_the_service_really_sends_match_their_schemas(doc: dict[str, Any]) -> None:
    clock = FakeClock()
    broker = MemoryBroker()
    people = [User(id=UserId(n), name=name, email=f"{name}@x.test") for n, name in ((1, "A"), (2, "B"), (3, "C"))]
    chat = ChatService(
        uow=MemoryDatabase(),
        users=MemoryUserDirectory(people),
        storage=MemoryStorage(clock),
        broker=broker,
        live=MemoryLiveState(clock),
        clock=clock,
        ids=SequentialIds(),
        is_emoji=spelled_emoji,
    )
    heard: list[bytes] = []
    await broker.subscribe("user:1", heard.append)
    await broker.subscribe("room:1", heard.append)
    room, _ = await chat.open_direct_room(UserId(1), UserId(2))
    await chat.connect(UserId(2), "c2")
    text, _ = await chat.send_message(UserId(2), SendMessage(room_id=room.id, content="hi", client_msg_id="m1"))
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(16)).decode()
    image = SendMessage(room_id=room.id, message_type=MessageType.IMAGE, file_data=png, file_name="a.png")
    await chat.send_message(UserId(2), image)
    await chat.edit_message(UserId(2), text.id, "hello <@1>")
    reply = SendMessage(room_id=room.id, content="a reply", reply_to_id=text.id)  # its reply_to in the frame
    await chat.send_message(UserId(1), reply)
    await chat.add_reaction(UserId(1), text.id, "❤")
    await chat.add_reaction(UserId(2), text.id, "👍🏽")
    await chat.remove_reaction(UserId(1), text.id, "❤️")
    await chat.pin(UserId(1), text.id)
    await chat.unpin(UserId(1), text.id)
    await chat.pin(UserId(2), text.id)  # and the edit below carries the pin and a reaction
    await chat.edit_message(UserId(2), text.id, "hello again")
    await chat.set_typing(UserId(2), room.id, True)
    await chat.mark_read(UserId(1), room.id)
    await chat.delete_message(UserId(2), text.id)
    await chat.disconnect(UserId(2), "c2")
    group = await chat.create_group(UserId(1), "G", [UserId(2), UserId(3)])  # members_changed to user:1
    await broker.subscribe(f"group:{group.id}", heard.append)
    await chat.send_message(UserId(3), SendMessage(room_id=group.id, content="to the group"))
    await chat.rename_group(UserId(1), group.id, "Renamed")
    await chat.remove_member(UserId(1), group.id, UserId(3))
    frames = [json.loads(payload) for payload in heard]
    frames += [{"type": "pong", "data": {}}, errors.ws_error("invalid", "bad", "m1")]
    schema_of = {
        message["name"]: message["payload"]["$ref"].rpartition("/")[2]
        for message in _messages(doc, "sendServerEvents").values()
    }
    assert {frame["type"] for frame in frames} == set(schema_of)
    for frame in frames:
        _validator(doc, schema_of[frame["type"]]).validate(frame)
    assert NewMessage.type == "new_message"


@pytest.mark.parametrize(
    ("schema", "frame", "valid"),
    [
        ("SendMessageFrame", {"type": "send_message", "data": {"content": "hi", "client_msg_id": "m1"}}, True),
        ("SendMessageFrame", {"type": "send_message", "data": {"message_type": "gif"}}, False),
        ("SendMessageFrame", {"type": "send_message", "data": {"content": "hi", "colour": "red"}, "v": 2}, True),
        ("SendMessageFrame", {"type": "send_message", "data": {"content": 5, "colour": "red"}}, False),
        ("TypingFrame", {"type": "typing", "data": {"room_id": 3, "is_typing": False}}, True),
        ("JoinRoomFrame", {"type": "join_room", "data": {}}, False),
        ("PingFrame", {"type": "ping"}, True),
    ],
)
def test_client_frames_validate_as_the_server_parses_them(
    doc: dict[str, Any], schema: str, frame: dict[str, Any], valid: bool
) -> None:
    assert _validator(doc, schema).is_valid(frame) is valid


@pytest.mark.parametrize("kind", sorted(CLIENT_EVENTS))
def test_unknown_keys_are_ignored_by_the_schemas_as_by_the_server(doc: dict[str, Any], kind: str) -> None:
    schema = {message["name"]: message["payload"]["$ref"].rpartition("/")[2] for message in
              _messages(doc, "receiveClientEvents").values()}[kind]  # fmt: skip
    required: dict[str, dict[str, Any]] = {
        "join_room": {"room_id": 1},
        "add_reaction": {"message_id": 1, "emoji": "👍"},
        "remove_reaction": {"message_id": 1, "emoji": "👍"},
    }
    data = required.get(kind, {})
    frame = {"type": kind, "data": {**data, "from_a_newer_client": [1]}, "trace": "t"}

    assert _validator(doc, schema).is_valid(frame)
    assert parse_client_event(json.dumps(frame))[0] == kind
