"""Load generator and report for `chat serve`: throughput, latency, idle memory, REST reads (issue 8), groups (17).

Starts its own servers on free loopback ports: a bare baseline (bench/baseline_app.py) and, per database,
a real single-process `chat serve` (SQLite by default; PostgreSQL too with --postgres, in a throwaway
cluster). Each scenario prints one JSON line and a table; everything is also written to --out.
Every loop is bounded in count and time.

    python bench/run.py [--quick] [--postgres] [--durable-only] [--rev HEAD] [--out bench/results/latest.json]
                        [--only SCENARIO ...] [--profile DIR] [--no-baseline] [--window N] [--wait-quiet S]

The headline figures are on durable settings (SQLite synchronous FULL; PostgreSQL with fsync, synchronous_commit
and full_page_writes on); the send scenarios run again beside them on non-durable ones, and the summary says what
durability cost.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import sockets  # noqa: E402
from bench.group import create_group, group  # noqa: E402
from bench.pyspy import summarise  # noqa: E402
from bench.rest import rest  # noqa: E402
from bench.seed import Seeder  # noqa: E402
from bench.servers import (  # noqa: E402
    BENCH_ENV,
    Postgres,
    Target,
    postgres,
    profiled,
    raise_nofile,
    settle,
    start_baseline,
    start_chat,
    wait_quiet,
)
from bench.versus import Slices, versus  # noqa: E402

from tests.e2e.conftest import token_for  # noqa: E402
from tests.pg import create_database  # noqa: E402

SCENARIOS = ("sequential", "latency", "concurrent", "idle", "rest", "group", "versus")
# The headline runs commit durably (SQLite synchronous FULL, the default; PostgreSQL with fsync, synchronous_commit
# and full_page_writes on). Beside them the send scenarios run again on settings that give durability up for speed.
NOT_DURABLE = {"sqlite": "sqlite-normal", "postgres": "postgres-nofsync"}
DURABLE = {fast: durable for durable, fast in NOT_DURABLE.items()}
WRITES = ("sequential", "latency", "concurrent")  # what the durability of a commit can change
CHAT_ENV = {"sqlite-normal": {"CHAT_SQLITE_SYNCHRONOUS": "normal"}}
SRC: list[Path | None] = [None]  # --rev: the exported source tree `chat serve` imports (default: ./src)
AGAINST: list[tuple[Path, str] | None] = [None]  # --against: the other revision's exported src/ and its name
LOGS: list[Path] = [ROOT / "bench" / "results"]  # server logs with a traceback are copied here
QUIET: list[float] = [0.0]  # --wait-quiet: seconds to wait for other work on the machine to die down


def ready(target: Target) -> None:
    """Before each scenario: the server has worked off the last one, and (if asked) the machine is quiet."""
    settle(target)
    if QUIET[0] > 0:
        level = wait_quiet(QUIET[0])
        if level >= 25:
            print(f"(machine still busy: {level}% of a core in use by others)", flush=True)


@attrs.frozen
class Plan:
    sequential: int
    sequential_limit: float
    rates: tuple[int, ...]
    rate_seconds: dict[int, float]
    drain: float
    in_flight: int
    pairs: tuple[int, ...]
    concurrent_seconds: float
    idle: int
    idle_hold: float
    rest_sizes: tuple[int, ...]
    rest_rooms: int
    rest_requests: int
    rest_list_requests: int
    group_members: int
    group_rate: int
    group_seconds: float
    versus: Slices


FULL = Plan(
    sequential=5_000,
    sequential_limit=120,
    rates=(10, 100, 1_000),
    rate_seconds={10: 30, 100: 20, 1_000: 10},
    drain=30,
    in_flight=100,
    pairs=(20, 200),
    concurrent_seconds=30,
    idle=10_000,
    idle_hold=10,
    rest_sizes=(100_000, 1_000_000),
    rest_rooms=1_000,
    rest_requests=300,
    rest_list_requests=100,
    group_members=100,
    group_rate=100,
    group_seconds=20,
    versus=Slices(rounds=8, sequential=600, seconds=5),
)
QUICK = Plan(
    sequential=300,
    sequential_limit=10,
    rates=(10, 100, 1_000),
    rate_seconds={10: 3, 100: 3, 1_000: 3},
    drain=5,
    in_flight=100,
    pairs=(20, 200),
    concurrent_seconds=4,
    idle=500,
    idle_hold=2,
    rest_sizes=(10_000, 100_000),
    rest_rooms=200,
    rest_requests=50,
    rest_list_requests=20,
    group_members=100,
    group_rate=100,
    group_seconds=5,
    versus=Slices(rounds=3, sequential=200, seconds=2),
)

# --------------------------------------------------------------------------------------------- output


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in headers], *[["-" if v is None else str(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _usage(r: dict[str, Any]) -> str:
    db = f", db {r['db_cpu_pct']}%" if "db_cpu_pct" in r else ""
    others = f"other processes {r['others_cpu_pct']}%" if "others_cpu_pct" in r else ""
    client = f"client CPU {r['client_cpu_pct']}%, {others}"
    return f"server CPU {r['server_cpu_pct']}%{db}, {client}; server RSS {r['server_rss_mb']} MB"


def human(r: dict[str, Any]) -> str:
    """The table printed under each scenario's JSON line."""
    who = f"{r['target']} ({r['backend']})" if r["target"] == "chat" else "baseline"
    kind = r["scenario"]
    if kind == "sequential":
        rtt = r["rtt"]
        body = table(
            ["target", "messages", "msg/s", "rtt p50 ms", "p95 ms", "p99 ms", "lost", "vs baseline"],
            [[who, r["messages"], r["msg_per_s"], rtt["p50_ms"], rtt["p95_ms"], rtt["p99_ms"], r["lost"],
              r.get("vs_baseline", {}).get("msg_per_s")]],
        )  # fmt: skip
    elif kind == "latency":
        lat = r["latency"]
        body = table(
            ["target", "offered/s", "achieved/s", "due", "not sent", "delivered", "lost", "p50 ms", "p95 ms",
             "p99 ms", "max ms", "saturated"],
            [[who, r["offered_msg_per_s"], r["achieved_msg_per_s"], r["due"], r["not_sent"], r["delivered"],
              r["lost"], lat["p50_ms"], lat["p95_ms"], lat["p99_ms"], lat["max_ms"], r["saturated"]]],
        )  # fmt: skip
    elif kind == "concurrent":
        lat = r["latency"]
        vs = r.get("vs_baseline", {})
        body = table(
            ["target", "pairs", "seconds", "delivered msg/s", "p50 ms", "p99 ms", "lost", "vs baseline msg/s",
             "vs baseline p99"],
            [[who, r["pairs"], r["seconds"], r["delivered_msg_per_s"], lat["p50_ms"], lat["p99_ms"], r["lost"],
              vs.get("delivered_msg_per_s"), vs.get("p99_ms")]],
        )  # fmt: skip
    elif kind == "group":
        lat, every, echo = r["latency"], r["every_receiver"], r["echo"]
        body = table(
            ["target", "members", "offered/s", "sent", "not sent", "deliveries", "lost", "p50 ms", "p90 ms",
             "p99 ms", "max ms", "every receiver p99 ms", "echo p99 ms", "vs baseline p99"],
            [[who, r["members"], r["offered_msg_per_s"], r["sent"], r["not_sent"], f"{r['delivered']:,}", r["lost"],
              lat["p50_ms"], lat["p90_ms"], lat["p99_ms"], lat["max_ms"], every["p99_ms"], echo["p99_ms"],
              r.get("vs_baseline", {}).get("p99_ms")]],
        )  # fmt: skip
        body += (
            f"\n(deliveries: messages sent x {r['receivers']} receivers, the sender's own echo apart"
            f" ({echo['lost']} echoes lost); server CPU per message {r.get('server_cpu_ms_per_msg')} ms;"
            " targets: p99 sender -> every receiver <= 50 ms, nothing lost)"
        )
    elif kind == "idle":
        body = table(
            ["target", "connections", "failed", "connect/s", "RSS before MB", "RSS after MB", "KB/connection",
             "idle server CPU %"],
            [[who, r["connections"], sum(r["failed"].values()), r["connect_per_s"], r["rss_before_mb"],
              r["rss_after_mb"], r["rss_per_connection_kb"], r["hold_server_cpu_pct"]]],
        )  # fmt: skip
        cpu = (
            f"server CPU {r['connect_server_cpu_pct']}%, client CPU {r['connect_client_cpu_pct']}%,"
            f" other processes {r['connect_others_cpu_pct']}%"
        )
        return f"{body}\n(while connecting: {cpu}; while idle: {_usage(r)})"
    elif kind == "versus":
        this, other, change = r["this"], r["against"], r["this_vs_against_pct"]
        rows = [
            [who, name, this[name], other[name], change.get(name)]
            for name in ("sequential_msg_per_s", "sequential_p99_ms", "pairs_msg_per_s", "pairs_p99_ms")
        ]
        body = table(["target", "figure (median of slices)", "this", f"against {r['against_src']}", "change %"], rows)
        return f"{body}\n({r['slices']['rounds']} alternating slices each; steal {r['steal_pct_range']} %)"
    else:  # rest
        rows = [
            [who, f"{s['messages']:,}", s["database_mb"], what, s[key]["p50_ms"], s[key]["p95_ms"], s[key]["p99_ms"],
             s[key].get("bytes")]
            for s in r["sizes"]
            for what, key in (("room list", "room_list"), ("... after a read", "room_list_after_read"),
                              ("room list ?limit=50", "room_page"),
                              ("... next page (cursor)", "room_next_page"), ("history page", "history_page"),
                              ("history before_id", "history_before_id"), ("message search", "search"))
            if key in s
        ]  # fmt: skip
        body = table(["target", "messages", "db MB", "request", "p50 ms", "p95 ms", "p99 ms", "bytes"], rows)
        first = ", ".join(
            f"{s['room_list_first_ms']} ms at {s['messages']:,}" for s in r["sizes"] if "room_list_first_ms" in s
        )
        if first:
            body += f"\n(room list read whole, the first request after seeding: {first})"
        return body + "\n(" + _usage(r["sizes"][-1]) + ")"
    return f"{body}\n({_usage(r)})"


