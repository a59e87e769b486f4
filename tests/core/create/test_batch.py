"""Batch files: JSONL and CSV rows, stable identities, clear per-row errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vidwatch.core.create import batch as batch_module
from vidwatch.core.create.batch import MAX_BYTES, Batch, parse_batch, read_batch

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
    ],
)
def test_each_bad_row_has_its_own_error_and_the_others_still_go(line: str, why: str) -> None:
    """A row that reads cleanly but says something wrong: its own error, the others go."""
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


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("{not json", "not JSON"),
        ('{"prompt": "a "big" cat"}', "not JSON"),  # a quote not escaped
        ('{"prompt": "half a line', "not JSON"),  # a line cut short, or wrapped by an editor
        ('["a list"]', "not a list"),
        ("42", "not int"),
        ('{"prompt": "x", "n": ' + "1" * 5000 + "}", "not JSON"),
        ("[" * 100_000, "not JSON"),
        ('{"prompt": "a", "prompt": "b"}', 'key "prompt" is given twice'),
        ('{"prompt": "a", "extra": {"k": 1, "k": 2}}', 'key "k" is given twice'),
    ],
)
def test_a_jsonl_line_that_does_not_read_refuses_the_whole_file(line: str, why: str) -> None:
    """Which rows the file holds is a guess when one line cannot be read: nothing is sent,
    and the message names the line."""
    batch = parse_batch(jsonl({"prompt": "good"}, line, {"prompt": "also good"}), source="b.jsonl")
    assert batch.error is not None
    assert batch.error.startswith("line 2: ")
    assert why.replace('"', "'") in batch.error.replace('"', "'")
    assert batch.sendable == ()


def test_bad_bytes_in_one_jsonl_line_refuse_the_file_naming_every_bad_line() -> None:
    data = b'{"prompt": "a"}\n{"prompt": "\xff"}\n{"prompt": "b"}\n{x\n{y\n'
    batch = parse_batch(data, source="b.jsonl")
    assert batch.error == "line 2: not UTF-8 text (save the file as UTF-8); also lines 4, 5"
    assert batch.sendable == ()
    assert [r.ok for r in batch.rows] == [True, False, True, False, False]
    many = parse_batch(jsonl(*(["{"] * 9)), source="b.jsonl")
    assert many.error is not None
    assert many.error.endswith("also lines 2, 3, 4, 5, 6 and 3 more")


def test_a_csv_with_one_unclosed_quote_is_refused_whole_naming_its_line() -> None:
    """Row 4 of 10 without its closing quote swallowed rows 5-10 into its prompt."""
    rows = [f"prompt {n},label {n}" for n in range(1, 11)]
    rows[3] = '"prompt 4 with a quote never closed,label 4'
    batch = parse_batch(("prompt,label\n" + "\n".join(rows) + "\n").encode(), source="b.csv")
    assert batch.error is not None
    assert batch.error.startswith("line 5: a quote opens a cell here and is never closed")
    assert batch.sendable == ()
    # ... and when a later quote closes it, the text after that quote gives it away
    rows[7] = '"prompt 8",label 8'
    batch = parse_batch(("prompt,label\n" + "\n".join(rows) + "\n").encode(), source="b.csv")
    assert batch.error is not None
    assert batch.error.startswith("line 5: text after a closing quote on line 9")
    assert batch.sendable == ()


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"prompt,label\na,1\nb\n", "line 3: 1 cell but the header names 2 columns"),
        (b"prompt,label\na cat\nin the rain,x\n", "line 2: 1 cell but"),  # a broken prompt
        (b"prompt,label\na, b,c\n", "line 2: 3 cells but the header names 2 columns"),
        (b'prompt,label\n"a" cat,1\n', "line 2: text after a closing quote ("),
        (b"prompt,label\na,1\nprompt,label\nb,2\n", "line 3: the header again"),
        (b"prompt\na\n\xef\xbb\xbfprompt\nb\n", "line 3: the header again"),  # joined files
        (b"prompt\na\x00b\n", "line 2: a NUL byte"),
        ("prompt\nun chat\n".encode("utf-16"), "UTF-16"),
        ("prompt\nun chat\n".encode("utf-16-le"), "line 1: a NUL byte"),  # UTF-16, no BOM
        (b"prompt\nun chat\ncaf\xe9\n", "line 3: not UTF-8"),  # one line in Latin-1
    ],
)
def test_a_csv_that_does_not_read_cleanly_is_refused_whole(data: bytes, why: str) -> None:
    batch = parse_batch(data, source="b.csv")
    assert batch.error is not None
    assert why in batch.error
    assert batch.sendable == ()


def test_what_a_csv_allows() -> None:
    # a quote inside an unquoted cell is text (as spreadsheets read it); a quoted cell may
    # hold line ends; empty cells past the last column say nothing
    data = b'prompt,label\na "big" cat,1\n"two\nlines",2\nthree,3,,\n'
    batch = parse_batch(data, source="b.csv")
    assert batch.error is None
    assert [r.request.prompt for r in batch.rows if r.request] == [
        'a "big" cat',
        "two\nlines",
        "three",
    ]
    assert [r.line for r in batch.rows] == [2, 3, 5]


def test_a_nul_byte_in_jsonl_refuses_the_file() -> None:
    batch = parse_batch(b'{"prompt": "a"}\n{"prompt": "b\x00"}\n', source="b.jsonl")
    assert batch.error is not None
    assert "line 2: a NUL byte" in batch.error


@pytest.mark.parametrize("end", [b"\r", b"\r\n", b"\n"])
def test_any_line_end_splits_rows(end: bytes) -> None:
    """Old Mac files end lines with a bare CR: each is still one row (JSONL and CSV)."""
    lines = [b'{"prompt": "a"}', b'{"prompt": "b", "label": "x"}', b"", b'{"prompt": "c"}']
    batch = parse_batch(end.join(lines) + end, source="b.jsonl")
    assert batch.error is None
    assert [(r.line, r.request.prompt) for r in batch.rows if r.request] == [
        (1, "a"),
        (2, "b"),
        (4, "c"),
    ]
    # the header's separator is found on the first line, not in the whole file
    csv_lines = [b"prompt;label", b"a, then b;x", b'"two' + end + b'lines";y', b"c;z"]
    batch = parse_batch(end.join(csv_lines) + end, source="b.csv")
    assert batch.error is None
    assert [(r.line, r.label) for r in batch.rows] == [(2, "x"), (3, "y"), (5, "z")]
    assert [r.request.prompt for r in batch.rows if r.request] == ["a, then b", "two\nlines", "c"]


def test_a_byte_order_mark_starting_a_joined_file_is_dropped() -> None:
    data = b'\xef\xbb\xbf{"prompt": "a"}\n\xef\xbb\xbf{"prompt": "b"}\n'
    batch = parse_batch(data, source="b.jsonl")
    assert batch.error is None
    assert [r.request.prompt for r in batch.rows if r.request] == ["a", "b"]


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
