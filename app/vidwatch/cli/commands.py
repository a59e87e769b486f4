"""What each command runs, its module imported only when it runs.

The parser names these; building it loads none of the commands' modules. Scripts call
``vidwatch add``, ``list`` and ``urls`` in loops: a command that needs no network must
not pay for the HTTP stack (httpx, aiohttp), the simulator or Textual at every start
(a test checks it; ``make bench`` times it against ``python -c pass``).
"""

from __future__ import annotations

import argparse

from vidwatch.cli.output import Context

# --------------------------------------------------------------------------- offline


def cmd_add(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import offline

    return offline.cmd_add(ctx, ns)


def cmd_remove(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import offline

    return offline.cmd_remove(ctx, ns)


def cmd_list(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import offline

    return offline.cmd_list(ctx, ns)


def cmd_urls(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import offline

    return offline.cmd_urls(ctx, ns)


def cmd_paths(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import offline

    return offline.cmd_paths(ctx, ns)


def cmd_export(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import offline

    return offline.cmd_export(ctx, ns)


# --------------------------------------------------------------------------- network


def cmd_thumb(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import thumb

    return thumb.cmd_thumb(ctx, ns)


def cmd_poll(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import network

    return network.cmd_poll(ctx, ns)


def cmd_wait(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import wait

    return wait.cmd_wait(ctx, ns)


def cmd_check(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import network

    return network.cmd_check(ctx, ns)


def cmd_stats(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import stats

    return stats.cmd_stats(ctx, ns)


def cmd_balance(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import money

    return money.cmd_balance(ctx, ns)


def cmd_web(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import network

    return network.cmd_web(ctx, ns)


def cmd_simulate(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import network

    return network.cmd_simulate(ctx, ns)


def cmd_download(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import download

    return download.cmd_download(ctx, ns)


def cmd_create(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import create

    return create.cmd_create(ctx, ns)


def cmd_submit(ctx: Context, ns: argparse.Namespace) -> int:
    from vidwatch.cli import submit

    return submit.cmd_submit(ctx, ns)


def simulate_help() -> str:
    """What ``simulate --help`` adds: the simulator's shapes, faults and create answers
    (built when help is shown: the simulator loads aiohttp)."""
    from vidwatch.simulator.creates import CREATE_HELP
    from vidwatch.simulator.faults import FAULTS_HELP
    from vidwatch.simulator.shapes import SHAPES_HELP

    return f"{SHAPES_HELP}\n{FAULTS_HELP}\n\n{CREATE_HELP}"