@attrs.define
class Report:
    meta: dict[str, Any]
    results: list[dict[str, Any]] = attrs.field(factory=list)
    profiles: dict[str, Any] = attrs.field(factory=dict)
    _last: float = attrs.field(factory=time.perf_counter)

    def add(self, scenario: str, target: Target, figures: dict[str, Any]) -> dict[str, Any]:
        result = {"scenario": scenario, "target": target.name, "backend": target.backend, **figures}
        now = time.perf_counter()
        result["bench_seconds"] = round(now - self._last, 1)  # since the previous result: setup included
        self._last = now
        baseline = self.find(scenario, "baseline", "-", pairs=figures.get("pairs"))
        if target.name == "chat" and baseline is not None:
            result["vs_baseline"] = _ratios(scenario, result, baseline)
        self.results.append(result)
        print(json.dumps(result), flush=True)
        print(human(result) + "\n", flush=True)
        return result

    def find(self, scenario: str, target: str, backend: str, **match: Any) -> dict[str, Any] | None:
        for r in self.results:
            if (r["scenario"], r["target"], r["backend"]) == (scenario, target, backend) and all(
                r.get(k) == v for k, v in match.items() if v is not None
            ):
                return r
        return None


def _ratios(scenario: str, chat: dict[str, Any], base: dict[str, Any]) -> dict[str, float | None]:
    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a is not None and b else None

    if scenario == "group":
        return {"p50_ms": ratio(chat["latency"]["p50_ms"], base["latency"]["p50_ms"]),
                "p99_ms": ratio(chat["latency"]["p99_ms"], base["latency"]["p99_ms"])}  # fmt: skip
    if scenario == "sequential":
        return {"msg_per_s": ratio(chat["msg_per_s"], base["msg_per_s"]), "p99_ms": ratio(
            chat["rtt"]["p99_ms"], base["rtt"]["p99_ms"])}  # fmt: skip
    return {
        "delivered_msg_per_s": ratio(chat["delivered_msg_per_s"], base["delivered_msg_per_s"]),
        "p99_ms": ratio(chat["latency"]["p99_ms"], base["latency"]["p99_ms"]),
    }


