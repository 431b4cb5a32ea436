"""Generated input against a real `chat serve`: every REST route and every client event, with wild values, as
the owner of a room, as a stranger and without a token. No answer may be a 5xx or an `internal` error, the
server must keep answering, and its log must hold no traceback.

Bounded and reproducible for CI: hypothesis with `derandomize` (the same examples on every run), a fixed
`max_examples` per test, no deadline and no example database. On SQLite and on PostgreSQL (which refuses a NUL
in text that SQLite stores).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import parse_qsl, quote

import attrs
import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from litestar.exceptions import LitestarDeprecationWarning
from litestar.routes import HTTPRoute

from chat_http.app import create_app
from chat_http.settings import load_settings
from chatcore.commands import CLIENT_EVENTS
from tests.e2e.conftest import WAIT, Api, Person, Server, Socket, serving
from tests.pg import PgServer, create_database, pg_server
from tests.unit import helpers as samples

__all__ = ["pg_server"]

API = "/api/v1/chat"
FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the server's state moves on between replays
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """conftest's `server` on each database, with --dev (so its sign-in route is fuzzed too) and rate limits
    raised so that the input reaches the code behind them."""
    env = {"CHAT_WS_RATE": "1000000", "CHAT_WS_BURST": "100000", "CHAT_SEARCH_PER_MINUTE": "1000000"}
    if request.param == "postgres":
        pg: PgServer = request.getfixturevalue("pg_server")
        env["CHAT_DATABASE_URL"] = pg.url(asyncio.run(create_database(pg)))
    with serving(tmp_path_factory.mktemp(f"fuzz-{request.param}"), env, args=("--dev",)) as srv:
        yield srv


@attrs.frozen
class World:
    """A room with a text and an image message, a pending upload, and someone who is in none of it."""

    owner: Person
    other: Person
    stranger: Person
    room: int
    message: int
    file_message: int
    file_key: str
    file_query: dict[str, str]  # expires and sig of the image's signed link
    upload_id: str


async def make_world(server: Server) -> World:
    api = Api.open(server)
    try:
        owner, other, stranger = await api.person("Owner"), await api.person("Other"), await api.person("Stranger")
        room = await api.room(owner, other)
        async with api.socket(owner, room) as sock:
            await sock.send("send_message", content="hello", client_msg_id="first")
            message = (await sock.next("new_message"))["data"]["id"]
            png = samples.b64(samples.png())
            await sock.send("send_message", message_type="image", file_data=png, file_name="a.png")
            image = (await sock.next("new_message"))["data"]
        upload = await owner.http.post(f"{API}/uploads", files={"file": ("cv.pdf", samples.pdf(), "application/pdf")})
        assert upload.status_code == 201, upload.text
    finally:
        await api.aclose()
    url, _, query = image["file_url"].partition("?")
    return World(
        owner=owner,
        other=other,
        stranger=stranger,
        room=room,
        message=message,
        file_message=image["id"],
        file_key=url.removeprefix("/static/chat_files/"),
        file_query=dict(parse_qsl(query)),
        upload_id=upload.json()["upload_id"],
    )


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    """Made once per server (the tests' people use only their ids and tokens from it)."""
    return asyncio.run(make_world(server))


# -- values -----------------------------------------------------------------------------------------------

ODD_TEXT = [
    "\x00",
    "\x00\x00",
    "%",
    "_",
    "%%",
    "\\",
    "'",
    '"',
    "..",
    "../../etc/passwd",
    " ",
    "\ufeff",
    "\u202e",
    "é",
    "😀",
    "a" * 300,
    "-1",
    "0",
    "1.5",
    "9" * 30,
    "1e400",
    "NaN",
    "null",
    "true",
    "[]",
    "{}",
    "%C3%A9",
    "%zz",
    "\r\n",
    "a.png",
    "ey.x.y",
    "²",
    "١٢٣",
]
TEXT = st.one_of(st.text(max_size=24), st.sampled_from(ODD_TEXT), st.integers(-(2**70), 2**70).map(str))
JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        TEXT,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)
FILES = [samples.png(), samples.jpeg(), samples.pdf(), samples.mp3(), samples.docx(), b"plain text", b""]
FILE_NAMES = st.one_of(
    st.sampled_from(["a.png", "b.jpg", "cv.pdf", "note.mp3", "d.docx", "x.exe", "a\x00.png", "../../a.png", ".png"]),
    TEXT,
)

