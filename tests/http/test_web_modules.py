"""The web client's ES modules import one way: main, then the features, then the shared base (state, render, dom, api,
policy, voice, parts). A feature that needs another says so through state.js (a change, a fact) or main wires the two:
an import between features would start the circles (compose -> live -> messages -> rooms -> compose) again."""

from __future__ import annotations

import graphlib
import re

import pytest

from chat_http.webclient import WEB_DIR

ENTRY = "main.js"
# Imported by the features; they import nothing but each other's base (render.js subscribes through state.js).
# parts.js draws what people wrote (text, links, mentions, quotes, reactions, search snippets) for messages.js,
# replies.js, pins.js and finder.js.
BASE = frozenset({"state.js", "render.js", "dom.js", "api.js", "policy.js", "voice.js", "parts.js"})
# Loaded by `new URL("./voice-worklet.js", import.meta.url)` into an AudioWorklet, never imported.
WORKLETS = frozenset({"voice-worklet.js"})

# `import {a} from "./a.js"`, `export {a} from "./a.js"`, `import "./a.js"` and `import("./a.js")`.
_IMPORT = re.compile(r"""\b(?:from|import)\s*\(?\s*["']\./([\w.-]+)["']""")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_LINE_COMMENT = re.compile(r"^\s*//.*$", re.MULTILINE)


def imports_of(source: str) -> set[str]:
    """The sibling modules a script imports, statically or dynamically (comments are not code)."""
    return set(_IMPORT.findall(_LINE_COMMENT.sub("", _BLOCK_COMMENT.sub("", source))))


def web_modules() -> dict[str, set[str]]:
    return {path.name: imports_of(path.read_text()) for path in sorted(WEB_DIR.glob("*.js"))}


def test_imports_are_read_static_dynamic_and_bare() -> None:
    source = """
        import { a } from "./a.js";
        import {
          b1,
          b2,
        } from './b.js';
        import "./c.js";
        export { d } from "./d.js";
        const e = await import("./e.js");
        // import { f } from "./f.js";
        /* import { g } from "./g.js"; */
        const url = new URL("./worklet.js", import.meta.url);
        fetch("ws://host/x.js");
    """
    assert imports_of(source) == {"a.js", "b.js", "c.js", "d.js", "e.js"}


def test_every_import_names_a_module_of_the_folder() -> None:
    graph = web_modules()
    assert ENTRY in graph
    assert graph.keys() >= BASE | WORKLETS
    missing = {f"{name} -> {target}" for name, targets in graph.items() for target in targets - graph.keys()}
    assert not missing


def test_the_web_modules_import_without_a_cycle() -> None:
    sorter = graphlib.TopologicalSorter(web_modules())
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle among the web modules: {' -> '.join(error.args[1])}")


def test_the_web_modules_keep_their_layers() -> None:
    """main imports features (and the base); a feature imports only the base; the base never imports a feature."""
    graph = web_modules()
    features = graph.keys() - BASE - WORKLETS - {ENTRY}
    assert features, "no feature modules found"
    breaches = [f"{name} imports {ENTRY}" for name, targets in graph.items() if ENTRY in targets]
    breaches += [f"{name} (a worklet) imports {sorted(graph[name])}" for name in WORKLETS if graph[name]]
    for name in sorted((BASE & graph.keys()) | features):
        breaches += [f"{name} imports {target}" for target in sorted(graph[name] - BASE)]
    assert not breaches, "\n".join(breaches)