def targets(report: Report, backends: list[str]) -> list[dict[str, Any]]:
    """The issue's targets, one row per target and database."""
    checks: list[tuple[str, str, Callable[[str], float | None], float, bool]] = [
        ("sequential send", "msg/s", lambda b: _get(report, "sequential", b, "msg_per_s"), 1_000, True),
        ("20 pairs delivered", "msg/s",
         lambda b: _get(report, "concurrent", b, "delivered_msg_per_s", pairs=20), 3_000, True),
        ("p99 at 100 msg/s", "ms", lambda b: _get(report, "latency", b, "latency.p99_ms", offered_msg_per_s=100),
         25, False),
        ("RSS per idle connection", "KB", lambda b: _get(report, "idle", b, "rss_per_connection_kb"), 100, False),
        ("REST room list p99 (largest db)", "ms", lambda b: _rest(report, b, "room_list"), 20, False),
        ("REST room list after a read p99", "ms", lambda b: _rest(report, b, "room_list_after_read"), 20, False),
        ("REST room list ?limit=50 p99 (largest db)", "ms", lambda b: _rest(report, b, "room_page"), 20, False),
        ("REST history page p99 (largest db)", "ms", lambda b: _rest(report, b, "history_page"), 20, False),
        ("message search p99 (largest db)", "ms", lambda b: _rest(report, b, "search"), 50, False),
        ("group of 100: p99 sender -> every receiver", "ms",
         lambda b: _get(report, "group", b, "latency.p99_ms"), 50, False),
        ("group of 100: deliveries lost", "deliveries", lambda b: _get(report, "group", b, "lost"), 0, False),
        ("sequential send vs --against", "%",
         lambda b: _get(report, "versus", b, "this_vs_against_pct.sequential_msg_per_s"), -5, True),
        ("20 pairs delivered vs --against", "%",
         lambda b: _get(report, "versus", b, "this_vs_against_pct.pairs_msg_per_s"), -5, True),
    ]  # fmt: skip
    rows = []
    for name, unit, get, goal, at_least in checks:
        for backend in backends:
            value = get(backend)
            met = None if value is None else (value >= goal if at_least else value <= goal)
            rows.append(
                {"target": name, "backend": backend, "value": value, "unit": unit,
                 "goal": f"{'>=' if at_least else '<='} {goal:,}", "met": met}
            )  # fmt: skip
    return rows


