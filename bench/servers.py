"""The processes under test: `chat serve`, the bare baseline app and a throwaway PostgreSQL, and their CPU and memory.

Each is started on a free loopback port and stopped through its own handle; nothing outlives the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx

from tests.e2e.conftest import start_server, stop_server
from tests.pg import PgServer, _bin_dir, _Cluster
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The service's own per-socket limits would throttle a load generator: raised for the bench server only.
BENCH_ENV = {"CHAT_WS_RATE": "1000000", "CHAT_WS_BURST": "100000", "CHAT_SEARCH_PER_MINUTE": "1000000"}


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _stat(pid: int) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces), so [0] is the state."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int, *, with_children: bool = False) -> float:
    """User + system time of a process (all its threads); optionally plus its live and reaped children."""
    try:
        fields = _stat(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if with_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: children already waited for
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                child = _stat(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                continue
            if int(child[1]) == pid:  # ppid
                ticks += int(child[11]) + int(child[12])
    return ticks / CLK_TCK


def machine_ticks() -> tuple[int, int]:
    """(busy, stolen) clock ticks of all CPUs together, from the first line of /proc/stat."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return user + nice + system + irq + softirq, steal


def machine_busy_pct(window: float = 1.0) -> float:
    """CPU in use on the whole machine over `window` seconds, in % of one core (200 = both of 2 cores)."""
    before, _ = machine_ticks()
    time.sleep(window)
    after, _ = machine_ticks()
    return 100 * (after - before) / CLK_TCK / window


