"""The floor to measure chat against: a bare WebSocket broadcast server on the same stack (Litestar + uvicorn).

No auth, no database, no queue: a socket joins the room named in `?room_id=`, and every text frame it sends
is parsed, wrapped as `{"type": "new_message", "data": ...}` and sent to every socket in that room, the
sender included, as chat does. Served the way `chat serve` serves (uvloop, httptools, the same uvicorn
options and log configuration), so the difference to chat is what chat itself costs.

    python bench/baseline_app.py --port 8001
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

from litestar import Litestar, WebSocket, get, websocket

ROOMS: dict[str, set[WebSocket[Any, Any, Any]]] = {}


@websocket("/ws")
async def relay(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    members = ROOMS.setdefault(socket.query_params.get("room_id", "0"), set())
    members.add(socket)
    try:
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                text = message.get("text")
                event = json.loads(text if isinstance(text, str) else "")
            except ValueError:
                continue
            frame = json.dumps({"type": "new_message", "data": event.get("data")})
            for peer in list(members):
                with contextlib.suppress(Exception):  # a peer that is gone
                    await peer.send_text(frame)
    finally:
        members.discard(socket)


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar([relay, health])


def main() -> int:
    import uvicorn

    from chat_http.logs import logging_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--deflate", action="store_true", help="accept permessage-deflate (chat serve does not)")
    args = parser.parse_args()
    uvicorn.run(  # the options `chat serve` passes (src/chat_http/cli.py), but for ws_max_size
        app,
        host=args.host,
        port=args.port,
        ws_ping_interval=20.0,
        ws_per_message_deflate=args.deflate,
        log_config=logging_config(),
        timeout_graceful_shutdown=10,
        proxy_headers=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