def _get(report: Report, scenario: str, backend: str, path: str, **match: Any) -> float | None:
    found = report.find(scenario, "chat", backend, **match)
    value: Any = found
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, int | float) else None


def _rest(report: Report, backend: str, key: str) -> float | None:
    found = report.find("rest", "chat", backend)
    return found["sizes"][-1][key]["p99_ms"] if found and key in found["sizes"][-1] else None


# ------------------------------------------------------------------------------------------ scenarios


def _ws(target: Target, token: str, room: int | str) -> str:
    return f"{target.ws_url}?token={token}&room_id={room}"


async def baseline(report: Report, plan: Plan, workdir: Path, only: set[str], window: int) -> None:
    target = start_baseline(workdir / "baseline")
    try:
        url = f"{target.ws_url}?room_id=sequential"
        if "sequential" in only:
            ready(target)
            figures = await sockets.sequential(target, url, count=plan.sequential, limit=plan.sequential_limit, tag="s")
            report.add("sequential", target, figures)
        if "concurrent" in only:
            for pairs in plan.pairs:
                ready(target)
                urls = [(f"{target.ws_url}?room_id=p{k}",) * 2 for k in range(pairs)]
                figures = await sockets.concurrent(
                    target, urls, seconds=plan.concurrent_seconds, window=window, tag=f"c{pairs}"
                )
                report.add("concurrent", target, figures)
        if "group" in only:  # its rooms are whatever `?room_id=` names: a group is as many sockets in one
            ready(target)
            members = [f"{target.ws_url}?room_id=group"] * plan.group_members
            report.add("group", target, await _group(target, plan, members, room=None))
    finally:
        target.stop()