def wait_quiet(limit: float, *, below: float = 25.0) -> float:
    """Other work shares this machine: wait (at most `limit` s) until it is nearly idle; the last level seen."""
    deadline = time.monotonic() + limit
    level = machine_busy_pct(0.5)
    while level >= below and time.monotonic() < deadline:
        level = machine_busy_pct(1.0)
    return round(level, 1)


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds per thread of a process (the main thread's id is the pid)."""
    seconds: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(task, "stat").read_text().rsplit(")", 1)[1].split()
            seconds[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return seconds


def raise_nofile(wanted: int) -> int:
    """Lift the soft limit on open files (children inherit it, so the server gets it too); the limit we got."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return int(soft)


@attrs.define
class Target:
    """One server under test: where it listens, its process, and the database process to charge CPU to."""

    name: str  # "chat" or "baseline"
    backend: str  # "sqlite", "postgres" or "-" for the baseline
    base_url: str
    ws_url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = attrs.field(factory=dict)
    db_pid: int | None = None  # the postmaster: its CPU and its backends' count as database time

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_kb(self) -> int:
        return status_kb(self.pid, "VmRSS")

    def stop(self) -> None:
        stop_server(self.proc)


def start_chat(
    workdir: Path,
    database_url: str,
    *,
    backend: str,
    db_pid: int | None = None,
    src: Path | None = None,
    env: dict[str, str] | None = None,
) -> Target:
    """A real single-process `chat serve` on a free port (tests/e2e/conftest.py), with the bench limits and
    `env`; `src` puts another source tree first on its path (the installed package is an editable ./src)."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {"CHAT_DATABASE_URL": database_url, **BENCH_ENV, **(env or {}), **({"PYTHONPATH": str(src)} if src else {})}
    proc, server = start_server(workdir, env)
    return Target(
        name="chat",
        backend=backend,
        base_url=server.base_url,
        ws_url=server.ws_url,
        proc=proc,
        log_path=server.log_path,
        env=server.env,
        db_pid=db_pid,
    )


def start_baseline(workdir: Path) -> Target:
    """bench/baseline_app.py under uvicorn, started the way `chat serve` is and waited for the same way."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = workdir / "baseline.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "baseline_app.py"), "--port", str(port)],
            cwd=workdir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"baseline exited with {proc.returncode}:\n{log_path.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return Target("baseline", "-", base_url, f"ws://127.0.0.1:{port}/ws", proc, log_path)
        time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError(f"baseline did not become healthy:\n{log_path.read_text()}")


@attrs.define
class Postgres:
    server: PgServer
    postmaster_pid: int


@contextlib.contextmanager
def postgres(*, durable: bool) -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster (tests/pg.py: trust auth, on a free loopback port), `durable` with
    fsync, synchronous_commit and full_page_writes on (PostgreSQL's defaults), else with all three off."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) not found; apt-get install postgresql")
    cluster = _Cluster(bin_dir, durable=durable)
    try:
        server = cluster.start()
        pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
        yield Postgres(server=server, postmaster_pid=pid)
    finally:
        cluster.stop()


@attrs.define
class Meter:
    """CPU over one measured window, in % of one core: the server, the database server (if separate), this
    client process, and everything else on the machine (`others_cpu_pct`: load the bench did not make)."""

    target: Target
    _wall: float = 0.0
    _server: float = 0.0
    _db: float = 0.0
    _client: float = 0.0
    _machine: tuple[int, int] = (0, 0)

    def __attrs_post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._wall = time.perf_counter()
        self._server = cpu_seconds(self.target.pid)
        self._db = cpu_seconds(self.target.db_pid, with_children=True) if self.target.db_pid else 0.0
        self._client = time.process_time()
        self._machine = machine_ticks()

    def read(self) -> dict[str, float]:
        wall = max(time.perf_counter() - self._wall, 1e-9)
        figures = {
            "server_cpu_pct": round(100 * (cpu_seconds(self.target.pid) - self._server) / wall, 1),
            "client_cpu_pct": round(100 * (time.process_time() - self._client) / wall, 1),
            "server_rss_mb": round(self.target.rss_kb() / 1024, 1),
        }
        if self.target.db_pid:
            db = cpu_seconds(self.target.db_pid, with_children=True) - self._db
            figures["db_cpu_pct"] = round(100 * db / wall, 1)
        busy, stolen = machine_ticks()
        machine = 100 * (busy - self._machine[0]) / CLK_TCK / wall
        ours = figures["server_cpu_pct"] + figures["client_cpu_pct"] + figures.get("db_cpu_pct", 0.0)
        # Everything else running on this machine meanwhile (other people's tests, say), in % of one core.
        figures["others_cpu_pct"] = round(max(0.0, machine - ours), 1)
        if stolen > self._machine[1]:
            figures["steal_pct"] = round(100 * (stolen - self._machine[1]) / CLK_TCK / wall, 1)
        return figures


def settle(target: Target, *, quiet_pct: float = 5.0, limit: float = 10.0) -> None:
    """Wait (at most `limit` s) until the server is nearly idle, so one scenario's backlog spares the next."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = cpu_seconds(target.pid)
        time.sleep(0.2)
        if 100 * (cpu_seconds(target.pid) - before) / 0.2 < quiet_pct:
            return


@contextlib.contextmanager
def profiled(target: Target, out: Path | None) -> Iterator[None]:
    """py-spy sampling the server (without pausing it) for the length of the block; collapsed stacks to `out`."""
    if out is None:
        yield
        return
    exe = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if exe is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    out.parent.mkdir(parents=True, exist_ok=True)
    # --gil: only samples of the thread holding the GIL, i.e. Python actually running. Without it the aiosqlite
    # worker thread, blocked on its queue, is sampled as busy (telling idle apart needs a pausing sampler).
    command = [exe, "record", "--pid", str(target.pid), "--rate", "200", "--nonblocking", "--gil"]
    spy = subprocess.Popen(
        [*command, "--format", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # attached before the load starts
    threads, started = thread_cpu(target.pid), time.perf_counter()
    try:
        yield
    finally:
        wall = time.perf_counter() - started
        after = thread_cpu(target.pid)
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait(timeout=5)
        used = {tid: after[tid] - threads.get(tid, 0.0) for tid in after}
        split = {
            "seconds": round(wall, 1),
            "main_thread_cpu_pct": round(100 * used.get(target.pid, 0.0) / wall, 1),
            "other_threads_cpu_pct": round(100 * sum(v for t, v in used.items() if t != target.pid) / wall, 1),
            "threads": len(after),
        }
        out.with_suffix(".threads.json").write_text(json.dumps(split))
