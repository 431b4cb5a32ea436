"""A group conversation under load (issue 17): one sender at a fixed rate, every member on a socket of their own.

The group is made over REST as a client would make it (`POST /rooms` with `name` and `member_ids`); the
members' sockets connect afterwards and join the group's channel on connect. Latency of each delivery is the
receiving socket's reader seeing the `new_message` minus the moment just before the sender's `ws.send`, both
`time.perf_counter()` on this one client process. Every loop is bounded in count and in time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import httpx
from bench.servers import Meter, Target
from bench.sockets import Peer, close_peers, errors_of, open_peers, percentiles, send_frame

from tests.e2e.conftest import token_for

API = "/api/v1/chat"
WARM_UP = 5  # messages each member receives before the measured run: the group's first lookups and caches


async def create_group(target: Target, members: Sequence[int], name: str = "Bench group") -> int:
    """The group's id: `members[0]` creates it (and owns it) with every other member in it."""
    owner, *others = members
    headers = {"Authorization": f"Bearer {token_for(owner)}"}
    async with httpx.AsyncClient(base_url=target.base_url + API, headers=headers, timeout=60) as client:
        response = await client.post("/rooms", json={"name": name, "member_ids": others})
    if response.status_code != 201:
        raise RuntimeError(f"POST /rooms (group): {response.status_code} {response.text[:300]}")
    return int(response.json()["id"])


def _frame(room: int | None, client_msg_id: str, i: int) -> str:
    if room is None:  # the baseline: its room is the one in the socket's URL
        return send_frame(client_msg_id, i)
    return send_frame(client_msg_id, i, room_id=room)


async def _all_arrived(peers: Sequence[Peer], count: int, within: float) -> bool:
    """Until every peer has `count` recorded arrivals, or `within` seconds overall."""
    deadline = time.perf_counter() + within
    for peer in peers:
        if not await peer.wait_arrivals(count, max(0.0, deadline - time.perf_counter())):
            return False
    return True


async def group(
    target: Target,
    urls: Sequence[str],
    *,
    room: int | None,
    rate: float,
    seconds: float,
    drain: float,
    in_flight: int,
    tag: str,
) -> dict[str, Any]:
    """`urls[0]` sends at `rate` msg/s for `seconds` (open loop, as the fixed-rate scenario); every other socket
    receives. Lost deliveries count against messages sent times receivers; the sender's own echo is reported apart
    (`echo`) and is not among the deliveries. At most `in_flight` messages may be sent and not yet echoed back
    to the sender, so a saturated server's backlog stays bounded; what is not sent in time is `not_sent`."""
    rss_before = target.rss_kb()
    peers = await open_peers(urls, chat=target.name == "chat")
    sender, receivers = peers[0], peers[1:]
    for peer in peers:
        peer.record = True
    try:
        for i in range(WARM_UP):
            await sender.ws.send(_frame(room, f"{tag}-w{i}", i))
        warmed = await _all_arrived(peers, WARM_UP, 30)
        for peer in peers:
            peer.arrivals.clear()
        count = max(1, int(rate * seconds))
        sent: dict[str, float] = {}
        lags: list[float] = []
        meter = Meter(target)
        t0 = time.perf_counter() + 0.05
        stop_at = t0 + seconds
        for i in range(count):
            at = t0 + i / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if i - len(sender.arrivals) >= in_flight:
                await sender.wait_arrivals(i - in_flight + 1, stop_at - time.perf_counter())
            if time.perf_counter() >= stop_at:
                break
            cid = f"{tag}-{i}"
            now = time.perf_counter()
            lags.append(now - at)
            sent[cid] = now
            await sender.ws.send(_frame(room, cid, i))
        sent_in = time.perf_counter() - t0
        drained = await _all_arrived(peers, len(sent), drain)
        usage = meter.read()
        measured = time.perf_counter() - t0 + 0.05  # the meter's window: sending and draining
        latencies: list[float] = []
        last: dict[str, float] = {}  # per message: when its last receiver had it
        for peer in receivers:
            for cid, arrived in peer.arrivals.items():
                if cid in sent:
                    latencies.append(arrived - sent[cid])
                    last[cid] = max(last.get(cid, 0.0), arrived - sent[cid])
        complete = [last[cid] for cid in sent if cid in last and all(cid in peer.arrivals for peer in receivers)]
        echoes = [sender.arrivals[cid] - sent[cid] for cid in sent if cid in sender.arrivals]
    finally:
        await close_peers(peers)
    expected = len(sent) * len(receivers)
    return {
        "members": len(peers),
        "receivers": len(receivers),
        "offered_msg_per_s": rate,
        "seconds": round(seconds, 1),
        "due": count,
        "sent": len(sent),
        "not_sent": count - len(sent),
        "send_rate": round(len(sent) / sent_in, 1),
        "expected_deliveries": expected,  # messages sent times receivers; the sender's echo apart
        "delivered": len(latencies),
        "lost": expected - len(latencies),
        "delivered_per_s": round(len(latencies) / sent_in, 1),
        "latency": percentiles(latencies),  # every delivery to every receiver
        "every_receiver": percentiles(complete),  # per message, until its last receiver had it
        "echo": {"lost": len(sent) - len(echoes), **percentiles(echoes)},
        "send_lag_p99_ms": percentiles(lags)["p99_ms"],
        "warmed_up": warmed,
        "drained": drained,
        "measured_seconds": round(measured, 2),
        # the server's CPU per message sent (its fan-out to every member's socket included)
        "server_cpu_ms_per_msg": round(10 * usage["server_cpu_pct"] * measured / len(sent), 2) if sent else None,
        "rss_before_sockets_mb": round(rss_before / 1024, 1),
        "errors": errors_of(peers),
        **usage,
    }