async def _group(target: Target, plan: Plan, urls: list[str], *, room: int | None) -> dict[str, Any]:
    return await group(
        target, urls, room=room, rate=plan.group_rate, seconds=plan.group_seconds, drain=plan.drain,
        in_flight=plan.in_flight, tag="g",
    )  # fmt: skip


async def _database(backend: str, purpose: str, workdir: Path, pg: Postgres | None) -> str:
    if backend.startswith("sqlite"):
        (workdir / backend / purpose).mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{workdir / backend / purpose / 'chat.db'}"
    assert pg is not None
    return pg.server.url(await create_database(pg.server, name=f"bench_{purpose}"))


@contextlib.contextmanager
def _chat(
    backend: str, purpose: str, workdir: Path, url: str, pg: Postgres | None, *, src: Path | None = None
) -> Iterator[Target]:
    """`chat serve` from ./src, --rev's tree, or `src`."""
    db_pid = pg.postmaster_pid if pg and backend.startswith("postgres") else None
    target = start_chat(
        workdir / f"{backend}-{purpose}",
        url,
        backend=backend,
        db_pid=db_pid,
        src=src or SRC[0],
        env=CHAT_ENV.get(backend),
    )
    try:
        yield target
    finally:
        target.stop()
        if "Traceback" in target.log_path.read_text(errors="replace"):
            kept = LOGS[0] / f"{backend}-{purpose}-server.log"
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target.log_path, kept)
            print(f"warning: the {backend} server logged a traceback; its log is kept in {kept}", file=sys.stderr)


