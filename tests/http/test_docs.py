"""The configuration docs and the code agree: every CHAT_* variable settings.py reads is in README's table and in
docs/configuration.md, and neither documents one that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"CHAT_[A-Z0-9_]*[A-Z0-9]")


def _read_by_code() -> set[str]:
    code = (ROOT / "src" / "chat_http" / "settings.py").read_text(encoding="utf-8")
    return set(VARIABLE.findall(code))


def _table_rows(path: Path) -> set[str]:
    """Variables named in the first column of the markdown tables."""
    names: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `CHAT_"):
            names.update(VARIABLE.findall(line.split("|")[1]))
    return names


def test_readme_table_lists_every_variable() -> None:
    assert _table_rows(ROOT / "README.md") == _read_by_code()


def test_configuration_doc_lists_every_variable() -> None:
    assert _table_rows(ROOT / "docs" / "configuration.md") == _read_by_code()


def test_the_migrations_read_the_same_layout_variables() -> None:
    env = (ROOT / "src" / "chat_adapters" / "sql" / "migrations" / "env.py").read_text(encoding="utf-8")
    assert set(VARIABLE.findall(env)) <= _read_by_code()
