"""REST handlers under /api/v1/chat: parse, call ChatService, shape the reply as the seed does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.params import FromPath, FromQuery
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from chat_http.bodies import (
    AddMembers,
    CreateGroup,
    EditMessage,
    OnlineUsers,
    OpenRoom,
    RenameGroup,
    SetRole,
    StatusReply,
    UnreadCounts,
    UserSearch,
)
from chat_http.openapi import errors
from chat_http.runtime import Rt
from chatcore import (
    HistoryPage,
    InvalidError,
    MessageId,
    MessageReads,
    MessageView,
    NotFoundError,
    PinList,
    RoomDetail,
    RoomId,
    RoomPage,
    RoomView,
    UserId,
)
from chatcore.codec import loads, structure
from chatcore.model import MAX_ID, Role
from chatcore.views import SearchPage

AnyRequest = Request[UserId, Any, Any]


def _room_id(value: int) -> RoomId:
    if not 1 <= value <= MAX_ID:
        raise NotFoundError("room not found", field="room_id")
    return RoomId(value)


def _message_id(value: int) -> MessageId:
    if not 1 <= value <= MAX_ID:
        raise NotFoundError("message not found", field="message_id")
    return MessageId(value)


def _user_ids(values: list[int], field: str, limit: int) -> list[UserId]:
    """Ids out of range name nobody (404, as an unknown id); a list longer than any group is a 400 before any
    lookup."""
    if len(values) > limit:
        raise InvalidError(f"{field} may list at most {limit} people", field=field)
    bad = [value for value in values if not 1 <= value <= MAX_ID]
    if bad:
        raise NotFoundError(f"no such user: {bad[0]}", field=field)
    return [UserId(value) for value in values]


def _cursor(value: int | None, field: str) -> MessageId | None:
    if value is not None and not 0 <= value <= MAX_ID:
        raise InvalidError(f"{field} must be between 0 and {MAX_ID}", field=field)
    return None if value is None else MessageId(value)


def _an_id(value: int, field: str) -> int:
    if not 1 <= value <= MAX_ID:
        raise InvalidError(f"{field} must be between 1 and {MAX_ID}", field=field)
    return value


def _when(value: str | None, field: str) -> datetime | None:
    """An ISO date or time; one without a zone is UTC (a date is its midnight)."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidError(f"{field} must be an ISO date or time, such as 2026-03-01", field=field) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


async def _json_body(request: AnyRequest) -> Any:
    body = await request.body()
    if not body:
        raise InvalidError("the request needs a JSON body")
    return loads(body)


async def _form_content(request: AnyRequest) -> str:
    """The form field `content`, as UTF-8 only: Litestar's multipart parser raises on other bytes (a 500) and its
    urlencoded parser reads unescaped bytes as Latin-1 (`content=Grüße` from `curl -d` came out garbled)."""
    try:
        if request.content_type[0] == "application/x-www-form-urlencoded":
            text = (await request.body()).decode("utf-8")
            values = parse_qs(text, keep_blank_values=True, errors="strict").get("content")
            content: Any = values[0] if values and len(values) == 1 else None
        else:
            content = (await request.form()).get("content")
    except (UnicodeError, LookupError):  # LookupError: a part's charset Python does not know
        raise InvalidError("content must be UTF-8 text", field="content") from None
    if not isinstance(content, str):
        raise InvalidError("content is required", field="content")
    return content