async def chat(
    report: Report, plan: Plan, backend: str, workdir: Path, pg: Postgres | None, args: argparse.Namespace
) -> None:
    only: set[str] = set(args.only) & (set(WRITES) if backend in DURABLE else set(SCENARIOS))
    profile_dir: Path | None = args.profile

    def spy(name: str) -> Path | None:
        return profile_dir / f"{backend}-{name}.txt" if profile_dir else None

    if only & {"sequential", "latency", "concurrent"}:
        url = await _database(backend, "load", workdir, pg)
        with _chat(backend, "load", workdir, url, pg) as target:
            seeder = Seeder(url)
            try:
                alice, bob = await seeder.users(2, "sender")
                (room,) = await seeder.rooms([(alice, bob)])
                sender, receiver = _ws(target, token_for(alice), room), _ws(target, token_for(bob), room)
                if "sequential" in only:
                    ready(target)
                    with profiled(target, spy("sequential")):
                        figures = await sockets.sequential(
                            target, sender, count=plan.sequential, limit=plan.sequential_limit, tag="s"
                        )
                    report.add("sequential", target, figures)
                if "latency" in only:
                    for rate in plan.rates:
                        ready(target)
                        figures = await sockets.fixed_rate(
                            target, sender, receiver, rate=rate, seconds=plan.rate_seconds[rate],
                            drain=plan.drain, in_flight=plan.in_flight, tag=f"r{rate}",
                        )  # fmt: skip
                        report.add("latency", target, figures)
                if "concurrent" in only:
                    for pairs in plan.pairs:
                        ready(target)
                        people = await seeder.users(2 * pairs, f"pair{pairs}")
                        couples = list(zip(people[::2], people[1::2], strict=True))
                        rooms = await seeder.rooms(couples)
                        urls = [
                            (_ws(target, token_for(a), r), _ws(target, token_for(b), r))
                            for (a, b), r in zip(couples, rooms, strict=True)
                        ]
                        with profiled(target, spy(f"concurrent{pairs}")):
                            figures = await sockets.concurrent(
                                target, urls, seconds=plan.concurrent_seconds, window=args.window, tag=f"c{pairs}"
                            )
                        report.add("concurrent", target, figures)
            finally:
                await seeder.close()
    if "versus" in only and AGAINST[0] is not None and backend in NOT_DURABLE:
        other_src, other_name = AGAINST[0]
        this_url = await _database(backend, "versus_this", workdir, pg)
        other_url = await _database(backend, "versus_against", workdir, pg)
        with (
            _chat(backend, "versus_this", workdir, this_url, pg) as this,
            _chat(backend, "versus_against", workdir, other_url, pg, src=other_src) as other,
        ):
            figures = await versus(this, other, plan.versus, settle=ready)
            report.add("versus", this, {**figures, "against_src": other_name})
    if "idle" in only:
        url = await _database(backend, "idle", workdir, pg)
        with _chat(backend, "idle", workdir, url, pg) as target:  # it migrates the new database
            seeder = Seeder(url)
            try:
                people = await seeder.users(plan.idle, "idle")  # one socket per person, as in an office
            finally:
                await seeder.close()
            idle_urls = [f"{target.ws_url}?token={token_for(user)}" for user in people]
            ready(target)
            report.add("idle", target, await sockets.idle(target, idle_urls, hold=plan.idle_hold))
    if "rest" in only:
        url = await _database(backend, "rest", workdir, pg)
        with _chat(backend, "rest", workdir, url, pg) as target:
            ready(target)
            sizes = await rest(
                target,
                sizes=plan.rest_sizes,
                rooms=plan.rest_rooms,
                requests=plan.rest_requests,
                list_requests=plan.rest_list_requests,
            )
            report.add("rest", target, {"sizes": sizes})
    if "group" in only:
        url = await _database(backend, "group", workdir, pg)
        with _chat(backend, "group", workdir, url, pg) as target:
            seeder = Seeder(url)
            try:
                members = await seeder.users(plan.group_members, "member")
            finally:
                await seeder.close()
            room = await create_group(target, members)  # over REST, as a client makes one; members[0] owns it
            member_urls = [f"{target.ws_url}?token={token_for(user)}" for user in members]  # groups joined on connect
            ready(target)
            with profiled(target, spy("group")):
                figures = await _group(target, plan, member_urls, room=room)
            report.add("group", target, figures)
    if profile_dir:
        for name in ("sequential", *(f"concurrent{pairs}" for pairs in plan.pairs), "group"):
            path = profile_dir / f"{backend}-{name}.txt"
            if path.exists():
                report.profiles[path.stem] = summarise(path)


# ---------------------------------------------------------------------------------------------- main


