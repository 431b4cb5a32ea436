"""`chat serve` logs: one format for its own, Litestar's and uvicorn's lines, at CHAT_LOG_LEVEL; JSON lines carry
the request's id, user and route."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import opened_api, serving


def json_lines(log: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]  # any other line fails here
    for line in lines:
        assert {"timestamp", "level", "message"} <= line.keys(), line
    return lines


async def test_json_lines_carry_the_request_id_user_and_route(tmp_path: Path) -> None:
    with serving(tmp_path, {"CHAT_LOG_FORMAT": "json"}) as server:
        async with opened_api(server) as api:
            alice = await api.person("Alice")
            listed = await alice.http.get("/api/v1/chat/rooms", headers={"X-Request-ID": "hrms-42.a"})
            assert listed.status_code == 200
            assert listed.headers["x-request-id"] == "hrms-42.a"
            odd = await alice.http.get("/api/v1/chat/rooms", headers={"X-Request-ID": "not sane {}"})
            made_up = odd.headers["x-request-id"]
            assert made_up != "not sane {}"
            assert len(made_up) == 32
            unknown = await api.http.get("/no/such/path")
            assert unknown.status_code == 404
            assert len(unknown.headers["x-request-id"]) == 32
    lines = json_lines(server.log())
    access = [line for line in lines if line.get("request_id") == "hrms-42.a"]
    assert len(access) == 1, lines
    assert access[0]["user_id"] == alice.id
    assert access[0]["route"] == "/api/v1/chat/rooms"
    assert access[0]["status"] == 200
    assert access[0]["level"] == "info"
    assert any(line.get("request_id") == made_up for line in lines)
    assert not [line for line in lines if line["level"] == "debug"]


@pytest.mark.parametrize(("level", "debug_lines", "access_lines"), [("debug", True, True), ("warning", False, False)])
def test_the_level_filters_lines(tmp_path: Path, level: str, debug_lines: bool, access_lines: bool) -> None:
    with serving(tmp_path, {"CHAT_LOG_FORMAT": "json", "CHAT_LOG_LEVEL": level}) as server:
        assert httpx.get(f"{server.base_url}/health", timeout=10).status_code == 200
    lines = json_lines(server.log())
    assert any(line["level"] == "debug" for line in lines) is debug_lines
    assert any(line.get("logger") == "uvicorn.access" for line in lines) is access_lines


def test_text_lines_have_a_timestamp_and_level(tmp_path: Path) -> None:
    with serving(tmp_path) as server:
        assert httpx.get(f"{server.base_url}/health", timeout=10).status_code == 200
    for line in server.log().splitlines():
        stamp, level, _ = line.split(" ", 2)
        assert stamp.endswith("+00:00"), line
        assert level in {"INFO", "WARNING"}, line
