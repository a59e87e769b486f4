"""The model a task added by ID most likely came from (``N`` prefills the form with it)."""

from __future__ import annotations

import pytest
from vidwatch.core.create.catalogue import model_of_id


@pytest.mark.parametrize(
    ("task_id", "model"),
    [
        ("sora-2:task_01", "sora-2"),  # a known model of that name
        ("veo3.1-fast:abc", "veo3.1-fast"),
        ("grok:0b5d3c1e", "grok-video-3"),  # the one known model whose IDs say grok
        ("mystery-model:1", "mystery-model"),  # unknown: the prefix, for the user to check
        ("7d1c0b52-1f0e-4a53", None),  # no prefix
        (":nothing", None),
        ("x" * 41 + ":1", None),  # not a model's name
        ("bad\x1bname:1", None),
    ],
)
def test_the_model_comes_from_the_ids_prefix(task_id: str, model: str | None) -> None:
    assert model_of_id(task_id) == model