class ChatController(Controller):
    path = "/api/v1/chat"
    tags = ["chat"]

    @get("/search-users", responses=errors(400, 429), summary="Search users by email")
    async def search_users(self, request: AnyRequest, rt: Rt, email: FromQuery[str]) -> UserSearch:
        """`email`: 2 to 254 characters of an address; one with a space or a control character is a 400."""
        users = await rt.chat.search_users(request.user, email)
        return UserSearch(users=users, total=len(users))

    @get("/search", responses=errors(400, 429), summary="Search the messages the caller may read, newest first")
    async def search_messages(
        self,
        request: AnyRequest,
        rt: Rt,
        q: FromQuery[str],
        room_id: FromQuery[int | None] = None,
        sender_id: FromQuery[int | None] = None,
        after: FromQuery[str | None] = None,
        before: FromQuery[str | None] = None,
        limit: FromQuery[int] = 20,
        cursor: FromQuery[str | None] = None,
    ) -> SearchPage:
        """All words must match, the last as a prefix; "quoted phrases"; case and accents ignored. A room or
        sender the caller shares nothing with finds nothing."""
        return await rt.chat.search_messages(
            request.user,
            q,
            room_id=None if room_id is None else RoomId(_an_id(room_id, "room_id")),
            sender_id=None if sender_id is None else UserId(_an_id(sender_id, "sender_id")),
            after=_when(after, "after"),
            before=_when(before, "before"),
            limit=limit,
            cursor=cursor,
        )

    @post(
        "/rooms",
        responses=errors(400, 404),
        summary="Open the direct room with a user (201 when created, 200 when it existed), or create a group (201)",
    )
    async def open_room(self, request: AnyRequest, rt: Rt) -> Response[RoomView]:
        """`{"receiver_id"}`: the direct room. `{"name", "member_ids"}`: a new group owned by the caller."""
        raw = await _json_body(request)
        if isinstance(raw, dict) and "receiver_id" not in raw and ("member_ids" in raw or "name" in raw):
            group = structure(raw, CreateGroup, where="body")
            limit = rt.chat.limits.max_group_members
            member_ids = _user_ids(group.member_ids, "member_ids", limit)
            view = await rt.chat.create_group(request.user, group.name, member_ids)
            return Response(view, status_code=HTTP_201_CREATED)
        body = structure(raw, OpenRoom, where="body")
        if not 1 <= body.receiver_id <= MAX_ID:
            raise NotFoundError("receiver not found", field="receiver_id")
        room, created = await rt.chat.open_direct_room(request.user, UserId(body.receiver_id))
        return Response(room, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @patch("/rooms/{room_id:int}", responses=errors(400, 403, 404), summary="Rename a group (its owner and admins)")
    async def rename_group(self, request: AnyRequest, rt: Rt, room_id: FromPath[int]) -> RoomView:
        body = structure(await _json_body(request), RenameGroup, where="body")
        return await rt.chat.rename_group(request.user, _room_id(room_id), body.name)

    @post(
        "/rooms/{room_id:int}/members",
        responses=errors(400, 403, 404),
        status_code=HTTP_200_OK,
        summary="Add people to a group (its owner and admins); those already in are skipped",
    )
    async def add_members(self, request: AnyRequest, rt: Rt, room_id: FromPath[int]) -> RoomView:
        body = structure(await _json_body(request), AddMembers, where="body")
        user_ids = _user_ids(body.user_ids, "user_ids", rt.chat.limits.max_group_members)
        return await rt.chat.add_members(request.user, _room_id(room_id), user_ids)

    @delete(
        "/rooms/{room_id:int}/members/{user_id:int}",
        responses=errors(403, 404),
        status_code=HTTP_200_OK,
        summary="Remove a member (owner and admins), or leave (one's own id)",
    )
    async def remove_member(
        self, request: AnyRequest, rt: Rt, room_id: FromPath[int], user_id: FromPath[int]
    ) -> StatusReply:
        room = _room_id(room_id)
        if not 1 <= user_id <= MAX_ID:
            raise NotFoundError("not a member of this group", field="user_id")
        await rt.chat.remove_member(request.user, room, UserId(user_id))
        left = user_id == request.user
        return StatusReply(status="success", message="You left the group" if left else "Member removed")

    @put(
        "/rooms/{room_id:int}/members/{user_id:int}",
        responses=errors(400, 403, 404),
        summary="Make a member an admin or a member again (the owner only)",
    )
    async def set_role(self, request: AnyRequest, rt: Rt, room_id: FromPath[int], user_id: FromPath[int]) -> RoomView:
        room = _room_id(room_id)
        body = structure(await _json_body(request), SetRole, where="body")
        if not 1 <= user_id <= MAX_ID:
            raise NotFoundError("not a member of this group", field="user_id")
        return await rt.chat.set_role(request.user, room, UserId(user_id), Role(body.role))

    @get(
        "/rooms/{room_id:int}/messages/{message_id:int}/reads",
        responses=errors(404),
        summary="Who of the room has read a message, and who has not yet",
    )
    async def message_reads(
        self, request: AnyRequest, rt: Rt, room_id: FromPath[int], message_id: FromPath[int]
    ) -> MessageReads:
        return await rt.chat.message_reads(request.user, _room_id(room_id), _message_id(message_id))

    @get("/rooms", responses=errors(400), summary="The caller's rooms, newest activity first")
    async def list_rooms(
        self, request: AnyRequest, rt: Rt, limit: FromQuery[int | None] = None, cursor: FromQuery[str | None] = None
    ) -> RoomPage:
        """All rooms (as the seed), or a page of them with `limit` and then `cursor` (the last `next_cursor`)."""
        if limit is None and cursor is None:
            rooms = await rt.chat.list_rooms(request.user)
            return RoomPage(rooms=rooms, total=len(rooms))
        return await rt.chat.room_page(request.user, limit=limit, cursor=cursor)

    @get("/rooms/{room_id:int}", responses=errors(404), summary="A room with its latest messages, oldest first")
    async def room_detail(self, request: AnyRequest, rt: Rt, room_id: FromPath[int]) -> RoomDetail:
        return await rt.chat.room_detail(request.user, _room_id(room_id))

    @get(
        "/rooms/{room_id:int}/messages",
        responses=errors(400, 404),
        summary="History: newest first by page or before_id; after_id oldest first",
    )
    async def history(
        self,
        request: AnyRequest,
        rt: Rt,
        room_id: FromPath[int],
        page: FromQuery[int] = 1,
        per_page: FromQuery[int] = 50,
        before_id: FromQuery[int | None] = None,
        after_id: FromQuery[int | None] = None,
    ) -> HistoryPage:
        if not 1 <= page <= 1_000_000:
            raise InvalidError("page must be between 1 and 1000000", field="page")
        return await rt.chat.history(
            request.user,
            _room_id(room_id),
            page=page,
            per_page=per_page,
            before_id=_cursor(before_id, "before_id"),
            after_id=_cursor(after_id, "after_id"),
        )

    @post(
        "/rooms/{room_id:int}/read",
        responses=errors(404),
        status_code=HTTP_200_OK,
        summary="Mark every message to the caller read",
    )
    async def mark_read(self, request: AnyRequest, rt: Rt, room_id: FromPath[int]) -> StatusReply:
        await rt.chat.mark_read(request.user, _room_id(room_id))
        return StatusReply(status="success", message="Room marked as read")

    @put(
        "/messages/{message_id:int}",
        responses=errors(400, 403, 404),
        summary="Edit a text message (form field or JSON `content`)",
    )
    async def edit_message(self, request: AnyRequest, rt: Rt, message_id: FromPath[int]) -> MessageView:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            body = EditMessage(content=await _form_content(request))
        else:
            body = structure(await _json_body(request), EditMessage, where="body")
        return await rt.chat.edit_message(request.user, _message_id(message_id), body.content)

    @delete(
        "/messages/{message_id:int}",
        responses=errors(403, 404),
        status_code=HTTP_200_OK,
        summary="Delete one's own message (soft)",
    )
    async def delete_message(self, request: AnyRequest, rt: Rt, message_id: FromPath[int]) -> StatusReply:
        await rt.chat.delete_message(request.user, _message_id(message_id))
        return StatusReply(status="success", message="Message deleted")

    @put(
        "/messages/{message_id:int}/reactions/{emoji:str}",
        responses=errors(400, 404, 409),
        summary="Add the caller's reaction (one emoji, URL-encoded); adding it again changes nothing",
    )
    async def add_reaction(
        self, request: AnyRequest, rt: Rt, message_id: FromPath[int], emoji: FromPath[str]
    ) -> MessageView:
        return (await rt.chat.add_reaction(request.user, _message_id(message_id), emoji)).message

    @delete(
        "/messages/{message_id:int}/reactions/{emoji:str}",
        responses=errors(400, 404),
        status_code=HTTP_200_OK,
        summary="Remove the caller's reaction; removing one that is not there changes nothing",
    )
    async def remove_reaction(
        self, request: AnyRequest, rt: Rt, message_id: FromPath[int], emoji: FromPath[str]
    ) -> MessageView:
        return (await rt.chat.remove_reaction(request.user, _message_id(message_id), emoji)).message

    @put(
        "/messages/{message_id:int}/pin",
        responses=errors(403, 404, 409),
        summary="Pin a message (anyone in a direct room; a group's owner and admins)",
    )
    async def pin(self, request: AnyRequest, rt: Rt, message_id: FromPath[int]) -> MessageView:
        return await rt.chat.pin(request.user, _message_id(message_id))

    @delete(
        "/messages/{message_id:int}/pin",
        responses=errors(403, 404),
        status_code=HTTP_200_OK,
        summary="Unpin a message (who may pin may unpin)",
    )
    async def unpin(self, request: AnyRequest, rt: Rt, message_id: FromPath[int]) -> MessageView:
        return await rt.chat.unpin(request.user, _message_id(message_id))

    @get("/rooms/{room_id:int}/pins", responses=errors(404), summary="A room's pinned messages, latest pin first")
    async def pins(self, request: AnyRequest, rt: Rt, room_id: FromPath[int]) -> PinList:
        return await rt.chat.pins(request.user, _room_id(room_id))

    @get("/unread-count", responses=errors(), summary="Unread messages per room, zeros included")
    async def unread_count(self, request: AnyRequest, rt: Rt) -> UnreadCounts:
        counts = await rt.chat.unread_counts(request.user)
        return UnreadCounts(unread_counts={str(room): n for room, n in sorted(counts.items())})

    @get("/online-users", responses=errors(), summary="Users with an open connection on any server process")
    async def online_users(self, request: AnyRequest, rt: Rt) -> OnlineUsers:
        return OnlineUsers(online_users=await rt.chat.online_users(request.user))
