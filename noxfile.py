"""Task runner: `nox -s lint tests` is what CI runs."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


@nox.session(python=False)
def system(session: nox.Session) -> None:
    """Debian packages for the servers the tests start (PostgreSQL ...)."""
    session.run("bash", "scripts/system-deps.sh", external=True)


@nox.session
def tests(session: nox.Session) -> None:
    session.run("bash", "scripts/system-deps.sh", external=True)
    session.install("-e", ".[test]")
    session.run(
        "pytest",
        "--cov=chatcore",
        "--cov=chat_adapters",
        "--cov=chat_http",
        "--cov-report=term:skip-covered",
        *session.posargs,
    )


@nox.session
def lint(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("ruff", "check", "src", "tests", "bench", "examples", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "bench", "examples", "noxfile.py")
    session.run("mypy")
    session.run("lint-imports")  # layers chat_http > chat_adapters > chatcore, no import cycles
    session.run("mypy", "--strict", "examples/hrms")  # the public API as a host application uses it