# -- REST -------------------------------------------------------------------------------------------------

CONTENT_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=b0undary",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "text/plain",
    "application/json; charset=latin-1",
    "application/octet-stream",
    "nonsense",
]
HIDDEN_QUERY = {"/static/chat_files/{key:path}": ("token", "sig", "expires")}  # routes the schema leaves out
BATCHES = itertools.count()
_PARAM = re.compile(r"\{\w+(?::(\w+))?\}")


@attrs.frozen
class Route:
    method: str
    template: str  # as Litestar writes it: /rooms/{room_id:int}
    query: tuple[str, ...]  # the query parameters it reads

    def id(self) -> str:
        return f"{self.method} {self.template}"


def app_routes() -> list[Route]:
    """Every route of the app `chat serve --dev` builds (from its own route table, the ones left out of the
    schema too), with the query parameters its OpenAPI document lists for each."""
    env = {"CHAT_JWT_SECRET": "x" * 40, "CHAT_DATABASE_URL": "sqlite+aiosqlite:///unused.db", "CHAT_DEV": "true"}
    with warnings.catch_warnings():  # Litestar 2.25's notices about inferred parameters (gone in Litestar 3)
        warnings.simplefilter("ignore", LitestarDeprecationWarning)
        app = create_app(load_settings({**env, "CHAT_STORAGE_URL": "file:///nonexistent"}))
        schema = app.openapi_schema.to_schema()
    found = {(m, r.path) for r in app.routes if isinstance(r, HTTPRoute) for m in r.methods if m != "OPTIONS"}
    listed = {
        (method.upper(), path): tuple(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    query = {(m, t): listed.get((m, re.sub(r":\w+}", "}", t)), ()) + HIDDEN_QUERY.get(t, ()) for m, t in found}
    return [Route(method, template, query[method, template]) for method, template in sorted(found)]


ROUTES = app_routes()
BODY_ROUTES = [
    ("PUT", f"{API}/messages/{{message_id:int}}"),
    ("POST", f"{API}/rooms"),
    ("POST", f"{API}/uploads"),
    ("POST", "/api/v1/dev/token"),
]
# Given more examples: those that read a body, the one open without a token, and the directory search.
FOCUSED = [*BODY_ROUTES, ("GET", "/static/chat_files/{key:path}"), ("GET", f"{API}/search-users")]


def multipart(parts: list[tuple[str, str | None, str | None, bytes]]) -> bytes:
    body = b""
    for name, filename, content_type, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        body += b"--b0undary\r\nContent-Disposition: " + disposition.encode()
        if content_type is not None:
            body += b"\r\nContent-Type: " + content_type.encode()
        body += b"\r\n\r\n" + data + b"\r\n"
    return body + b"--b0undary--\r\n"


def as_json(value: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[str, bytes]]:
    return st.tuples(st.just("application/json"), value.map(lambda v: json.dumps(v).encode()))


def as_multipart(parts: st.SearchStrategy[list[Any]]) -> st.SearchStrategy[tuple[str, bytes]]:
    return st.tuples(st.just("multipart/form-data; boundary=b0undary"), parts.map(multipart))


def as_form(fields: st.SearchStrategy[dict[str, str]]) -> st.SearchStrategy[tuple[str, bytes]]:
    encoded = fields.map(lambda d: "&".join(f"{quote(k)}={quote(v)}" for k, v in d.items()).encode())
    return st.tuples(st.just("application/x-www-form-urlencoded"), encoded)


PART_TYPES = st.one_of(
    st.none(), st.sampled_from(["text/plain", "text/plain; charset=latin-1", "text/plain; charset=nope"])
)
PART_DATA = st.one_of(st.sampled_from(FILES), st.binary(max_size=64), TEXT.map(str.encode))
PART_NAMES = st.one_of(st.sampled_from(["file", "content", "message_type"]), TEXT)
PART = st.tuples(PART_NAMES, st.one_of(st.none(), FILE_NAMES), PART_TYPES, PART_DATA)
BODY = st.one_of(
    st.none(),
    as_json(JSON),
    as_multipart(st.lists(PART, max_size=3)),
    as_form(st.dictionaries(TEXT, TEXT, max_size=3)),
    st.tuples(st.sampled_from(CONTENT_TYPES), st.binary(max_size=128)),
)


def bodies(world: World) -> dict[tuple[str, str], st.SearchStrategy[tuple[str, bytes] | None]]:
    """For the routes that read a body: mostly the body they read, with wild values; anything else too."""
    ids = st.sampled_from([world.other.id, world.owner.id, world.stranger.id, 0, -1, 2**63])
    content_part = st.tuples(st.just("content"), st.none(), PART_TYPES, PART_DATA)
    file_part = st.tuples(st.just("file"), FILE_NAMES, PART_TYPES, PART_DATA)
    kind_part = st.tuples(st.just("message_type"), st.none(), PART_TYPES, TEXT.map(str.encode))
    form = "application/x-www-form-urlencoded"
    return {
        ("PUT", f"{API}/messages/{{message_id:int}}"): st.one_of(
            as_json(st.fixed_dictionaries({}, optional={"content": st.one_of(TEXT, JSON)})),
            as_form(st.fixed_dictionaries({}, optional={"content": TEXT})),
            st.tuples(st.just(form), st.binary(max_size=32).map(lambda b: b"content=" + b)),
            as_multipart(st.lists(content_part, min_size=1, max_size=2)),
            as_multipart(st.lists(st.one_of(content_part, PART), min_size=1, max_size=3)),
            BODY,
        ),
        ("POST", f"{API}/rooms"): st.one_of(
            as_json(st.fixed_dictionaries({}, optional={"receiver_id": st.one_of(ids, JSON)})), BODY
        ),
        ("POST", f"{API}/uploads"): st.one_of(
            as_multipart(st.tuples(st.lists(kind_part, max_size=1), file_part).map(lambda p: [*p[0], p[1]])), BODY
        ),
        ("POST", "/api/v1/dev/token"): st.one_of(
            as_json(st.fixed_dictionaries({}, optional={"email": TEXT, "name": TEXT})), as_json(JSON), BODY
        ),
    }


def path_value(data: st.DataObject, world: World, kind: str | None) -> str:
    """A path parameter: one of the world's ids or keys, or anything (quoted, so the path stays a path)."""
    if kind == "int":
        ids = st.sampled_from([world.room, world.message, world.file_message, 0, -1, 2**63 - 1, 2**63]).map(str)
        value = data.draw(st.one_of(ids, ids, st.integers(-(2**70), 2**70).map(str), TEXT))
    elif kind == "path":
        near = st.sampled_from(ODD_TEXT).map(lambda odd: world.file_key + odd)  # the real key, one odd thing more
        value = data.draw(
            st.one_of(st.just(world.file_key), near, st.lists(TEXT, min_size=1, max_size=3).map("/".join))
        )
    else:
        names = st.sampled_from(["api.js", "chat.css", "openapi.json", "swagger", "👍", "❤", "<b>", ":)"])
        value = data.draw(st.one_of(names, TEXT))
    return quote(value, safe="/" if kind == "path" else "")


def test_every_route_is_fuzzed_with_the_query_parameters_it_reads(strategies: Strategies) -> None:
    by_template = {(r.method, r.template): r.query for r in ROUTES}

    assert len(ROUTES) >= 20
    assert by_template[("POST", f"{API}/uploads")] == ("message_type",)
    assert by_template[("GET", "/static/chat_files/{key:path}")] == ("token", "sig", "expires")
    history = by_template[("GET", f"{API}/rooms/{{room_id:int}}/messages")]
    assert set(history) == {"page", "per_page", "before_id", "after_id"}
    assert ("POST", "/api/v1/dev/token") in by_template
    assert set(strategies.bodies) == set(BODY_ROUTES)
    assert set(FOCUSED) <= set(by_template)


class Strategies:
    """The world's body and frame strategies, for fixtures: hypothesis prints a failing test's arguments, and
    printing a dict of strategies made it report FlakyStrategyDefinition instead of the failure."""

    def __init__(self, world: World) -> None:
        self.bodies = bodies(world)
        self.frames = client_frames(world)

    def __repr__(self) -> str:
        return "Strategies(...)"


@pytest.fixture(scope="module")
def strategies(world: World) -> Strategies:
    return Strategies(world)


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    """One blocking client for the module's many requests (a new AsyncClient per test cost ~0.1 s)."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def send_wild_request(
    http: httpx.Client,
    world: World,
    route: Route,
    body: st.SearchStrategy[tuple[str, bytes] | None],
    data: st.DataObject,
) -> None:
    """One request to `route` with wild path and query values, credentials and body; never a 5xx."""
    path = _PARAM.sub(lambda m: path_value(data, world, m.group(1)), route.template)
    params = data.draw(st.fixed_dictionaries({}, optional=dict.fromkeys(route.query, TEXT)))
    params.update(data.draw(st.dictionaries(TEXT, TEXT, max_size=2)))
    if route.template.startswith("/static/") and data.draw(st.booleans()):  # a signed link's query, or none
        params.update({k: data.draw(st.one_of(st.just(v), TEXT)) for k, v in world.file_query.items()})
    who = data.draw(st.sampled_from(["owner"] * 5 + ["stranger", "none", "garbage", "query"]))
    headers = {}
    if who in ("owner", "stranger"):
        headers["Authorization"] = f"Bearer {(world.owner if who == 'owner' else world.stranger).token}"
    elif who == "garbage":
        headers["Authorization"] = data.draw(st.sampled_from(["Bearer x.y.z", "Bearer", "Basic abc", "Bearer ey"]))
    elif who == "query":
        params["token"] = world.owner.token
    drawn = data.draw(body)
    if drawn is not None:
        headers["Content-Type"] = drawn[0]
    method = data.draw(st.sampled_from([route.method] * 4 + ["PATCH", "HEAD"]))
    response = http.request(method, path, params=params, headers=headers, content=drawn[1] if drawn else None)
    assert response.status_code < 500, (method, path, params, drawn, response.status_code, response.text[:300])


@pytest.mark.parametrize("route", ROUTES, ids=Route.id)
@settings(FUZZ, max_examples=12)
@given(data=st.data())
def test_every_rest_route_answers_wild_input_without_a_5xx(
    http: httpx.Client, world: World, strategies: Strategies, route: Route, data: st.DataObject
) -> None:
    send_wild_request(http, world, route, strategies.bodies.get((route.method, route.template), BODY), data)


@pytest.mark.parametrize("route", [r for r in ROUTES if (r.method, r.template) in FOCUSED], ids=Route.id)
@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_routes_that_read_a_body_a_signature_or_the_directory_answer_without_a_5xx(
    http: httpx.Client, world: World, strategies: Strategies, route: Route, data: st.DataObject
) -> None:
    send_wild_request(http, world, route, strategies.bodies.get((route.method, route.template), BODY), data)


# -- WebSocket --------------------------------------------------------------------------------------------


def field_values(world: World) -> dict[str, st.SearchStrategy[Any]]:
    """Each command field's strategy: mostly good values of its type, so the use case behind it runs, or
    anything JSON can hold."""
    people = [world.owner.id, world.other.id, world.stranger.id, 0, -1, 2**63]
    good: dict[str, st.SearchStrategy[Any]] = {
        "room_id": st.sampled_from([world.room, world.room + 1, 0, -1, 2**63 - 1]),
        "receiver_id": st.sampled_from(people),
        "message_type": st.sampled_from(["text", "image", "file", "voice", "TEXT", "video"]),
        "content": TEXT,
        "file_data": st.one_of(
            st.sampled_from(FILES).map(samples.b64),
            st.sampled_from(FILES).map(lambda f: "data:x;base64," + samples.b64(f)),
            st.binary(max_size=48).map(samples.b64),
            TEXT,
        ),
        "file_name": FILE_NAMES,
        "file_size": st.integers(-(2**70), 2**70),
        "mime_type": TEXT,
        "client_msg_id": TEXT,
        "upload_id": st.one_of(st.just(world.upload_id), TEXT),
        "is_typing": st.booleans(),
        "message_id": st.sampled_from([world.message, world.file_message, 0, -1, 2**63 - 1]),
        "reply_to_id": st.sampled_from([world.message, world.file_message, 0, -1, 2**63 - 1]),
        "emoji": st.one_of(st.sampled_from(["👍", "❤", "❤️", "👨‍👩‍👧", "<b>", ":)", "👍👍", ""]), TEXT),
    }
    return {name: st.one_of(strategy, strategy, JSON) for name, strategy in good.items()}


FRAME_KINDS = [*sorted(CLIENT_EVENTS), "unknown type", "not an event"]


def client_frames(world: World) -> dict[str, st.SearchStrategy[str | bytes]]:
    """For each client event type (and unknown types, and text that is no event): frames mostly of that type,
    with the others mixed in (a join_room then a send_message...)."""
    values = field_values(world)
    fields = {kind: [f.name for f in attrs.fields(cls)] for kind, cls in CLIENT_EVENTS.items()}
    assert {name for names in fields.values() for name in names} <= set(values), "a new command field"

    @st.composite
    def event(draw: st.DrawFn, kinds: st.SearchStrategy[str]) -> str:
        kind = draw(kinds)
        known = fields.get(kind, [])
        data: dict[str, Any] = draw(st.fixed_dictionaries({}, optional={name: values[name] for name in known}))
        data.update(draw(st.dictionaries(TEXT, JSON, max_size=2)))  # a newer client's fields
        frame: dict[str, Any] = {"type": kind, "data": data}
        roll = draw(st.integers(0, 9))
        if roll == 0:
            frame["data"] = draw(JSON)
        elif roll == 1:
            del frame["data"]
        elif roll == 2:
            frame[draw(TEXT)] = draw(JSON)
        return json.dumps(frame, ensure_ascii=draw(st.booleans()))

    raw = st.one_of(
        st.text(max_size=64),
        st.binary(max_size=64),
        JSON.map(json.dumps),
        st.sampled_from(
            [
                '{"type": "send_message", "data": {"content": "\\ud800"}}',
                '{"type": "typing", "data": {"room_id": NaN}}',
                '{"type": "ping", "data": {"x": ' + "[" * 1000 + "]" * 1000 + "}}",
                '{"type": "join_room", "data": {"room_id": ' + "9" * 5000 + "}}",
                '{"type": "ping"} {"type": "ping"}',
            ]
        ),
    )
    mixed = st.one_of(event(st.sampled_from(sorted(CLIENT_EVENTS))), raw)
    own: dict[str, st.SearchStrategy[str | bytes]] = {kind: event(st.just(kind)) for kind in CLIENT_EVENTS}
    own["unknown type"] = event(TEXT)
    own["not an event"] = raw
    return {kind: st.one_of(own[kind], own[kind], own[kind], mixed) for kind in FRAME_KINDS}


@pytest.fixture
async def sockets(api: Api, world: World) -> AsyncIterator[dict[str, Socket]]:
    async with AsyncExitStack() as stack:
        yield {
            "owner": await stack.enter_async_context(api.socket(world.owner, world.room)),
            "stranger": await stack.enter_async_context(api.socket(world.stranger)),
        }


async def answers_until(sock: Socket, marker: str) -> list[dict[str, Any]]:
    """Everything the socket says up to the error that names `marker` and the pong after it."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 4 * WAIT
    marked = False
    while time.monotonic() < deadline:
        event = await sock.next(within=deadline - time.monotonic())
        seen.append(event)
        if event["type"] == "error" and event["data"]["client_msg_id"] == marker:
            marked = True
        elif marked and event["type"] == "pong":
            return seen
    raise AssertionError(f"no answer to the frames of {marker}: {seen[-5:]}")


@pytest.mark.parametrize("kind", FRAME_KINDS)
@settings(FUZZ, max_examples=30)
@given(data=st.data())
async def test_every_client_event_answers_wild_input_without_internal_errors(
    strategies: Strategies, sockets: dict[str, Socket], kind: str, data: st.DataObject
) -> None:
    sock = sockets[data.draw(st.sampled_from(["owner", "stranger"]))]
    for frame in data.draw(st.lists(strategies.frames[kind], min_size=1, max_size=4)):
        await sock.ws.send(frame)
    marker = f"batch-{next(BATCHES)}"  # an empty text is refused with an error naming it; then the ping
    await sock.send("send_message", content="", client_msg_id=marker)
    await sock.send("ping")
    seen = await answers_until(sock, marker)
    internal = [event for event in seen if event["type"] == "error" and event["data"]["code"] == "internal"]
    assert not internal, internal


async def test_the_server_still_answers_and_logged_no_traceback(api: Api, world: World) -> None:
    assert (await api.http.get("/health")).status_code == 200
    assert (await api.http.get("/ready")).status_code == 200
    async with api.socket(world.owner, world.room) as sock:  # the helper's ping must be answered by a pong
        await sock.send("send_message", content="after the fuzzing")
        assert (await sock.next("new_message"))["data"]["content"] == "after the fuzzing"
    assert "Traceback" not in api.server.log()
