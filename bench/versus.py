"""Two revisions side by side in one run: what a feature costs the send path, measured so that the host's noise
falls on both alike.

Both servers run at once, each on a database of its own; the sequential send and the 20-pair load are run in short
slices that alternate between them (this one first, then the other first, and so on). The CPU time a shared host
steals comes and goes over seconds; a slice of each side every few seconds sees the same weather, where two runs
one after the other do not. Each figure is the median over the slices; the change, the median over the rounds of
the two sides' ratio.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from bench import sockets
from bench.seed import Seeder
from bench.servers import Target

from tests.e2e.conftest import token_for

SIDES = ("this", "against")
FIGURES: dict[str, tuple[str, str]] = {  # name: (scenario, figure in its result)
    "sequential_msg_per_s": ("sequential", "msg_per_s"),
    "sequential_p99_ms": ("sequential", "rtt.p99_ms"),
    "pairs_msg_per_s": ("concurrent", "delivered_msg_per_s"),
    "pairs_p99_ms": ("concurrent", "latency.p99_ms"),
}


@attrs.frozen(kw_only=True)
class Slices:
    rounds: int  # slices of each scenario on each side
    sequential: int  # messages per sequential slice
    seconds: float  # length of a 20-pair slice
    pairs: int = 20


@attrs.define
class _Side:
    target: Target
    sender: str
    pairs: list[tuple[str, str]]
    results: dict[str, list[dict[str, Any]]] = attrs.field(factory=lambda: {"sequential": [], "concurrent": []})


def _figure(result: dict[str, Any], path: str) -> float:
    value: Any = result
    for key in path.split("."):
        value = value[key]
    return float(value)


async def _side(target: Target, pairs: int) -> _Side:
    seeder = Seeder(target.env["CHAT_DATABASE_URL"])
    try:
        alice, bob = await seeder.users(2, "sender")
        (room,) = await seeder.rooms([(alice, bob)])
        people = await seeder.users(2 * pairs, "pair")
        couples = list(zip(people[::2], people[1::2], strict=True))
        rooms = await seeder.rooms(couples)
    finally:
        await seeder.close()

    def ws(user: int, room_id: int) -> str:
        return f"{target.ws_url}?token={token_for(user)}&room_id={room_id}"

    return _Side(
        target=target,
        sender=ws(alice, room),
        pairs=[(ws(a, r), ws(b, r)) for (a, b), r in zip(couples, rooms, strict=True)],
    )


async def versus(this: Target, against: Target, slices: Slices, *, settle: Callable[[Target], None]) -> dict[str, Any]:
    """The send figures of both servers, slice by slice and as medians, and how much higher (+) or lower (-) this
    revision's figures are than `against`'s (`this_vs_against_pct`, the median of the rounds' ratios)."""
    sides = {"this": await _side(this, slices.pairs), "against": await _side(against, slices.pairs)}
    for round_no in range(slices.rounds):
        order: Sequence[str] = SIDES if round_no % 2 == 0 else SIDES[::-1]
        for name in order:
            side = sides[name]
            settle(side.target)
            side.results["sequential"].append(
                await sockets.sequential(
                    side.target, side.sender, count=slices.sequential, limit=60, tag=f"v{round_no}"
                )
            )
        for name in order:
            side = sides[name]
            settle(side.target)
            side.results["concurrent"].append(
                await sockets.concurrent(side.target, side.pairs, seconds=slices.seconds, window=1, tag=f"v{round_no}")
            )
    medians = {
        name: {
            figure: round(statistics.median(_figure(r, path) for r in side.results[scenario]), 2)
            for figure, (scenario, path) in FIGURES.items()
        }
        for name, side in sides.items()
    }
    # Each round's two slices ran seconds apart: their ratio cancels most of the host's weather, so the change
    # is the median of the rounds' ratios, not the ratio of the medians.
    change = {
        figure: round(
            100
            * statistics.median(
                _figure(mine, path) / _figure(theirs, path) - 1
                for mine, theirs in zip(
                    sides["this"].results[scenario], sides["against"].results[scenario], strict=True
                )
                if _figure(theirs, path)
            ),
            1,
        )
        for figure, (scenario, path) in FIGURES.items()
    }
    lost = sum(r["lost"] for side in sides.values() for runs in side.results.values() for r in runs)
    steal = [r.get("steal_pct", 0.0) for side in sides.values() for runs in side.results.values() for r in runs]
    return {
        "slices": attrs.asdict(slices),
        **medians,
        "this_vs_against_pct": change,
        "lost": lost,
        "steal_pct_range": [min(steal), max(steal)] if steal else None,
        "per_slice": {
            name: {
                figure: [_figure(r, path) for r in side.results[scenario]]
                for figure, (scenario, path) in FIGURES.items()
            }
            for name, side in sides.items()
        },
    }
