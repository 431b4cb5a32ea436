"""The README's five-minute tour, run as written: its shell lines in bash, its Python saved as `tour.py`.

The only change to the text is the port (a free one instead of 8000), so a step that fails for a newcomer
fails here: a file the tour does not make, a curl that hides a refusal, an output that is not what the
comments say.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def _section(markdown: str, heading: str) -> str:
    start = markdown.index(f"## {heading}")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def code_blocks(section: str) -> list[tuple[str, str]]:
    """(language, text) of every fenced block, in order."""
    return [(m[1], m[2]) for m in re.finditer(r"```(\w+)\n(.*?)```", section, re.S)]


def json_documents(out: str) -> list[Any]:
    """Every JSON document printed one after another (curl adds no newline); other lines are skipped."""
    decoder, docs, at = json.JSONDecoder(), [], 0
    while at < len(out):
        if out[at].isspace():
            at += 1
            continue
        try:
            doc, at = decoder.raw_decode(out, at)
            docs.append(doc)
        except json.JSONDecodeError:
            newline = out.find("\n", at)
            at = len(out) if newline == -1 else newline + 1
    return docs


def first_line(markdown: str) -> str:
    """The README's first command: set up and serve."""
    return code_blocks(markdown)[0][1].strip()


@contextlib.contextmanager
def served_as_readme_says(workdir: Path, port: int) -> Iterator[Path]:
    """`.venv/bin/chat serve --dev` in a fresh folder, where `.venv` is the environment running these tests."""
    (workdir / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    command = first_line((ROOT / "README.md").read_text()).rsplit("&& ", 1)[1]  # `.venv/bin/chat serve --dev`
    assert command == ".venv/bin/chat serve --dev", command
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*command.split(), "--port", str(port)], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            pytest.fail(f"chat serve --dev did not become healthy:\n{log_path.read_text()}")
        yield log_path
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def tour_script(port: int) -> tuple[str, str]:
    """The tour's shell lines as one bash script, and its Python (the file the tour says to save as tour.py)."""
    blocks = code_blocks(_section((ROOT / "README.md").read_text(), "A five-minute tour"))
    shell = [text for lang, text in blocks if lang == "sh"]
    python = [text for lang, text in blocks if lang == "python"]
    assert len(python) == 1, blocks
    assert len(shell) >= 3, blocks
    script = "\n".join(shell).replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    return script, python[0].replace("127.0.0.1:8000", f"127.0.0.1:{port}")


def test_the_readme_tour_runs_as_written_and_prints_what_it_says(tmp_path: Path) -> None:
    port = free_port()
    script, python = tour_script(port)
    (tmp_path / "tour.py").write_text(python)
    with served_as_readme_says(tmp_path, port) as log_path:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env={k: v for k, v in os.environ.items() if not k.startswith("CHAT_")},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, f"the tour failed:\n{done.stdout}\n{done.stderr}\n{log_path.read_text()[-3000:]}"
    out = done.stdout
    alice, john, search, room, rooms, page, read, unread, upload = json_documents(out)
    assert (alice["id"], alice["email"], john["id"], john["email"]) == (1, "alice@example.com", 2, "john@example.com")
    assert [u["email"] for u in search["users"]] == ["john@example.com"]
    assert (room["id"], room["other_user"]["id"]) == (1, 2)
    assert "'content': 'Hi John!'" in out  # tour.py printed John's new_message
    assert "'typing_users': [2]" in out
    assert re.search(r"/static/chat_files/files/[0-9a-f]{32}-payslip\.pdf\?expires=\d+&sig=", out)
    (listed,) = rooms["rooms"]
    assert (listed["unread_count"], listed["last_message"]["message_type"]) == (2, "file")
    assert sorted((m["message_type"], m["content"]) for m in page["messages"]) == [("file", None), ("text", "Hi John!")]
    assert read["status"] == "success"
    assert unread == {"unread_counts": {"1": 0}}
    assert (upload["file_name"], upload["mime_type"]) == ("contract.pdf", "application/pdf")
    assert upload["upload_id"]
    assert (tmp_path / "contract.pdf").read_bytes().startswith(b"%PDF-1.4\n")


def test_the_tour_shows_a_refused_request_and_stops(tmp_path: Path) -> None:
    """`curl -sS --fail-with-body` as the tour writes it: a refusal prints the server's error and fails the script."""
    port = free_port()
    script, _ = tour_script(port)
    upload = next(line for line in script.splitlines() if "/uploads" in line)
    curl = upload.split('"$API', 1)[0]  # the tour's own curl flags
    with served_as_readme_says(tmp_path, port):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", f'{curl}"http://127.0.0.1:{port}/api/v1/chat/rooms"; echo reached'],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode != 0
    assert "reached" not in done.stdout
    assert "401" in done.stdout + done.stderr
