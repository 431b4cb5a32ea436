"""Swagger UI at /schema/swagger from files the package ships, so it shows offline and behind strict proxies.

Litestar's plugin loads swagger-ui-dist from a CDN by default. No PyPI package ships a current one on its own
(swagger-ui-bundle carries 4.15, which cannot show our OpenAPI 3.1 document; the sidecars need Django), so
swagger_ui/ holds the few files of the release named in swagger_ui/VERSION, with their licences;
scripts/vendor-swagger-ui.sh replaces them.
"""

from __future__ import annotations

import functools
from pathlib import Path

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.params import FromPath

ASSETS_DIR = Path(__file__).with_name("swagger_ui")
ASSETS_PATH = "/schema/assets"
ASSET_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8", "png": "image/png"}


def swagger_plugin(mount_path: str = "") -> SwaggerRenderPlugin:
    """The page at /schema/swagger, loading its scripts, stylesheet and icon from `swagger_asset`."""
    base = f"{mount_path}{ASSETS_PATH}"
    return SwaggerRenderPlugin(
        js_url=f"{base}/swagger-ui-bundle.js",
        css_url=f"{base}/swagger-ui.css",
        standalone_preset_js_url=f"{base}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{base}/favicon-32x32.png'>",
    )


@functools.cache
def _shipped() -> dict[str, bytes]:
    """Every shipped file the page loads, read once (about 2 MB, kept for the process's life)."""
    return {p.name: p.read_bytes() for p in ASSETS_DIR.iterdir() if p.suffix[1:] in ASSET_TYPES}


@get(f"{ASSETS_PATH}/{{name:str}}", opt={"exclude_from_auth": True}, include_in_schema=False, sync_to_thread=False)
def swagger_asset(name: FromPath[str]) -> Response[bytes]:
    """Public like the schema; like the web client's files: only shipped names, types from our own table."""
    data = _shipped().get(name)
    if data is None:
        raise NotFoundException("no such file")
    media_type = ASSET_TYPES[name.rpartition(".")[2]]
    headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    return Response(data, media_type=media_type, headers=headers)
