"""Swagger UI at /schema/swagger from files the package ships, so it shows offline and behind strict proxies.

Litestar's plugin loads swagger-ui-dist from a CDN by default. No PyPI package ships a current one on its own
(swagger-ui-bundle carries 4.15, which cannot show our OpenAPI 3.1 document; the sidecars need Django), so
swagger_ui/ holds the few files of the release named in swagger_ui/VERSION, with their licences;
scripts/vendor-swagger-ui.sh replaces them.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

ASSETS_DIR = Path(__file__).with_name("swagger_ui")
ASSETS_PATH = "/schema/assets"


def swagger_plugin(mount_path: str = "") -> SwaggerRenderPlugin:
    """The page at /schema/swagger, loading its scripts, stylesheet and icon from `swagger_assets`."""
    base = f"{mount_path}{ASSETS_PATH}"
    return SwaggerRenderPlugin(
        js_url=f"{base}/swagger-ui-bundle.js",
        css_url=f"{base}/swagger-ui.css",
        standalone_preset_js_url=f"{base}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{base}/favicon-32x32.png'>",
    )


def swagger_assets() -> Router:
    """The shipped files, public like the schema itself; cached for a day (a new release changes the package)."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[ASSETS_DIR],
        name="swagger-assets",
        opt={"exclude_from_auth": True},
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=86400),
    )
