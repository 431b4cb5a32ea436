"""chatcore: the chat domain and its use cases, behind ports; no web framework, no database driver."""

from chatcore.commands import JoinRoom, LeaveRoom, MarkRead, Ping, SendMessage, SetTyping
from chatcore.errors import (
    ChatError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
)
from chatcore.events import MessageDeleted, MessagesRead, MessageUpdated, NewMessage, PresenceChanged, Typing
from chatcore.model import Message, MessageId, MessageType, Presence, Room, RoomId, RoomType, User, UserId
from chatcore.ports import (
    Broker,
    Clock,
    FileStorage,
    IdSource,
    LiveState,
    MessageWriter,
    UnitOfWork,
    UnitOfWorkFactory,
    UserDirectory,
    UserRegistry,
)
from chatcore.service import ChatService, Limits
from chatcore.uploads import UploadPolicy
from chatcore.views import HistoryPage, MessageView, OnlineUser, RoomDetail, RoomView, UserCard

__all__ = [
    "Broker",
    "ChatError",
    "ChatService",
    "Clock",
    "ConflictError",
    "FileStorage",
    "ForbiddenError",
    "HistoryPage",
    "IdSource",
    "InvalidError",
    "JoinRoom",
    "LeaveRoom",
    "Limits",
    "LiveState",
    "MarkRead",
    "Message",
    "MessageDeleted",
    "MessageId",
    "MessageType",
    "MessageUpdated",
    "MessageView",
    "MessageWriter",
    "MessagesRead",
    "NewMessage",
    "NotFoundError",
    "OnlineUser",
    "Ping",
    "Presence",
    "PresenceChanged",
    "RateLimitedError",
    "Room",
    "RoomDetail",
    "RoomId",
    "RoomType",
    "RoomView",
    "SendMessage",
    "SetTyping",
    "Typing",
    "UnavailableError",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UploadPolicy",
    "User",
    "UserCard",
    "UserDirectory",
    "UserId",
    "UserRegistry",
]
