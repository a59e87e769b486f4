"""Money in the CLI: estimates in confirmations and dry runs, the spending limit, and
estimates learned from the charges seen (``vidwatch balance``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from vidwatch.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from vidwatch.simulator.serve import SimulatorThread
from vidwatch.simulator.server import Simulator

from tests.cli.test_create import Cli, Terminal


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    sim = Simulator(jobs=0, seed=2, speed=20.0, median=10.0, fail_rate=0.0)
    with SimulatorThread(sim) as thread:
        yield Cli(tmp_path, sim, thread.base_url)


def rows(cli: Cli, count: int, model: str = "grok-video-3") -> Path:
    path = cli.tmp / "batch.jsonl"
    lines = [json.dumps({"prompt": f"cow {n}", "model": model}) for n in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def with_config(cli: Cli, extra: str) -> None:
    cli.config.write_text(cli.config.read_text(encoding="utf-8") + extra, encoding="utf-8")


def test_an_unknown_cost_is_said_unknown(cli: Cli) -> None:
    code, _, err = cli("create", "--dry-run", "a cat")
    assert code == EXIT_OK
    assert "cost: cost unknown: 1 × grok-video-3: unknown: no charge seen yet" in err


def test_prices_from_the_config_show_in_the_confirmation_with_their_source(cli: Cli) -> None:
    with_config(cli, '[prices]\n"grok-video-3" = 0.24\n')
    code, _, err = cli("submit", str(rows(cli, 20)), stdin=Terminal("n\n"))
    assert code == EXIT_FAILED
    assert "20 × grok-video-3 at 0.24, from [prices]" in err
    assert "nothing sent" in err
    code, _, err = cli("submit", "--dry-run", str(rows(cli, 20)))
    assert code == EXIT_OK
    assert "cost: ≈ 4.80" in err


def test_a_batch_above_the_limit_is_refused_before_anything_is_sent(
    cli: Cli,
) -> None:
    with_config(cli, 'max_spend = 100.0\n[prices]\n"grok-video-3" = 0.24\n')  # [create]
    code, _, err = cli("submit", "--yes", "--max-spend", "3", str(rows(cli, 20)))
    assert code == EXIT_USAGE
    assert "the estimate 4.80" in err
    assert "above the spending limit 3" in err
    assert cli.sim.create.accepted == 0
    code, _, err = cli("submit", "--yes", "--max-spend", "5", str(rows(cli, 20)))
    assert code == EXIT_OK, err
    assert cli.sim.create.accepted == 20


def test_with_no_estimate_the_limit_counts_jobs(cli: Cli) -> None:
    with_config(cli, "max_spend = 2\n")
    code, _, err = cli("submit", "--yes", str(rows(cli, 3)))
    assert code == EXIT_USAGE
    assert "3 jobs of unknown cost: with no estimate, the spending limit 2 counts jobs" in err
    assert cli.sim.create.accepted == 0


def test_estimates_come_from_the_charges_seen(cli: Cli) -> None:
    assert cli("create", "--yes", "--model", "grok-video-3", "a cat")[0] == EXIT_OK
    code, out, err = cli("balance")
    assert code == EXIT_OK, err
    assert "1 job newly costed" in out
    code, _, err = cli("create", "--dry-run", "--model", "grok-video-3", "another cat")
    assert "≈ 0.24 USD: 1 × grok-video-3 at 0.24, from your last job; balance 30.96 USD" in err


def test_the_limit_holds_for_the_day_with_what_was_spent_today(cli: Cli) -> None:
    with_config(cli, 'max_spend = 0.4\n[prices]\n"grok-video-3" = 0.24\n')  # [create]
    assert cli("create", "--yes", "--model", "grok-video-3", "a cat")[0] == EXIT_OK
    assert cli("balance")[0] == EXIT_OK  # the charge seen: 0.24 USD today
    code, _, err = cli("create", "--yes", "--model", "grok-video-3", "another cat")
    assert code == EXIT_USAGE
    assert "today's spend 0.24 USD and the estimate 0.24 USD come to more than" in err
    assert cli.sim.create.accepted == 1


def test_a_run_stops_sending_when_the_charges_seen_reach_the_limit(cli: Cli) -> None:
    """Today's charges already at the limit: a batch of unknown cost (the limit counts
    its jobs, and lets them by) sends nothing and says why."""
    assert cli("submit", "--yes", str(rows(cli, 5, model="sora-2")))[0] == EXIT_OK
    assert cli("balance")[0] == EXIT_OK  # 5 × 0.40 USD seen today
    assert cli.sim.create.accepted == 5
    code, _, err = cli("submit", "--yes", "--max-spend", "2", str(rows(cli, 2)))
    assert cli.sim.create.accepted == 5, err
    assert "the batch stopped: today's spend 2.00 USD reached the spending limit 2" in err
    assert code != EXIT_OK


def test_creates_in_a_row_count_toward_the_days_limit_before_their_charges_are_seen(
    cli: Cli,
) -> None:
    """The request log is read now and then (``balance``, the dashboard's refresh): a
    job created today whose charge is not seen yet counts at its estimate, so a script
    of creates cannot pass ``max_spend`` for the day meanwhile."""
    with_config(cli, 'max_spend = 0.5\n[prices]\n"grok-video-3" = 0.24\n')  # [create]
    for n in range(2):
        code, _, err = cli("create", "--yes", "--model", "grok-video-3", f"a cat {n}")
        assert code == EXIT_OK, err
    code, _, err = cli("create", "--yes", "--model", "grok-video-3", "a third cat")
    assert code == EXIT_USAGE
    assert "today's spend 0.48 and the estimate 0.24 come to more than" in err
    assert cli.sim.create.accepted == 2


def test_balance_puts_a_cost_learned_after_the_download_into_the_sidecar(cli: Cli) -> None:
    from vidwatch.core.downloads.sidecar import write_sidecar
    from vidwatch.core.store.task_file import TaskStore

    code, out, _ = cli("create", "--yes", "--model", "grok-video-3", "a cat")
    assert code == EXIT_OK
    task_id = out.strip()
    video = cli.tmp / "cat.mp4"
    video.write_bytes(b"\x00" * 100)
    store = TaskStore(cli.tasks)
    store.set_saved({task_id: str(video)})
    sidecar = write_sidecar(store.load().records[task_id], video, 100)  # saved: no cost yet
    assert json.loads(sidecar.read_text(encoding="utf-8"))["cost"] is None
    assert cli("balance")[0] == EXIT_OK
    cost = json.loads(sidecar.read_text(encoding="utf-8"))["cost"]
    assert (cost["amount"], cost["unit"]) == ("0.24", "USD")
