"""Latency percentiles against offered load, from a bench/run.py result file, as a PNG.

    python bench/plot.py [bench/results/latest.json] [-o bench/latency.png]

Needs matplotlib: `pip install -e '.[bench]'`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COLOURS = {"sqlite": "tab:blue", "postgres": "tab:orange"}
STYLES = {"p50_ms": ":", "p95_ms": "--", "p99_ms": "-"}
P99_TARGET_MS = 25


def plot(report: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in report["results"] if r["scenario"] == "latency"]
    backends = list(dict.fromkeys(r["backend"] for r in runs))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [3, 2]})
    for backend in backends:
        mine = sorted((r for r in runs if r["backend"] == backend), key=lambda r: r["offered_msg_per_s"])
        offered = [r["offered_msg_per_s"] for r in mine]
        for key, style in STYLES.items():
            left.plot(
                offered,
                [r["latency"][key] for r in mine],
                style,
                marker="o",
                color=COLOURS.get(backend),
                label=f"{backend} {key.removesuffix('_ms')}",
            )
        right.plot(offered, [r["achieved_msg_per_s"] for r in mine], marker="o", color=COLOURS.get(backend),
                   label=f"{backend} delivered")  # fmt: skip
    left.axhline(P99_TARGET_MS, color="grey", linewidth=1)
    left.annotate(f"p99 target {P99_TARGET_MS} ms", (0.01, P99_TARGET_MS), xycoords=("axes fraction", "data"),
                  textcoords="offset points", xytext=(0, 4), color="grey", fontsize=8)  # fmt: skip
    left.set(xscale="log", yscale="log", xlabel="offered load (messages/s, one sender)",
             ylabel="latency sender -> receiver (ms)", title="Latency percentiles against offered load")  # fmt: skip
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    if runs:
        top = max(r["offered_msg_per_s"] for r in runs)
        right.plot([1, top], [1, top], color="grey", linewidth=1, label="offered = delivered")
    right.set(xscale="log", yscale="log", xlabel="offered load (messages/s)", ylabel="delivered (messages/s)",
              title="Delivered against offered")  # fmt: skip
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)
    meta = report.get("meta", {})
    machine = meta.get("machine", {})
    source = str(meta.get("server_src", "?"))  # "git REV = SHA" or "working tree ./src"
    source = f"src of {source.rsplit('= ', 1)[1][:7]}" if "= " in source else source
    fig.suptitle(
        f"chat serve ({source}), {meta.get('mode', '?')} run {meta.get('started', '')[:10]}, "
        f"{machine.get('cores', '?')} cores shared by client and server; one sender, its receiver in the room",
        fontsize=10,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="?", default=ROOT / "bench" / "results" / "latest.json")
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "bench" / "latency.png")
    args = parser.parse_args()
    plot(json.loads(args.results.read_text()), args.out)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
