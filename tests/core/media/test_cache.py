"""The stills' disk cache: bounded, least recently used first out, hostile files ignored."""

from __future__ import annotations

import os
from pathlib import Path

from vidwatch.core.media.cache import StillCache, cache_key
from vidwatch.core.model.records import VideoFacts

JPEG = b"\xff\xd8\xff\xe0" + bytes(10_000)
FACTS = VideoFacts(1280, 720, 8.0, 24.0, "h264", "aac", 9_800_000)
PLENTY = 10**12


def cache(folder: Path, max_bytes: int = 1_000_000, free: int = PLENTY) -> StillCache:
    return StillCache(folder, max_bytes, free_space=lambda _: free)


def test_a_still_and_its_facts_come_back_after_a_restart(tmp_path: Path) -> None:
    assert cache(tmp_path).put("grok:1", still=JPEG, strip=JPEG, facts=FACTS) is None
    again = cache(tmp_path)
    assert again.get("grok:1") == JPEG
    assert again.get("grok:1", "strip") == JPEG
    assert again.facts("grok:1") == FACTS
    assert again.get("grok:2") is None
    # no name from a server reaches the file system
    assert {p.name.split(".")[0] for p in tmp_path.iterdir()} == {cache_key("grok:1")}


def test_the_folder_stays_within_its_bound_the_least_recently_used_going_first(
    tmp_path: Path,
) -> None:
    kept = cache(tmp_path, max_bytes=3 * len(JPEG) + 100)
    for n in range(3):
        assert kept.put(f"t{n}", still=JPEG, facts=None) is None
        path = tmp_path / f"{cache_key(f't{n}')}.jpg"
        os.utime(path, (1000 + n, 1000 + n))  # written in order, a second apart
    assert kept.get("t0") == JPEG  # looked at: now the most recent
    kept.put("t3", still=JPEG, facts=None)
    assert kept.get("t1") is None  # the oldest untouched went
    assert [kept.get(name) for name in ("t0", "t2", "t3")] == [JPEG] * 3
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) <= kept.max_bytes


def test_a_nearly_full_disk_keeps_nothing_and_says_why(tmp_path: Path) -> None:
    full = cache(tmp_path, free=1024)
    assert full.put("t", still=JPEG, facts=FACTS) == "the disk is nearly full"
    assert full.get("t") is None


def test_a_file_that_is_not_a_still_is_ignored(tmp_path: Path) -> None:
    kept = cache(tmp_path)
    kept.put("t", still=JPEG, facts=FACTS)
    (tmp_path / f"{cache_key('t')}.jpg").write_bytes(b"<html>")
    (tmp_path / f"{cache_key('t')}.json").write_text('{"width": "huge"}')
    assert kept.get("t") is None
    assert kept.facts("t") is None