def export_src(rev: str) -> tuple[Path, str]:
    """`git archive` of the revision's src/ into a temporary folder (removed at exit); (its src/, full sha)."""
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()  # fmt: skip
    archive = subprocess.run(["git", "archive", "--format=tar", sha, "src"], cwd=ROOT, capture_output=True, check=True)
    folder = Path(tempfile.mkdtemp(prefix=f"chat-bench-src-{sha[:8]}-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src", sha


def machine() -> dict[str, Any]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    memory = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True)
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(int(memory) / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "checkout_commit": commit.stdout.strip(),  # of this checkout; what was served is meta.server_src
        "checkout_src_changes": len(dirty.stdout.splitlines()),
    }


def all_backends(args: argparse.Namespace) -> list[str]:
    """The durable databases (the headline), each followed by its non-durable twin unless --durable-only."""
    durable = ["sqlite", *(["postgres"] if args.postgres else [])]
    if args.durable_only or not set(args.only) & set(WRITES):
        return durable
    return [name for backend in durable for name in (backend, NOT_DURABLE[backend])]


async def run_all(args: argparse.Namespace, report: Report, plan: Plan) -> None:
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as tmp:
        workdir = Path(tmp)
        if args.baseline and set(args.only) & {"sequential", "concurrent", "group"}:
            await baseline(report, plan, workdir, set(args.only), args.window)
        for backend in all_backends(args):
            if backend.startswith("postgres"):  # a cluster of its own for each: fsync is set per server
                with postgres(durable=backend == "postgres") as pg:
                    await chat(report, plan, backend, workdir, pg, args)
            else:
                await chat(report, plan, backend, workdir, None, args)


def durability_cost(report: Report, backends: list[str]) -> list[dict[str, Any]]:
    """Each send figure on durable settings beside the same on non-durable ones, and what durability cost."""
    figures: list[tuple[str, str, Callable[[str], float | None], bool]] = [
        ("sequential send", "msg/s", lambda b: _get(report, "sequential", b, "msg_per_s"), True),
        ("sequential round trip p50", "ms", lambda b: _get(report, "sequential", b, "rtt.p50_ms"), False),
        ("sequential round trip p99", "ms", lambda b: _get(report, "sequential", b, "rtt.p99_ms"), False),
        ("p99 at 100 msg/s", "ms",
         lambda b: _get(report, "latency", b, "latency.p99_ms", offered_msg_per_s=100), False),
        ("p99 at 1,000 msg/s", "ms",
         lambda b: _get(report, "latency", b, "latency.p99_ms", offered_msg_per_s=1000), False),
        ("20 pairs delivered", "msg/s",
         lambda b: _get(report, "concurrent", b, "delivered_msg_per_s", pairs=20), True),
        ("200 pairs delivered", "msg/s",
         lambda b: _get(report, "concurrent", b, "delivered_msg_per_s", pairs=200), True),
        ("20 pairs p99", "ms", lambda b: _get(report, "concurrent", b, "latency.p99_ms", pairs=20), False),
    ]  # fmt: skip
    rows = []
    for durable in backends:
        fast = NOT_DURABLE.get(durable)
        if fast not in backends:
            continue
        for name, unit, get, more_is_better in figures:
            slow, quick = get(durable), get(fast)
            if slow is None and quick is None:  # a scenario not run
                continue
            cost = None
            if slow is not None and quick:
                # % of the non-durable figure given up: less throughput, or more latency
                cost = round(100 * ((quick - slow) if more_is_better else (slow - quick)) / quick, 1)
            rows.append({"figure": name, "unit": unit, "durable": durable, "value": slow,
                         "not_durable": fast, "not_durable_value": quick, "cost_pct": cost})  # fmt: skip
    return rows


def summary(report: Report, rows: list[dict[str, Any]], backends: list[str], cost: list[dict[str, Any]]) -> str:
    lines = ["targets (durable settings):"]
    lines.append(
        table(
            ["target", "goal", *backends],
            [
                [name, next(r["goal"] for r in rows if r["target"] == name)]
                + [_verdict(next(r for r in rows if r["target"] == name and r["backend"] == b)) for b in backends]
                for name in dict.fromkeys(r["target"] for r in rows)
            ],
        )
    )
    if cost:
        lines += ["", "what durability costs (cost %: throughput lost or latency added, of the non-durable figure):"]
        cells = [
            [r["figure"], r["durable"], _unit(r["value"], r["unit"]), r["not_durable"],
             _unit(r["not_durable_value"], r["unit"]), r["cost_pct"]]
            for r in cost
        ]  # fmt: skip
        lines.append(table(["figure", "durable", "value", "not durable", "value", "cost %"], cells))
    return "\n".join(lines)


def _unit(value: float | None, unit: str) -> str | None:
    return None if value is None else f"{value:,} {unit}"


def _verdict(row: dict[str, Any]) -> str:
    if row["value"] is None:
        return "not run"
    return f"{row['value']:,} {row['unit']} {'met' if row['met'] else 'NOT met'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts and shorter runs (a few minutes)")
    parser.add_argument("--postgres", action="store_true", help="also run every scenario against PostgreSQL")
    parser.add_argument(
        "--durable-only", action="store_true",
        help="skip the send scenarios on non-durable settings (SQLite synchronous NORMAL, PostgreSQL fsync off)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    parser.add_argument(
        "--profile", type=Path, help="record py-spy profiles of the sequential, concurrent and group runs"
    )
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS), help="scenarios to run")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the baseline server")
    parser.add_argument("--window", type=int, default=1, help="messages in flight per concurrent sender")
    parser.add_argument(
        "--rev", help="serve chat from this git revision's src/ (e.g. HEAD: committed code, not work in progress)"
    )
    parser.add_argument(
        "--against",
        help="the versus scenario: send figures beside this git revision's, in alternating slices of one run",
    )
    parser.add_argument(
        "--wait-quiet", type=float, default=0.0, metavar="SECONDS",
        help="before each scenario, wait up to this long for other processes on the machine to go quiet",
    )  # fmt: skip
    args = parser.parse_args()
    source = "working tree ./src"
    if args.rev:
        SRC[0], sha = export_src(args.rev)
        source = f"git {args.rev} = {sha}"
    if args.against:
        other_src, other_sha = export_src(args.against)
        AGAINST[0] = (other_src, f"{args.against} ({other_sha[:8]})")
    QUIET[0] = args.wait_quiet
    LOGS[0] = args.out.parent
    plan = QUICK if args.quick else FULL
    nofile = raise_nofile(plan.idle + 1_000)
    if nofile < plan.idle + 200:
        plan = attrs.evolve(plan, idle=max(100, nofile - 500))
        print(f"open-file limit {nofile}: idle connections lowered to {plan.idle}", file=sys.stderr)
    backends = ["sqlite", *(["postgres"] if args.postgres else [])]  # the headline: durable commits
    report = Report(
        meta={
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "mode": "quick" if args.quick else "full",
            "machine": machine(),
            "plan": attrs.asdict(plan),
            "server_env": BENCH_ENV,
            "server_src": source,
            "window": args.window,
            "nofile": nofile,
            "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
            "notes": [
                "client and servers share this machine, over loopback; the client is one uvloop process",
                "chat serve runs with CHAT_WS_RATE/CHAT_WS_BURST raised (server_env) so its per-socket limit "
                "of 20 msg/s (burst 50) does not throttle the load; every other setting is the default",
                "durable (the headline): SQLite with synchronous FULL (the default); PostgreSQL a throwaway "
                "cluster with fsync, synchronous_commit and full_page_writes on (its defaults). Beside them the "
                "send scenarios on sqlite-normal (CHAT_SQLITE_SYNCHRONOUS=normal) and postgres-nofsync (a cluster "
                "with all three off), which may lose acknowledged messages in a power cut or OS crash",
            ],
        }
    )
    raised = " ".join(f"{k}={v}" for k, v in BENCH_ENV.items())
    print(
        f"chat bench ({report.meta['mode']}), chat serve from {source}: {raised} (raised from the defaults"
        " 20/50 so the per-socket rate limit does not throttle the load; every other setting is the default)\n",
        flush=True,
    )
    started = time.perf_counter()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run_all(args, report, plan))
    rows = targets(report, backends)
    cost = durability_cost(report, all_backends(args))
    report.meta["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"meta": report.meta, "results": report.results, "targets": rows, "durability_cost": cost,
                    "profiles": report.profiles}, indent=1)
    )  # fmt: skip
    print(summary(report, rows, backends, cost))
    if args.quick:
        print("(--quick: smaller database and counts than the targets assume)")
    print(f"\nwritten to {args.out} in {report.meta['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
