"""Where the server's CPU went: top functions and packages from py-spy's collapsed stacks (`--format raw`).

    python bench/pyspy.py bench/results/profile/sqlite-concurrent20.txt [--top 15]

Each line of the input is `frame;frame;...;frame count`, a frame being `function (path:line)`. Self time is
charged to the innermost frame; inclusive time to every distinct function on the stack.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<path>.*?)(?::(?P<line>\d+))?\)$")
_SITE = re.compile(r"(?:site|dist)-packages/([^/]+)")
OWN = ("chatcore", "chat_adapters", "chat_http")


def _parse(frame: str) -> tuple[str, str]:
    """(function label without the line number, path)."""
    match = _FRAME.match(frame)
    if match is None:
        return frame, ""
    path = match["path"]
    return f"{match['func']} ({_short(path)})", path


def _short(path: str) -> str:
    for marker in ("site-packages/", "dist-packages/", "/src/", "/lib/python3."):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker == "/lib/python3." else tail
    return path


def package(path: str) -> str:
    if (site := _SITE.search(path)) is not None:
        return site[1].removesuffix(".py")
    for own in OWN:
        if f"/{own}/" in path or path.startswith(f"{own}/"):
            return own
    if "/lib/python3." in path:
        module = path.split("/lib/python3.", 1)[1].split("/", 2)[1]
        return "stdlib:" + module.removesuffix(".py")
    return path.split("/", 1)[0] or "?"


def summarise(path: Path, *, top: int = 15) -> dict[str, Any]:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    own_inclusive: Counter[str] = Counter()
    roots: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_parse(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        roots[frames[0][0]] += count
        leaf, leaf_path = frames[-1]
        self_time[leaf] += count
        by_package[package(leaf_path)] += count
        seen: set[str] = set()
        for label, frame_path in frames:
            if label not in seen:
                seen.add(label)
                inclusive[label] += count
                if package(frame_path) in OWN:
                    own_inclusive[label] += count

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(top)] if total else []

    threads = path.with_suffix(".threads.json")
    return {
        "samples": total,
        "cpu": json.loads(threads.read_text()) if threads.exists() else None,
        "self_pct": share(self_time),
        "package_self_pct": share(by_package),
        "inclusive_pct": share(inclusive),
        "own_code_inclusive_pct": share(own_inclusive),
        # SQLAlchemy runs its sync core inside greenlets: those stacks start at e.g. Session.execute, without
        # the coroutine that called it, so inclusive figures of our code above a query are understated.
        "root_pct": share(roots)[:5],
    }


def render(summary: dict[str, Any]) -> str:
    parts = [f"{summary['samples']} samples; server CPU by thread: {summary.get('cpu')}"]
    for key, title in (
        ("package_self_pct", "self time by package"),
        ("self_pct", "self time by function"),
        ("own_code_inclusive_pct", "inclusive time, chatcore / chat_adapters / chat_http"),
        ("root_pct", "stack roots (not the main module: a SQLAlchemy greenlet, or a stack not fully unwound)"),
    ):
        parts.append(f"\n{title}:")
        parts.extend(f"  {pct:5.1f}%  {name}" for name, pct in summary[key])
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, nargs="+")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for path in args.profile:
        summary = summarise(path, top=args.top)
        print(json.dumps(summary) if args.json else f"== {path}\n{render(summary)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
