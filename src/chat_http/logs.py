"""One log format for every line a process writes (ours, Litestar's, uvicorn's access and error lines): plain
text or one JSON object a line (CHAT_LOG_FORMAT), at CHAT_LOG_LEVEL, with the request's id, user and route.

The stdlib's logging with a JSON formatter and a context variable is enough here: uvicorn and Litestar log
through it already, and `chat serve --workers N` hands the same dictConfig to every worker.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from litestar.enums import ScopeType
from litestar.logging.config import LoggingConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.types.callable_types import GetLogger

from chat_http.settings import LOG_FORMATS, LOG_LEVELS

REQUEST_ID_HEADER = "x-request-id"
# A caller's request id is logged as given, so only a short run of harmless characters is taken.
_SANE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
# A socket's or a file's token, and a signed file link's signature: each opens something for whoever reads it.
_TOKEN = re.compile(r"((?:token|sig)=)[^&\s\"']+")
_ACCESS_ARGS = 5  # uvicorn's access line: client, method, path with query, HTTP version, status


class RedactTokens(logging.Filter):
    """uvicorn logs URLs with their query string (the access log too): never let a token or a signature reach
    the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(_TOKEN.sub(r"\1[redacted]", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = _TOKEN.sub(r"\1[redacted]", record.msg)
        return True


@dataclass
class _Request:
    request_id: str
    scope: Scope  # read when a line is logged: the auth middleware puts the user in it, the router the route


_current: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("chat_request", default=None)


class RequestContext(logging.Filter):
    """Puts the current request's id, user id and route on each record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _current.get()
        record.request_id = request.request_id if request else None
        record.user_id = request.scope.get("user") if request else None
        record.route = request.scope.get("path_template") if request else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: timestamp (UTC), level, logger, message, the request's fields when there is one,
    and for access lines the method, path, status and client as fields of their own."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("request_id", "user_id", "route"):
            if (value := getattr(record, name, None)) is not None:
                line[name] = value
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == _ACCESS_ARGS:
            client, method, path, _, status = record.args
            line.update(client=client, method=method, path=path, status=status)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`2025-01-31T09:00:00.123+00:00 INFO chat_http: message [request_id=... user_id=...]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def formatMessage(self, record: logging.LogRecord) -> str:  # before the traceback, if any
        text = super().formatMessage(record)
        if (request_id := getattr(record, "request_id", None)) is not None:
            user = getattr(record, "user_id", None)
            text += f" [request_id={request_id}" + (f" user_id={user}]" if user is not None else "]")
        return text


def logging_config(level: str = LOG_LEVELS[0], format: str = LOG_FORMATS[0]) -> dict[str, Any]:
    """A dictConfig for the root logger and uvicorn's, one handler on stderr; given to uvicorn as `log_config`
    so its workers apply it too."""
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": format,
        "filters": ["redact", "request"],
    }
    # uvicorn's and Litestar's loggers: no handler of their own, to the root's at the same level
    propagate = {"handlers": [], "propagate": True, "level": level.upper()}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactTokens}, "request": {"()": RequestContext}},
        "formatters": {"text": {"()": TextFormatter}, "json": {"()": JsonFormatter}},
        "handlers": {"default": handler},
        "loggers": {
            "uvicorn": propagate,
            "uvicorn.error": propagate,
            "uvicorn.access": propagate,
            "litestar": propagate,
            # Alembic tells of each plugin and connection it sets up: noise unless debugging.
            "alembic": {"level": "DEBUG" if level == "debug" else "WARNING"},
        },
        "root": {"handlers": ["default"], "level": level.upper()},
    }


def configure_logging(level: str = LOG_LEVELS[0], format: str = LOG_FORMATS[0]) -> None:
    logging.config.dictConfig(logging_config(level, format))


@dataclass
class ChatLoggingConfig(LoggingConfig):
    """Litestar's exception logging, with our configuration in place of Litestar's own (which would replace the
    root logger's handler with its queue handler and format)."""

    level: str = LOG_LEVELS[0]
    format: str = LOG_FORMATS[0]

    def configure(self) -> GetLogger:
        configure_logging(self.level, self.format)
        return logging.getLogger


def request_id(scope: Scope) -> str:
    """The caller's X-Request-ID when it is short and plain, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            given = value.decode("latin-1")
            if _SANE_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class RequestIds:
    """Outermost ASGI layer: gives each HTTP request and socket an id for the log lines it causes (uvicorn's
    access line included, logged from inside `send`), and echoes it in an HTTP response's `X-Request-ID`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        current = _Request(request_id(scope), scope)
        token = _current.set(current)
        try:
            if scope["type"] == ScopeType.WEBSOCKET:
                # A socket's lines carry the id too, but its frames skip the wrapper: it would sit on every frame
                # of the send path for one header on the handshake.
                await self.app(scope, receive, send)
                return
            header = (REQUEST_ID_HEADER.encode(), current.request_id.encode())

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), header]
                await send(message)

            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
