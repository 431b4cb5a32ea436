"""Peak memory of `chat serve` while a 50 MB file streams through POST /api/v1/chat/uploads, or while N
sockets each send a 50 MB file as base64 in one `send_message` frame at once (`--frames N`).

Starts a throwaway server (SQLite, local disk) on a free loopback port, uploads once (or sends the frames,
each retried after a `busy` error), and prints the server's RSS before and its peak RSS (VmHWM) after, as
JSON and as a table. Bounded: one server, 120 s for the upload, 20 attempts per frame.

    python bench/upload_memory.py [--size-mb 50] [--frames 6]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import start_server, stop_server, token_for  # noqa: E402


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def pdf_body(size: int) -> Iterator[bytes]:
    """A PDF header and then zeros, generated in 1 MiB pieces so the client holds little either."""
    head = b"%PDF-1.4\n"
    yield head
    left = size - len(head)
    while left > 0:
        piece = min(left, 2**20)
        yield bytes(piece)
        left -= piece


def multipart(size: int, boundary: str) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    yield from pdf_body(size)
    yield f"\r\n--{boundary}--\r\n".encode()


async def add_users(database_url: str, count: int) -> list[int]:
    from chat_adapters.sql.engine import create_engine, session_factory
    from chat_adapters.sql.users import SqlUserDirectory

    engine = create_engine(database_url)
    try:
        directory = SqlUserDirectory(session_factory(engine))
        return [int((await directory.add(name=f"Bench {n}", email=f"bench{n}@example.com")).id) for n in range(count)]
    finally:
        await engine.dispose()


async def send_frames(ws_url: str, senders: list[tuple[str, int]], size: int) -> dict[str, int]:
    """Each (token, room) sender sends one file frame, all at once; a `busy` error is answered by sending again."""
    from websockets.asyncio.client import connect

    data = base64.b64encode(b"".join(pdf_body(size))).decode()
    outcomes = {"stored": 0, "busy": 0, "failed": 0}

    async def one(n: int, token: str, room: int) -> None:
        async with connect(f"{ws_url}?token={token}&room_id={room}", max_size=None, open_timeout=10) as ws:
            frame = json.dumps({"type": "send_message", "data": {
                "message_type": "file", "file_name": "big.pdf", "file_size": size, "file_data": data,
                "client_msg_id": f"frame-{n}"}})  # fmt: skip
            for _ in range(20):
                await ws.send(frame)
                while True:
                    event = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    if event["type"] in ("new_message", "error") and event["data"].get("client_msg_id") == f"frame-{n}":
                        break
                if event["type"] == "new_message":
                    outcomes["stored"] += 1
                    return
                if event["data"]["code"] != "busy":
                    outcomes["failed"] += 1
                    return
                outcomes["busy"] += 1
                await asyncio.sleep(0.5)
            outcomes["failed"] += 1

    await asyncio.gather(*(one(n, token, room) for n, (token, room) in enumerate(senders)))
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=50.0)
    parser.add_argument("--frames", type=int, default=0, help="send this many file frames at once instead")
    args = parser.parse_args()
    size = int(args.size_mb * 2**20) - 4096  # just under the 50 MiB file limit
    with tempfile.TemporaryDirectory() as tmp:
        proc, server = start_server(Path(tmp))
        try:
            user_id, *others = asyncio.run(add_users(server.env["CHAT_DATABASE_URL"], 1 + max(1, args.frames)))
            if args.frames:
                senders = []  # one user each: a user may have 10 sockets at most
                with httpx.Client(base_url=server.base_url, timeout=30) as client:
                    for other in others:
                        headers = {"Authorization": f"Bearer {token_for(other)}"}
                        room = client.post("/api/v1/chat/rooms", json={"receiver_id": user_id}, headers=headers)
                        senders.append((token_for(other), int(room.json()["id"])))
                time.sleep(0.5)
                before = status_kb(proc.pid, "VmRSS")
                started = time.perf_counter()
                outcomes = asyncio.run(send_frames(server.ws_url, senders, size))
                elapsed = time.perf_counter() - started
                peak = status_kb(proc.pid, "VmHWM")
                result = {
                    "scenario": "frame_memory",
                    "frames": args.frames,
                    "file_mb": round(size / 2**20, 2),
                    "rss_before_mb": round(before / 1024, 1),
                    "peak_rss_mb": round(peak / 1024, 1),
                    "peak_growth_mb": round((peak - before) / 1024, 1),
                    "seconds": round(elapsed, 2),
                    **outcomes,
                }
                print(json.dumps(result))
                return 0 if outcomes["stored"] == args.frames else 1
            headers = {"Authorization": f"Bearer {token_for(user_id)}"}
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=120) as client:
                client.get("/api/v1/chat/rooms")  # warm up: imports, pools, first query
                time.sleep(0.5)
                before = status_kb(proc.pid, "VmRSS")
                peak_before = status_kb(proc.pid, "VmHWM")
                boundary = "benchboundary7f3a"
                started = time.perf_counter()
                reply = client.post(
                    "/api/v1/chat/uploads",
                    content=multipart(size, boundary),
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                )
                elapsed = time.perf_counter() - started
                peak = status_kb(proc.pid, "VmHWM")
            if reply.status_code != 201:
                print(f"upload failed: {reply.status_code} {reply.text}", file=sys.stderr)
                return 1
            result = {
                "scenario": "upload_memory",
                "file_mb": round(size / 2**20, 2),
                "rss_before_mb": round(before / 1024, 1),
                "peak_rss_mb": round(peak / 1024, 1),
                "peak_growth_mb": round((peak - max(before, peak_before)) / 1024, 1),
                "seconds": round(elapsed, 2),
                "mb_per_s": round(size / 2**20 / elapsed, 1),
            }
        finally:
            stop_server(proc)
    print(json.dumps(result))
    print(f"{'file':>10} {'rss before':>11} {'peak rss':>9} {'growth':>8} {'time':>7}")
    print(
        f"{result['file_mb']:>8} MB {result['rss_before_mb']:>8} MB {result['peak_rss_mb']:>6} MB "
        f"{result['peak_growth_mb']:>5} MB {result['seconds']:>5} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
