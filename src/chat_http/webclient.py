"""The browser client: one page and its static files under a strict CSP; with `chat serve --dev`, sign-in by email."""

from __future__ import annotations

import functools
import html
import json
import re
from pathlib import Path
from typing import Any

import attrs
from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK

from chat_adapters.sql.engine import create_engine, session_factory
from chat_adapters.sql.users import SqlUserDirectory
from chat_http.openapi import errors
from chat_http.runtime import Rt
from chat_http.settings import Settings
from chat_http.tokens import AuthError, mint_token
from chat_http.wiring import chat_layout
from chatcore import InvalidError, NotFoundError, User, UserId
from chatcore.codec import loads, structure
from chatcore.uploads import FILE_TYPES, UploadPolicy

WEB_DIR = Path(__file__).with_name("web")
ASSET_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
}
DEV_TOKEN_TTL = 12 * 3600
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")

# No inline script or style anywhere; sockets to this host; images and media from this host (signed
# /static links), blob: (previews of what is being sent) and https: (avatars, S3 presigned file links).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data: https:",
        "media-src 'self' blob: https:",
        "connect-src 'self' ws: wss:",
        "font-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # signed file links must not leak to other sites
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
    "Cache-Control": "no-cache",
}


@attrs.frozen(kw_only=True)
class WebUser:
    id: UserId
    name: str
    email: str
    avatar_url: str | None

    @classmethod
    def of(cls, user: User) -> WebUser:
        return cls(id=user.id, name=user.name, email=user.email, avatar_url=user.avatar_url)


@attrs.frozen(kw_only=True)
class DevSignIn:
    email: str
    name: str | None = None


@attrs.frozen(kw_only=True)
class DevToken:
    token: str
    user: WebUser


@functools.cache
def _asset_names() -> frozenset[str]:
    return frozenset(p.name for p in WEB_DIR.iterdir() if p.is_file())


def _read(name: str, *, fresh: bool) -> bytes:
    """Package files, read once; in dev mode on every request, so edits show on reload."""
    return (WEB_DIR / name).read_bytes() if fresh else _cached(name)


@functools.cache
def _cached(name: str) -> bytes:
    return (WEB_DIR / name).read_bytes()


def page_html(settings: Settings, policy: UploadPolicy) -> bytes:
    """The page; it learns from two attributes whether the server runs with --dev and which files it takes, and
    its files' links carry the mount path; nothing else is templated (the scripts find the API from their own
    URL)."""
    page = _read("index.html", fresh=settings.dev)
    if settings.dev:
        page = page.replace(b'data-dev="false"', b'data-dev="true"', 1)
    page = page.replace(b'data-upload-policy=""', b'data-upload-policy="%s"' % upload_policy_attr(policy), 1)
    if settings.mount_path:  # CHAT_MOUNT_PATH is checked, a plugin's `path` is the host's code: escaped all the same
        page = page.replace(b'="/web/', f'="{html.escape(settings.mount_path)}/web/'.encode())
    return page


@get(["/", "/chat"], opt={"exclude_from_auth": True}, include_in_schema=False, sync_to_thread=False)
def chat_page(rt: Rt) -> Response[bytes]:
    return Response(
        page_html(rt.settings, rt.chat.policy), media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS
    )


def upload_policy_attr(policy: UploadPolicy) -> bytes:
    """What the server's upload policy lets through, for the page to filter its file picker and refuse early.

    From the policy itself (extensions by kind, each kind's size limit), so the page never drifts from it.
    """
    allowed = {
        kind.value: {"extensions": [ft.extension for ft in FILE_TYPES[kind]], "max_size": limit}
        for kind, limit in policy.limits.items()
        if kind in FILE_TYPES
    }
    return html.escape(json.dumps(allowed, separators=(",", ":")), quote=True).encode()


@get("/web/{name:str}", opt={"exclude_from_auth": True}, include_in_schema=False, sync_to_thread=False)
def web_asset(rt: Rt, name: FromPath[str]) -> Response[bytes]:
    """Only files that ship in the package folder, by plain name, with a content type from our own table."""
    media_type = ASSET_TYPES.get(name.rpartition(".")[2])
    if media_type is None or name not in _asset_names():
        raise NotFoundException("no such file")
    return Response(_read(name, fresh=rt.settings.dev), media_type=media_type, headers=SECURITY_HEADERS)


@get(
    "/api/v1/chat/me",
    summary="The signed-in user (the web client shows who it is)",
    tags=["chat"],
    responses=errors(),
)
async def whoami(request: Request[UserId, Any, Any], rt: Rt) -> WebUser:
    return WebUser.of(await rt.chat.user(request.user))


@post(
    "/api/v1/dev/token",
    opt={"exclude_from_auth": True},
    status_code=HTTP_200_OK,
    tags=["dev"],
    summary="Only with `chat serve --dev`: a token for the user with this email; `name` creates a missing user",
)
async def dev_token(request: Request[Any, Any, Any], rt: Rt) -> DevToken:
    if not rt.settings.dev:  # never registered without --dev; this guards a mistaken registration
        raise NotFoundException()
    body = structure(loads(await request.body() or b"null"), DevSignIn, where="body")
    email = body.email.strip()
    if not _EMAIL.fullmatch(email) or len(email) > 254:
        raise InvalidError("email must be an email address", field="email")
    name = (body.name or "").strip()
    if len(name) > 100:
        raise InvalidError("name must have at most 100 characters", field="name")
    if rt.settings.users_table is not None:
        raise InvalidError("users come from the host's table (CHAT_USERS_TABLE): sign in with a token from the host")
    # Dev only: a short-lived engine rather than a user registry in the composition root for every deployment.
    layout = chat_layout(rt.settings)
    engine = create_engine(rt.settings.database_url)
    try:
        directory = SqlUserDirectory(session_factory(engine, layout), layout)
        user = await directory.by_email(email)
        if user is None:
            if not name:
                raise NotFoundError("no user has this email; give a name to create one", field="email")
            user, _ = await directory.upsert_by_email(name=name, email=email)
    finally:
        await engine.dispose()
    try:
        token = mint_token(rt.settings, user.id, ttl=min(DEV_TOKEN_TTL, rt.settings.jwt_max_ttl or DEV_TOKEN_TTL))
    except AuthError as exc:
        raise InvalidError(exc.detail) from None
    return DevToken(token=token, user=WebUser.of(user))


def client_routes() -> list[HTTPRouteHandler]:
    """The page and its files, without a token: all a host needs to serve the browser client beside the API."""
    return [chat_page, web_asset]


def web_routes(settings: Settings) -> list[HTTPRouteHandler]:
    """The page, its files and `me`; the dev sign-in exists only when the server runs with --dev."""
    return [*client_routes(), whoami, *([dev_token] if settings.dev else [])]
