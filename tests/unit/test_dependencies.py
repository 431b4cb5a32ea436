"""chatcore is a library a host can embed: it needs the standard library, attrs and cattrs, nothing else."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import chatcore

ALLOWED = set(sys.stdlib_module_names) | {"attrs", "attr", "cattrs", "chatcore", "__future__"}
FORBIDDEN = (
    "litestar",
    "sqlalchemy",
    "advanced_alchemy",
    "alembic",
    "redis",
    "boto3",
    "botocore",
    "aiobotocore",
    "obstore",
    "asyncpg",
    "aiosqlite",
    "jwt",
    "msgspec",
    "chat_adapters",
    "chat_http",
)

PACKAGE_DIR = Path(chatcore.__file__).parent


def imported_top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_chatcore_module_imports_only_stdlib_attrs_and_cattrs() -> None:
    modules = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(modules) >= 12

    outside = {str(path.relative_to(PACKAGE_DIR)): imported_top_level_names(path) - ALLOWED for path in modules}

    assert {module: names for module, names in outside.items() if names} == {}


SCRIPT = textwrap.dedent(
    """
    import asyncio, base64, importlib, importlib.abc, json, pkgutil, sys

    FORBIDDEN = set(sys.argv[1].split(","))

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in FORBIDDEN:
                raise ImportError(f"chatcore must not import {name}")
            return None

    sys.meta_path.insert(0, Block())

    import chatcore
    for info in pkgutil.walk_packages(chatcore.__path__, "chatcore."):
        importlib.import_module(info.name)

    from chatcore import ChatService, SendMessage, User, UserId, MessageType
    from chatcore.testing import (
        FakeClock, MemoryBroker, MemoryDatabase, MemoryLiveState, MemoryStorage, MemoryUserDirectory, SequentialIds,
    )

    async def main():
        clock = FakeClock()
        storage, broker = MemoryStorage(clock), MemoryBroker()
        people = [User(id=UserId(1), name="A", email="a@x.test"), User(id=UserId(2), name="B", email="b@x.test")]
        chat = ChatService(
            uow=MemoryDatabase(), users=MemoryUserDirectory(people), storage=storage, broker=broker,
            live=MemoryLiveState(clock), clock=clock, ids=SequentialIds(),
        )
        heard = []
        await broker.subscribe("user:2", heard.append)
        room, _ = await chat.open_direct_room(UserId(1), UserId(2))
        text, _ = await chat.send_message(UserId(1), SendMessage(room_id=room.id, content="hi"))
        png = base64.b64encode(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(16)).decode()
        image, _ = await chat.send_message(
            UserId(2),
            SendMessage(room_id=room.id, message_type=MessageType.IMAGE, file_data=png, file_name="a.png"),
        )
        page = await chat.history(UserId(2), room.id)
        assert [m.id for m in page.messages] == [image.id, text.id], page
        assert [json.loads(p)["type"] for p in heard] == ["new_message", "new_message"], heard
        assert list(storage.files) == [image.file_path.removeprefix("chat_files/")]

    asyncio.run(main())
    loaded = sorted(name for name in sys.modules if name.split(".")[0] in FORBIDDEN)
    assert not loaded, loaded
    print("ok")
    """
)


def test_chatcore_works_end_to_end_with_every_framework_and_driver_blocked() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, ",".join(FORBIDDEN)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_every_chatcore_module_is_reachable_by_walking_the_package() -> None:
    walked = {info.name for info in pkgutil.walk_packages(chatcore.__path__, "chatcore.")}
    on_disk = {f"chatcore.{path.stem}" for path in PACKAGE_DIR.glob("*.py") if path.stem != "__init__"}

    assert walked == on_disk
