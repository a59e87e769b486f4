"""The dashboard with a base URL the gateway has no such address for (issue 16, item 5):
polling pauses and says so in the header, a banner says what to fix, no task is marked
"not found", and ``p`` picks up a fixed base_url from the config file."""

from __future__ import annotations

from pathlib import Path

import pytest
from vidwatch.core.clients import client_for
from vidwatch.core.config import Config
from vidwatch.core.gateway.client import QueryClient
from vidwatch.core.model.records import Problem, State
from vidwatch.ui.widgets.detail import DetailPane
from vidwatch.ui.widgets.header import StatusBar

from tests.support.dashboard import FAST, KEY, Harness, body, make_app, record
from tests.support.routed_gateway import RoutedGateway
from tests.support.waits import until
from tests.ui.test_dashboard import footer_keys

pytestmark = pytest.mark.ui


def header(h: Harness) -> str:
    return h.app.main.query_one(StatusBar).render().plain


def routed(tmp_path: Path, gateway: RoutedGateway) -> Harness:
    def factory(config: Config) -> QueryClient:
        return client_for(config, transport=gateway.transport())

    records = [record("grok:new"), record("sora-2:run", State.RUNNING)]
    h = make_app(
        tmp_path, records, key=KEY, policy=FAST, base_url="https://gw.example/v1", factory=factory
    )
    h.config_file.parent.mkdir(parents=True)  # the file the dashboard's base URL came from
    h.config_file.write_text('base_url = "https://gw.example/v1"\n', encoding="utf-8")
    return h


async def test_a_wrong_base_url_pauses_polling_says_what_to_fix_and_p_resumes(
    tmp_path: Path,
) -> None:
    gateway = RoutedGateway(KEY, {"grok:new": body("processing"), "sora-2:run": body("queued")})
    h = routed(tmp_path, gateway)
    async with h.app.run_test(size=(120, 30)) as pilot:
        main = h.app.main
        await until(pilot, lambda: "should not end in /v1" in main.banner_text())
        banner = main.banner_text()
        assert "https://gw.example/v1/v1/video/query" in banner  # the address it asked
        assert "set it to https://gw.example" in banner
        assert "press p" in banner
        assert "paused: wrong base URL" in header(h)
        assert footer_keys(h)["p"] == "Resume"
        asked = len(gateway.paths)
        await pilot.pause(0.3)  # a window in which nothing may be asked
        assert len(gateway.paths) == asked
        for task_id, kept in main.session.records.items():
            assert kept.result.problem is not Problem.NOT_FOUND, task_id
            assert not h.app.poller.given_up(task_id)
        facts = " ".join(main.query_one(DetailPane).section_text("facts").split())
        assert "Next check – (wrong base URL; fix it, then p)" in facts

        await pilot.press("p")  # nothing changed yet: asked again, still wrong
        await until(pilot, lambda: "base_url is unchanged" in h.last_toast())
        await until(pilot, lambda: len(gateway.paths) > asked)
        await until(pilot, lambda: "should not end in /v1" in main.banner_text())

        h.config_file.write_text('base_url = "https://gw.example"\n', encoding="utf-8")
        await pilot.press("p")
        await until(pilot, lambda: "Polling again, at https://gw.example" in h.last_toast())
        records = main.session.records
        await until(pilot, lambda: records["grok:new"].result.state is State.RUNNING)
        await until(pilot, lambda: records["sora-2:run"].result.state is State.QUEUED)
        assert "wrong" not in main.banner_text()
        assert "live" in header(h)
        assert footer_keys(h)["p"] == "Pause"
        assert h.app.config.base_url == "https://gw.example"
