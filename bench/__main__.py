"""``make bench``: every figure beside its anchor, measured in the same run.

Absolute times on a shared machine drift; the ratios hold. One table:
measure, vidwatch, anchor, ratio, goal, pass.
``--only detection,cpu,dashboard,storage,startup,stills`` runs a part.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    measure: str
    value: str
    anchor: str = "–"
    ratio: str = "–"
    goal: str = "–"
    passed: bool | None = None  # None: reported, no goal


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds >= 1 else f"{seconds:.2f} s"


def detection_rows() -> list[Row]:
    from bench.detection import COLD_STARTS, burst_allowance, cold_start, run

    rows: list[Row] = []
    busiest: list[
        tuple[str, int, float]
    ] = []  # (scenario, requests in its busiest second, allowed)
    for count, spread, runs in COLD_STARTS:
        label = f"{count:,} job{'s' if count > 1 else ''}" + (
            f" created within {spread:.0f} s" if spread else ""
        )
        c = cold_start(count, spread, runs)
        busiest.append((f"cold start, {label}", c.busiest, burst_allowance(10.0)))
        floor = 3.0 + 0.15  # min_interval + one request
        rows.append(
            Row(
                f"detection, cold start, {label} (nothing learned, 10 req/s, min_interval 3 s, "
                f"jobs of 5–60 s, {runs} runs pooled; anchor: min_interval + one request)",
                f"median {secs(c.median)}, p95 {secs(c.p95)}",
                f"{floor:.2f} s",
                f"{c.median / floor:.2f}× / {c.p95 / floor:.2f}×",
                "median ≤ 2 s, p95 ≤ 3.5 s",
                c.median <= 2.0 and c.p95 <= 3.5,
            )
        )
    for label, spread, goals in (
        ("1,000 jobs created over 20 min", 1200.0, True),
        ("1,000 jobs created within 1 min", 60.0, False),
    ):
        out = run(jobs=1000, spread=spread, budget=20.0)
        ours, plain, skip = out["vidwatch"], out["plain"], out["skip"]
        busiest.append((label, ours.busiest, burst_allowance(20.0)))
        median_ratio = ours.median / plain.median
        p95_ratio = ours.p95 / plain.p95
        fewer = ours.requests <= plain.requests
        rows += [
            Row(
                f"detection median, {label}, 20 req/s (anchor: plain round-robin)",
                secs(ours.median),
                secs(plain.median),
                f"{median_ratio:.2f}×",
                "≤ 0.25×" if goals else "(reported)",
                median_ratio <= 0.25 if goals else None,
            ),
            Row(
                f"detection p95, {label}",
                secs(ours.p95),
                secs(plain.p95),
                f"{p95_ratio:.2f}×",
                "≤ 0.5×" if goals else "(reported)",
                p95_ratio <= 0.5 if goals else None,
            ),
            Row(
                f"requests spent, {label}",
                f"{ours.requests:,}",
                f"{plain.requests:,}",
                f"{ours.requests / plain.requests:.2f}×",
                "no more" if goals else "(reported)",
                fewer if goals else None,
            ),
            Row(
                f"  for reference: round-robin that skips finished tasks, {label}",
                f"median {secs(skip.median)}, p95 {secs(skip.p95)}",
                ratio=f"{skip.median / plain.median:.2f}× / {skip.p95 / plain.p95:.2f}×",
            ),
        ]
        if goals:
            continue
        limit = 1000 / (4 * 20.0)  # jobs of the same age: checking each in turn, N / 4R
        rows += [
            Row(
                f"detection median, {label} (anchor: the same-age limit N/4R)",
                secs(ours.median),
                secs(limit),
                f"{ours.median / limit:.2f}×",
                "≤ 1.1×",
                ours.median <= 1.1 * limit,
            ),
            Row(
                f"detection median, {label} (anchor: round-robin skipping finished)",
                secs(ours.median),
                secs(skip.median),
                f"{ours.median / skip.median:.2f}×",
                "≤ 1×",
                ours.median <= skip.median,
            ),
            Row(
                f"requests spent, {label} (anchor: round-robin skipping finished)",
                f"{ours.requests:,}",
                f"{skip.requests:,}",
                f"{ours.requests / skip.requests:.2f}×",
                "no more",
                ours.requests <= skip.requests,
            ),
        ]
    label = "10,000 jobs created over 2 h"
    out = run(jobs=10_000, spread=7200.0, budget=20.0, anchors=("plain",))
    ours, plain = out["vidwatch"], out["plain"]
    busiest.append((label, ours.busiest, burst_allowance(20.0)))
    rows += [
        Row(
            f"detection median, {label}, 20 req/s (anchor: plain round-robin)",
            secs(ours.median),
            secs(plain.median),
            f"{ours.median / plain.median:.2f}×",
            "≤ 0.25×",
            ours.median <= 0.25 * plain.median,
        ),
        Row(
            f"detection p95, {label}",
            secs(ours.p95),
            secs(plain.p95),
            f"{ours.p95 / plain.p95:.2f}×",
            "(reported)",
        ),
        Row(
            f"scheduler CPU per decision, {label} ({ours.requests:,} requests)",
            f"{ours.cpu_per_decision * 1e6:.0f} µs",
            goal="≤ 50 µs",
            passed=ours.cpu_per_decision <= 50e-6,
        ),
    ]
    worst = max(busiest, key=lambda b: b[1] / b[2])
    rows.append(
        Row(
            "requests in the busiest second, every scenario above (anchor: budget + burst)",
            f"{worst[1]} ({worst[0]})",
            f"{worst[2]:g} (that run's)",
            f"{worst[1] / worst[2]:.2f}×",
            "≤ 1×",
            all(sent <= allowed for _, sent, allowed in busiest),
        )
    )
    return rows


def cpu_rows() -> list[Row]:
    from bench.cpu import measure

    f = measure()
    raw, default = f.raw_aiohttp, f.httpx_default
    return [
        Row(
            "CPU per poll, dashboard end to end (request, parse, model, table)",
            f"{f.dashboard:.3f} ms",
            f"{raw:.3f} ms (raw aiohttp)",
            f"{f.dashboard / raw:.1f}×",
            "≤ 4×",
            f.dashboard / raw <= 4.0,
        ),
        Row(
            "CPU per poll, engine only (Poller + QueryClient, no screen)",
            f"{f.engine:.3f} ms",
            f"{default:.3f} ms (httpx, default transport)",
            f"{f.engine / default:.2f}×",
            "≤ 0.4×",
            f.engine / default <= 0.4,
        ),
        Row(
            "  for reference: the same engine on httpx's default transport",
            f"{f.engine_httpx_default:.3f} ms",
            f"{f.engine:.3f} ms (production transport)",
            f"{f.engine_httpx_default / f.engine:.1f}×",
        ),
        Row(
            "  for reference: engine only against raw aiohttp",
            f"{f.engine:.3f} ms",
            f"{raw:.3f} ms",
            f"{f.engine / raw:.1f}×",
        ),
    ]


def ratio_row(
    measure: str, value: float, anchor: float, goal: float, show: Callable[[float], str]
) -> Row:
    """A timed figure beside its anchor; the goal is the ratio, so it means the same on
    any machine."""
    ratio = value / anchor
    return Row(measure, show(value), show(anchor), f"{ratio:.2f}×", f"≤ {goal:g}×", ratio <= goal)


def dashboard_rows() -> list[Row]:
    from bench.dashboard import measure

    f = measure()
    return [
        ratio_row(
            "launch to first rows painted, 10,000 tasks (anchor: stock DataTable)",
            f.launch,
            f.datatable_launch,
            0.33,
            secs,
        ),
        ratio_row(
            f"key press to repaint, p95, {f.updates_per_second:.0f} updates/s streaming in "
            "(anchor: a bare Textual app, nothing streaming)",
            f.key_p95,
            f.bare_key_p95,
            3.0,
            ms,
        ),
        Row(
            "  key press to repaint, median",
            ms(f.key_median),
            ms(f.bare_key_median),
            f"{f.key_median / f.bare_key_median:.2f}×",
        ),
        ratio_row(
            f"key press to repaint, p95, while stills load ({f.stills_begun} begun, "
            f"{f.stills_drawn} drawn; 10 MB videos on a host at 10 MB/s; anchor: a bare "
            "Textual app)",
            f.stills_key_p95,
            f.bare_key_p95,
            3.0,  # the key-press row's goal
            ms,
        ),
        Row(
            "  key press to repaint while stills load, median",
            ms(f.stills_key_median),
            ms(f.bare_key_median),
            f"{f.stills_key_median / f.bare_key_median:.2f}×",
        ),
        ratio_row(
            "sort 10,000 rows, slowest of 4 (anchor: stock DataTable sorting them)",
            f.sort,
            f.datatable_sort,
            0.5,
            ms,
        ),
        ratio_row(
            "filter 10,000 rows, slowest of 9 keystrokes (anchor: stock DataTable showing "
            "the matches)",
            f.filter,
            f.datatable_filter,
            0.1,
            ms,
        ),
        Row(
            "memory, 10,000 tasks loaded, polled and saved",
            f"{f.rss_mb:.0f} MB RSS",
            goal="≤ 150 MB",
            passed=f.rss_mb <= 150,
        ),
    ]


def storage_rows() -> list[Row]:
    from bench.storage import measure

    f = measure()
    return [
        ratio_row(
            f"load 10,000 tasks, {f.size_mb:.1f} MB of TOML (anchor: tomllib parsing it)",
            f.load,
            f.tomllib_load,
            0.5,
            secs,
        ),
        Row(
            "longest event-loop stall while saving 10,000 tasks (anchor: that save's time)",
            ms(f.save_block),
            f"save {ms(f.save)} (median)",
            f"{f.save_block_ratio:.2f}×",
            "≤ 0.2×",
            f.save_block_ratio <= 0.2,
        ),
        ratio_row(
            "  ... when another process rewrote the file (it is read again)",
            f.reload_block,
            f.reload,
            0.2,
            ms,
        ),
    ]


def startup_rows() -> list[Row]:
    from bench.startup import TASKS, measure

    f = measure()
    anchor = "python -c pass"
    return [
        ratio_row(
            f"start to exit, `vidwatch list` on an empty list (anchor: {anchor})",
            f.empty_list,
            f.anchor,
            5.0,
            ms,
        ),
        Row(
            f"  `vidwatch list`, {TASKS:,} tasks",
            ms(f.list_tasks),
            ms(f.anchor),
            f"{f.list_tasks / f.anchor:.2f}×",
        ),
        Row(
            f"  `vidwatch urls`, {TASKS:,} tasks",
            ms(f.urls_tasks),
            ms(f.anchor),
            f"{f.urls_tasks / f.anchor:.2f}×",
        ),
        Row(
            "  `vidwatch --version`",
            ms(f.version),
            ms(f.anchor),
            f"{f.version / f.anchor:.2f}×",
        ),
    ]


def stills_rows() -> list[Row]:
    from bench.stills import MB, measure

    f = measure()
    return [
        Row(
            "still of a finished job, 10 MB faststart MP4 on a loopback host at 10 MB/s, "
            "median of 5 (anchor: fetching 3 MB from that host)",
            f"{secs(f.first)}, {f.read / MB:.2f} MB read",
            secs(f.anchor_fetch),
            f"{f.first / f.anchor_fetch:.2f}×",
            "≤ 1.5 s, ≤ 3 MB read",
            f.first <= 1.5 and f.read <= 3 * MB,
        ),
        Row(
            "still from the disk cache after a restart, median of 5 (anchor: reading its JPEG)",
            ms(f.cached),
            f"{f.anchor_cached * 1000:.2f} ms",
            f"{f.cached / f.anchor_cached:.0f}×",
            "≤ 100 ms",
            f.cached <= 0.1,
        ),
    ]


PARTS: dict[str, Callable[[], list[Row]]] = {
    "detection": detection_rows,
    "cpu": cpu_rows,
    "dashboard": dashboard_rows,
    "storage": storage_rows,
    "startup": startup_rows,
    "stills": stills_rows,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts")
    args = parser.parse_args()
    rows: list[Row] = []
    started = time.monotonic()
    # Every folder a part makes (task files, videos, caches) lives in one that goes at the end.
    # The parts run in processes of their own: they are told through the environment, so
    # that no cache, state or data of a dashboard measured lands in the user's folders.
    with tempfile.TemporaryDirectory(prefix="vidwatch-bench-") as folder:
        tempfile.tempdir = folder
        saved = dict(os.environ)
        os.environ.update(
            TMPDIR=folder,
            XDG_CACHE_HOME=os.path.join(folder, "cache"),
            XDG_STATE_HOME=os.path.join(folder, "state"),
            XDG_DATA_HOME=os.path.join(folder, "data"),
        )
        try:
            for name in args.only.split(","):
                print(f"running {name} …", file=sys.stderr, flush=True)
                rows += PARTS[name]()
        finally:
            tempfile.tempdir = None
            os.environ.clear()
            os.environ.update(saved)
    print("| measure | vidwatch | anchor | ratio | goal | pass |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        verdict = "–" if row.passed is None else ("yes" if row.passed else "NO")
        print(
            f"| {row.measure} | {row.value} | {row.anchor} | {row.ratio} | {row.goal} | {verdict} |"
        )
    print(f"\n({time.monotonic() - started:.0f} s)", file=sys.stderr)
    sys.exit(1 if any(row.passed is False for row in rows) else 0)


if __name__ == "__main__":
    main()
