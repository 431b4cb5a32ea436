"""The public API of the three packages: every exported name resolves, and the packages load lazily."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest


@pytest.mark.parametrize("package", ["chatcore", "chatcore.testing", "chat_adapters", "chat_adapters.sql", "chat_http"])
def test_every_exported_name_resolves(package: str) -> None:
    module = importlib.import_module(package)

    missing = [name for name in module.__all__ if getattr(module, name, None) is None]

    assert module.__all__
    assert missing == []


def test_importing_the_packages_loads_no_framework_until_a_name_is_used() -> None:
    """`import chat_http` (the CLI's package) and `import chat_adapters` stay cheap; names load on first use."""
    script = textwrap.dedent(
        """
        import sys
        import chat_adapters, chat_http
        assert "litestar" not in sys.modules and "sqlalchemy" not in sys.modules, sorted(sys.modules)
        chat_http.ChatPlugin, chat_adapters.HostUserDirectory
        assert "litestar" in sys.modules and "sqlalchemy" in sys.modules
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
