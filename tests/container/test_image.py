"""The image built from the Dockerfile runs `chat serve` as a non-root user and answers /health and /ready.

Opt-in with CHATCORE_CONTAINER_TEST=1 (not a CHAT_ name: those are the service's settings): a build installs
every dependency from the package index (about 1.5 minutes on 2 cores), and on a machine that reaches no
container registry the base image is made first with scripts/container-base.sh (debootstrap, another 1.5).

Skipped, never failed, when no container runtime can build and run here, in CI (CI=true) too, unlike the
service tests, which fail in CI when PostgreSQL or Redis is missing: installing those always makes them work,
whereas a runtime needs what the machine's kernel lets it have (namespaces, cgroups, raising rlimits), and a
CI machine that is itself a container may refuse that however podman is installed. The skip names the command
that failed and its error. podman (Debian's package, as root) or docker with a running engine both do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import attrs
import httpx
import pytest

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL_BASE = "python:3.12-slim-bookworm"
LOCAL_BASE = "localhost/chat-base:bookworm"  # what scripts/container-base.sh makes
TAG = "localhost/chatcore:test"
SECRET = "container-test-secret-" + "x" * 32
# Lowering limits is always allowed; podman's defaults raise them, which a container without CAP_SYS_RESOURCE
# may not do ("crun: setrlimit RLIMIT_NOFILE: Operation not permitted").
LOW_LIMITS = ("--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096")
# crun refuses a hybrid cgroup v1/v2 host ("cgroups in hybrid mode not supported"); runc copes.
CANDIDATE_FLAGS: dict[str, list[tuple[str, ...]]] = {
    "podman": [(), LOW_LIMITS, (*LOW_LIMITS, "--runtime", "runc")],
    "docker": [()],
}

pytestmark = pytest.mark.skipif(
    os.environ.get("CHATCORE_CONTAINER_TEST") != "1",
    reason="builds an image for minutes: set CHATCORE_CONTAINER_TEST=1 (a container runtime is needed)",
)


@attrs.frozen
class Runtime:
    exe: str
    flags: tuple[str, ...] = ()  # what both `build` and `run` need on this machine

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.exe, *args], capture_output=True, text=True, timeout=timeout, check=False)


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit {proc.returncode}"


def base_image(rt: Runtime) -> str:
    """The official Python image when it can be had, else the local Debian one (made if need be)."""
    wanted = os.environ.get("CHATCORE_CONTAINER_BASE")
    for image in [wanted] if wanted else [OFFICIAL_BASE, LOCAL_BASE]:
        if rt("image", "inspect", image).returncode == 0:
            return image
    if wanted:
        pulled = rt("pull", wanted, timeout=600)
        if pulled.returncode != 0:
            pytest.skip(f"{rt.exe} pull {wanted}: {last_line(pulled)}")
        return wanted
    pulled = rt("pull", OFFICIAL_BASE, timeout=600)
    if pulled.returncode == 0:
        return OFFICIAL_BASE
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        pytest.skip(
            f"{rt.exe} pull {OFFICIAL_BASE}: {last_line(pulled)}; and no local base: run "
            f"scripts/container-base.sh {rt.exe} as root (needs debootstrap)"
        )
    made = subprocess.run(
        ["bash", str(ROOT / "scripts" / "container-base.sh"), rt.exe],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"{rt.exe} pull {OFFICIAL_BASE}: {last_line(pulled)}; container-base.sh: {last_line(made)}")
    return LOCAL_BASE


def usable_runtime() -> tuple[Runtime, str]:
    """The first runtime that runs a container of the base image, with the flags it needed."""
    reasons = []
    for exe, candidates in CANDIDATE_FLAGS.items():
        if not shutil.which(exe):
            reasons.append(f"{exe}: not installed")
            continue
        info = Runtime(exe)("info")
        if info.returncode != 0:
            reasons.append(f"{exe} info: {last_line(info)}")
            continue
        base = base_image(Runtime(exe))
        for flags in candidates:
            rt = Runtime(exe, flags)
            ran = rt("run", "--rm", *flags, base, "python3", "-c", "import venv")
            if ran.returncode == 0:
                return rt, base
            reasons.append(f"{exe} run {' '.join(flags)}: {last_line(ran)}")
    pytest.skip("no container runtime can run a container here: " + "; ".join(reasons))


def build(rt: Runtime, base: str) -> None:
    # podman's default OCI format has no HEALTHCHECK; the docker format keeps it.
    fmt = ("--format", "docker") if rt.exe == "podman" else ()
    net = ("--network", "host") if rt.exe == "podman" else ()
    built = rt("build", *fmt, *net, *rt.flags, "--build-arg", f"BASE={base}", "-t", TAG, str(ROOT), timeout=1200)
    assert built.returncode == 0, f"{rt.exe} build failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}"


def wait_healthy(rt: Runtime, name: str) -> str:
    """The image's own HEALTHCHECK: podman runs it on request, docker on its interval."""
    status = ""
    for _ in range(60):
        if rt.exe == "podman":
            status = "healthy" if rt("healthcheck", "run", name).returncode == 0 else "unhealthy"
        else:
            status = rt("inspect", "--format", "{{.State.Health.Status}}", name).stdout.strip()
        if status == "healthy":
            break
        time.sleep(1)
    return status


def test_the_image_serves_health_and_ready_as_a_non_root_user() -> None:
    rt, base = usable_runtime()
    build(rt, base)
    name = f"chatcore-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    started = rt("run", "-d", "--name", name, *rt.flags, "-p", f"127.0.0.1:{port}:8000",
                 "-e", f"CHAT_JWT_SECRET={SECRET}", TAG)  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        health = None
        for _ in range(60):  # start-up: migrations on the image's SQLite default, then uvicorn
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(1)
        assert health is not None, rt("logs", name).stderr[-3000:]
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5)
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
        assert wait_healthy(rt, name) == "healthy"
        assert rt("exec", name, "id", "-u").stdout.strip() == "10001"
    finally:
        rt("rm", "--force", name)
