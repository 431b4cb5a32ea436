"""Entry point for servers that import the app by name (uvicorn workers, gunicorn)."""

from __future__ import annotations

from litestar import Litestar

from chat_http.app import create_app
from chat_http.cli import tune_gc
from chat_http.settings import load_settings


def create_from_env() -> Litestar:
    """Each `chat serve --workers N` process builds its app here, and tunes its collector like `chat serve`."""
    app = create_app(load_settings())
    tune_gc()
    return app
