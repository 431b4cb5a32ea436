"""Peak memory of `chat serve` while a 50 MB file streams through POST /api/v1/chat/uploads.

Starts a throwaway server (SQLite, local disk) on a free loopback port, uploads once, and prints the
server's RSS before and its peak RSS (VmHWM) after, as JSON and as a table. Bounded: one upload, one
server, 120 s at most.

    python bench/upload_memory.py [--size-mb 50]
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=50.0)
    args = parser.parse_args()
    size = int(args.size_mb * 2**20) - 4096  # just under the 50 MiB file limit
    with tempfile.TemporaryDirectory() as tmp:
        proc, server = start_server(Path(tmp))
        try:
            import asyncio

            from chat_adapters.sql.engine import create_engine, session_factory
            from chat_adapters.users import SqlUserDirectory

            async def add_user() -> int:
                engine = create_engine(server.env["CHAT_DATABASE_URL"])
                try:
                    user = await SqlUserDirectory(session_factory(engine)).add(name="Bench", email="bench@example.com")
                    return int(user.id)
                finally:
                    await engine.dispose()

            user_id = asyncio.run(add_user())
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
