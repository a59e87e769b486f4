"""Batch files: JSONL and CSV rows, stable identities, clear per-row errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vidwatch.core import batch as batch_module
from vidwatch.core.batch import MAX_BYTES, Batch, parse_batch, read_batch

URL = "https://cdn.example.com/a.png"


def jsonl(*rows: object) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode()


def ids(batch: Batch) -> list[str]:
    return [row.identity for row in batch.rows]


def test_jsonl_rows_become_requests_with_labels_and_extra_fields() -> None:
    data = jsonl(
        {"prompt": "a cat", "label": "cat", "aspect_ratio": "3:2"},
        "",
        "# a comment",
        {"prompt": "a dog", "model": "sora-2", "images": [URL], "private": True},
        {"prompt": "new thing", "model": "wan-2.5", "seed": 7, "label": 12},
    )
    batch = parse_batch(data, source="b.jsonl", default_model="grok-video-3")
    assert batch.error is None
    assert batch.format == "jsonl"
    assert [(r.number, r.line, r.label) for r in batch.rows] == [
        (1, 1, "cat"),
        (2, 4, ""),
        (3, 5, "12"),
    ]
    first, second, third = (row.request for row in batch.rows)
    assert first is not None
    assert second is not None
    assert third is not None
    assert first.body() == {
        "model": "grok-video-3",
        "prompt": "a cat",
        "aspect_ratio": "3:2",
        "images": [],
    }
    assert second.body() == {
        "model": "sora-2",
        "prompt": "a dog",
        "private": True,
        "duration": 10,
        "images": [URL],
    }
    assert any("duration" in note for note in batch.rows[1].notes)
    assert third.body() == {"model": "wan-2.5", "prompt": "new thing", "seed": 7}
    assert len(batch.sendable) == 3


def test_csv_with_a_header_types_extra_columns_like_param() -> None:
    data = (
        b"Prompt,model,label,aspect_ratio,enhance_prompt,seed,images\n"
        b'a cat,veo3.1,one,16:9,true,42,"https://a.example/1.png https://a.example/2.png"\n'
        b'"a long\nprompt, with a comma",,two,,,,\n'
        b",,,,,,\n"
        b"a cow,grok-video-3,three,16:9,,,\n"
    )
    batch = parse_batch(data, source="b.csv", default_model="grok-video-3")
    assert batch.format == "csv"
    assert batch.error is None
    one, two, three = batch.rows
    assert one.request is not None
    assert one.request.body() == {
        "model": "veo3.1",
        "prompt": "a cat",
        "aspect_ratio": "16:9",
        "enhance_prompt": True,
        "seed": 42,
        "images": ["https://a.example/1.png", "https://a.example/2.png"],
    }
    assert two.request is not None
    assert two.request.prompt == "a long\nprompt, with a comma"
    assert two.request.model == "grok-video-3"
    assert (two.line, three.line) == (3, 6)
    assert three.request is None
    assert three.error is not None
    assert "2:3, 3:2 or 1:1" in three.error
    assert three.label == "three"


def test_semicolon_and_tab_separated_files() -> None:
    for sep in (";", "\t"):
        data = f"prompt{sep}label\na cat{sep}x\n".encode()
        batch = parse_batch(data, source="b.txt")
        assert batch.format == "csv"
        assert [r.label for r in batch.rows] == ["x"]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("{not json", "not JSON"),
        ('["a list"]', "not a list"),
        ("42", "not int"),
        ('{"label": "x"}', "no prompt"),
        ('{"prompt": ""}', "no prompt"),
        ('{"prompt": 5}', "text"),
        ('{"prompt": "x", "model": 3}', "model must be text"),
        ('{"prompt": "x", "images": 3}', "images must be a list"),
        ('{"prompt": "x", "images": ["ftp://a/b"]}', "https://"),
        ('{"prompt": "x", "model": "sora-2", "duration": 7}', "10 or 15"),
        ('{"prompt": "x", "label": {"a": 1}}', "label must be text"),
        ('{"prompt": "x", "bad key": 1}', "field name"),
        ('{"prompt": "x", "n": NaN}', "not a JSON value"),
        ('{"prompt": "x", "n": ' + "1" * 5000 + "}", "not JSON"),
        ("[" * 100_000, "not JSON"),
    ],
)
def test_each_bad_row_has_its_own_error_and_the_others_still_go(line: str, why: str) -> None:
    batch = parse_batch(jsonl({"prompt": "good"}, line, {"prompt": "also good"}), source="b.jsonl")
    assert batch.error is None
    good, bad, also = batch.rows
    assert good.ok
    assert also.ok
    assert not bad.ok
    assert bad.error is not None
    assert why in bad.error
    assert bad.line == 2
    assert len(batch.sendable) == 2


def test_bad_bytes_in_one_jsonl_line_spoil_only_that_line() -> None:
    data = b'{"prompt": "a"}\n{"prompt": "\xff"}\n{"prompt": "b"}\n'
    batch = parse_batch(data, source="b.jsonl")
    assert [r.ok for r in batch.rows] == [True, False, True]
    assert "UTF-8" in (batch.rows[1].error or "")


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"label,model\nx,y\n", "no prompt column"),
        (b"prompt,label,label\nx,y,z\n", "twice"),
        (b"prompt,,label\nx,y,z\n", "no name"),
        (b"prompt\n\xff\n", "UTF-8"),
    ],
)
def test_unusable_csv_files_are_refused_as_a_whole(data: bytes, why: str) -> None:
    batch = parse_batch(data, source="b.csv")
    assert batch.error is not None
    assert why in batch.error
    assert batch.sendable == ()


def test_a_csv_row_with_too_many_cells_is_a_row_error() -> None:
    batch = parse_batch(b"prompt,label\na,b,c\nd,e\n", source="b.csv")
    assert [r.ok for r in batch.rows] == [False, True]
    assert "3 cells" in (batch.rows[0].error or "")


def test_a_csv_that_breaks_halfway_sends_nothing() -> None:
    data = b"prompt\nfine\n" + b'"' + b"x" * 200_000 + b'"\nlater\n'
    batch = parse_batch(data, source="b.csv")
    assert batch.error is not None
    assert "line 3" in batch.error
    assert batch.sendable == ()


def test_size_and_row_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    too_big = parse_batch(b" " * (MAX_BYTES + 1), source="b.jsonl")
    assert too_big.error is not None
    assert "MiB" in too_big.error
    monkeypatch.setattr(batch_module, "MAX_ROWS", 3)
    for data, source in (
        (jsonl(*({"prompt": f"p{n}"} for n in range(4))), "b.jsonl"),
        (b"prompt\n" + b"p\n" * 4, "b.csv"),
    ):
        batch = parse_batch(data, source=source)
        assert batch.error is not None
        assert "more than 3 rows" in batch.error
        assert batch.rows == ()
    assert (
        parse_batch(jsonl(*({"prompt": f"p{n}"} for n in range(3))), source="b.jsonl").error is None
    )


def test_echoed_values_are_one_short_printable_line() -> None:
    hostile = "\x1b]52;c;ZXZpbA==\x07\u202e" + "x" * 500
    rows = [
        {"prompt": "x", "model": "grok-video-3", "aspect_ratio": hostile},
        {"prompt": "x", "label": hostile},
        {"prompt": "x", "model": ["\x1b[2J"]},
    ]
    batch = parse_batch(jsonl(*rows), source="b.jsonl")
    for row in batch.rows:
        for text in (row.error or "", row.label):
            assert "\x1b" not in text
            assert "\u202e" not in text
            assert "\n" not in text
            assert len(text) <= 200


# ---------------------------------------------------------------- identity


def test_identity_ignores_how_the_row_is_written_but_not_what_it_says() -> None:
    a = parse_batch(jsonl({"prompt": "a cat ", "seed": 1, "label": "x"}), source="b.jsonl")
    b = parse_batch(jsonl({"label": "other", "seed": 1, "prompt": "a cat"}), source="b.jsonl")
    c = parse_batch(b"prompt,seed,label\na cat,1,\n", source="b.csv")
    d = parse_batch(jsonl({"prompt": "a cat", "seed": 2}), source="b.jsonl")
    assert ids(a) == ids(b) == ids(c)
    assert ids(a) != ids(d)


def test_identical_rows_are_distinct_jobs_and_inserting_rows_moves_nothing() -> None:
    before = parse_batch(jsonl({"prompt": "a"}, {"prompt": "b"}, {"prompt": "a"}), source="b.jsonl")
    first_a, b, second_a = ids(before)
    assert len({first_a, b, second_a}) == 3
    after = parse_batch(
        jsonl({"prompt": "new"}, {"prompt": "a"}, {"prompt": "b"}, {"prompt": "a"}),
        source="b.jsonl",
    )
    assert ids(after)[1:] == [first_a, b, second_a]


def test_identity_does_not_depend_on_the_default_model() -> None:
    data = jsonl({"prompt": "a"})
    one = parse_batch(data, source="b.jsonl", default_model="grok-video-3")
    two = parse_batch(data, source="b.jsonl", default_model="sora-2")
    assert ids(one) == ids(two)
    assert one.rows[0].request != two.rows[0].request


def test_read_batch_reports_missing_files(tmp_path: Path) -> None:
    missing = read_batch(tmp_path / "nope.jsonl")
    assert missing.error is not None
    assert "cannot read" in missing.error
    path = tmp_path / "b.csv"
    path.write_bytes("\ufeffprompt\nhi\n".encode())
    batch = read_batch(path)
    assert batch.error is None
    assert batch.source == str(path.resolve())
    assert [r.request.prompt for r in batch.rows if r.request] == ["hi"]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600), st.sampled_from(["b.jsonl", "b.csv", "b.txt"]))
def test_any_bytes_parse_without_raising(data: bytes, source: str) -> None:
    batch = parse_batch(data, source=source)
    assert len({row.identity for row in batch.rows}) == len(batch.rows)
    for row in batch.rows:
        assert (row.request is None) != (row.error is None)
        assert "\x1b" not in (row.error or "") + row.label


@given(
    st.lists(
        st.fixed_dictionaries(
            {"prompt": st.text(min_size=1, max_size=30)},
            optional={
                "label": st.text(max_size=10),
                "seed": st.integers(),
                "style": st.sampled_from(["a", "b"]),
            },
        ),
        max_size=8,
    )
)
def test_jsonl_rows_round_trip(rows: list[dict[str, object]]) -> None:
    batch = parse_batch(jsonl(*rows), source="b.jsonl")
    assert batch.error is None
    assert len(batch.rows) == len(rows)
    for row, given_row in zip(batch.rows, rows, strict=True):
        if row.request is not None:
            assert (
                row.request.prompt
                == str(given_row["prompt"]).replace("\r\n", "\n").replace("\r", "\n").strip()
            )
            assert row.request.fields.get("seed") == given_row.get("seed")
        else:
            assert row.error
    assert len(set(ids(batch))) == len(rows)
