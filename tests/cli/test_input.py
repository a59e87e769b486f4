"""The CLI's offline commands and hostile input: pasted IDs, hand-edited task files,
usage mistakes, broken config files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from vidwatch.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE

from tests.cli.test_cli import Run
from tests.support.paths import ROOT

GROK = "grok:eee6faa8-9dee-455c-aa82-02ac623adf3a"
SORA = "sora-2:task_01k81e7r1mf0qtvp3ett3mr4jm"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return Run(tmp_path)


def ids_in(run: Run) -> list[str]:
    return [d["id"] for d in json.loads(run("list", "--json")[1])]


def test_pasted_prose_adds_nothing_and_says_why(run: Run) -> None:
    code, out, err = run("add", "-", stdin="hello world!!, https://example.com/x\n")
    assert code == EXIT_FAILED
    assert "Added 0 tasks, 3 ignored." in out
    assert "ignored 'hello': does not look like a task ID" in err
    assert "ignored 'world!!'" in err
    assert "ignored 'https://example.com/x': a link without an id= parameter" in err
    assert "no task ID found" in err
    assert ids_in(run) == []


def test_stdin_takes_a_create_calls_json_and_links(run: Run) -> None:
    created = json.dumps({"id": GROK, "status": "pending", "status_update_time": 1750323167003})
    link = f"https://api.quickrouter.ai/v1/video/query?id={SORA}"
    code, out, err = run("add", "-", stdin=f"{created}\n{link}\n")
    assert code == EXIT_OK, err
    assert "Added 2 tasks." in out
    assert err == ""
    assert ids_in(run) == [GROK, SORA]


def test_a_long_paste_names_ten_ignored_pieces_and_counts_the_rest(run: Run) -> None:
    code, _, err = run("add", "-", stdin=" ".join(f"word{n}" for n in range(25)) + f" {GROK}")
    assert code == EXIT_OK
    assert err.count("ignored 'word") == 10
    assert "… and 15 more ignored" in err


def test_arguments_are_taken_as_given_with_a_warning(run: Run) -> None:
    code, out, err = run("add", "hello", f"https://x.example/q?id={GROK}", SORA)
    assert code == EXIT_OK
    assert "Added 3 tasks." in out
    assert "'hello' does not look like a task ID" in err
    assert f"did you mean '{GROK}'?" in err
    assert SORA not in err
    assert ids_in(run) == ["hello", f"https://x.example/q?id={GROK}", SORA]


def test_list_with_a_misspelt_option_shows_lists_usage(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        run("list", "--jsn")
    assert info.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("usage: vidwatch list ")
    assert "unrecognized arguments: --jsn (did you mean --json?)" in err


def test_a_filter_that_starts_with_a_dash_gets_a_hint(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        run("export", "--filter", "-state:x")
    assert info.value.code == EXIT_USAGE
    assert "needs '=': --filter=-state:x" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run("export", "-o", "-x.csv")
    assert "needs '=': -o=-x.csv" in capsys.readouterr().err


def test_a_config_file_with_a_syntax_error_is_not_ignored_silently(
    run: Run, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("base_url = [", encoding="utf-8")
    for command in (("list",), ("urls",), ("export",), ("add", GROK)):
        code, _, err = run("--config", str(config), *command)
        assert code == EXIT_OK, command
        assert "is not valid TOML" in err, command
        assert err.count("vidwatch:") == 1


def test_a_custom_tasks_file_leaves_no_lock_file_behind(run: Run) -> None:
    run("add", GROK)
    run("list")
    run("remove", GROK)
    assert sorted(p.name for p in run.tasks.parent.iterdir()) == ["home", "tasks.toml"]


def hand_edited(run: Run, *tasks: tuple[str, str, str]) -> None:
    """A task file as a person might edit it: (id, video URL, label) as TOML string
    bodies, so TOML escapes (``\\u001b``) put control characters into the values."""
    parts = ["schema = 1\n"]
    for task_id, url, label in tasks:
        parts.append(
            f'[[tasks]]\nid = "{task_id}"\nadded_at = 2025-06-01T12:00:00Z\nlabel = "{label}"\n'
            f'[tasks.result]\nstate = "succeeded"\nstatus = "completed"\n'
            f'video_url = "{url}"\nchecked_at = 2025-06-01T12:00:00Z\n'
        )
    run.tasks.write_text("\n".join(parts), encoding="utf-8")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("javascript:alert(1)", "only http(s)"),
        ("https://v.example/a\\n.mp4", "spaces or control"),
        ("https://v.example/a\\u2028b.mp4", "invisible"),
        ("https://v.example/a\\u00adb\\u3164.mp4", "invisible"),
        ("https://v.example/a\\U000e0041.mp4", "invisible"),
        ("https://trusted.example@evil.example/x.mp4", "real host"),
    ],
)
def test_urls_checks_every_url_again_and_skips_bad_ones(run: Run, url: str, why: str) -> None:
    hand_edited(run, ("grok:good", "https://v.example/good.mp4", ""), ("grok:bad", url, ""))
    stored = {d["id"]: d["video_url"] for d in json.loads(run("list", "--json")[1])}
    code, out, err = run("urls")
    assert code == EXIT_OK
    assert out == "https://v.example/good.mp4\n"
    if stored["grok:bad"]:  # the store let it through: urls itself must skip it and say why
        assert "grok:bad: URL skipped" in err
        assert why in err
    else:  # the store dropped it on load (the first line of defence)
        assert stored["grok:bad"] is None


def test_an_escape_in_a_hand_edited_id_never_reaches_the_terminal(run: Run) -> None:
    evil = "grok:x\\u001b]2;pwned\\u0007\\u001b[31m"
    hand_edited(run, (evil, "https://v.example/a.mp4", "cow\\u001b[2J"))
    outputs: list[str] = []
    for command in (
        ("list",),
        ("urls",),
        ("export", "--format", "md"),
        ("export", "--format", "csv"),
        ("remove", "grok:nothing"),
        ("download", "--dir", str(run.tasks.parent / "v"), "grok:nothing"),
    ):
        _, out, err = run(*command)
        outputs.append(out + err)
    for text in outputs:
        assert "\x1b" not in text
        assert "\x07" not in text


def test_download_messages_about_a_hand_edited_id_are_clean(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """download names the task in every line it prints: the ID came from the file."""
    from vidwatch.core.downloads.fetch import DownloadResult

    hand_edited(run, ("grok:good", "https://v.example/a.mp4", ""))
    evil_id = "grok:\x1b]0;x\x07a"  # whatever reaches the printer must be cleaned there

    async def fake_all(self: object, records: list[object], progress: object) -> list[object]:
        return [
            DownloadResult.failed(evil_id, "the host said \x1b[2J no"),
            DownloadResult.saved(evil_id, run.tasks.parent / "a.mp4", 1, "saved"),
        ]

    monkeypatch.setattr("vidwatch.core.downloads.fetch.Downloader.download_all", fake_all)
    code, out, err = run("download", "--dir", str(run.tasks.parent / "v"))
    assert code == EXIT_FAILED
    assert "grok:" in out
    assert "grok:" in err
    assert "\x1b" not in out + err
    assert "\x07" not in out + err


def test_remove_reads_stdin_too(run: Run) -> None:
    run("add", GROK, SORA)
    code, out, _ = run("remove", "-", stdin=f"{GROK}\n")
    assert code == EXIT_OK
    assert "Removed 1 task." in out
    assert ids_in(run) == [SORA]


def test_every_package_under_app_is_installed() -> None:
    """The cli package (and any other) must be listed where setuptools looks for them,
    or `pip install .` ships a vidwatch without its command line."""
    import tomllib

    root = ROOT
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    source = root / "app"
    found = {
        ".".join(init.parent.relative_to(source).parts) for init in source.rglob("__init__.py")
    }
    assert "vidwatch.cli" in found
    assert found <= listed


def test_a_misspelt_command_gets_the_one_meant(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 21 item 7: ``vidwatch lsit`` suggests ``list``, as option typos get one."""
    with pytest.raises(SystemExit) as info:
        run("lsit")
    assert info.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "invalid choice: 'lsit'" in err
    assert "did you mean 'list'?" in err
