"""A minimal batch sender built from the core pieces, for tests (the real one comes with
the ``submit`` command): plan, intent, send, judge, record."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
from vidwatch.core.create.batch import Batch
from vidwatch.core.create.journal import ManifestDir, judge, judge_error
from vidwatch.core.create.plan import BatchPlan, plan_batch
from vidwatch.core.gateway.create_answer import parse_create_response

KILL_POINTS = ("after-intent", "after-answer", "after-record")


async def submit_once(
    batch: Batch,
    folder: ManifestDir,
    base_url: str,
    key: str,
    *,
    kill_at: tuple[str, int] | None = None,  # (point, nth send from 1): SIGKILL there
    resend_uncertain: bool = False,
) -> BatchPlan:
    with folder.open(batch.source) as manifest:
        plan = plan_batch(
            batch, manifest.entries, blocked=manifest.blocked, resend_uncertain=resend_uncertain
        )
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            for n, step in enumerate(plan.to_send, start=1):
                assert step.row.request is not None
                manifest.record_intent(step.row, step.replaces)
                _maybe_die(kill_at, "after-intent", n)
                try:
                    answer = await client.post(
                        "/v1/video/create", json=step.row.request.body(), headers=headers
                    )
                except httpx.TransportError as exc:
                    verdict = judge_error(exc)
                else:
                    outcome = parse_create_response(
                        answer.status_code, answer.headers, answer.content
                    )
                    verdict = judge(outcome)
                _maybe_die(kill_at, "after-answer", n)
                manifest.record_verdict(step.row.identity, verdict)
                _maybe_die(kill_at, "after-record", n)
    return plan


def _maybe_die(kill_at: tuple[str, int] | None, point: str, n: int) -> None:
    if kill_at == (point, n):
        os.kill(os.getpid(), signal.SIGKILL)


def manifest_text(folder: ManifestDir) -> str:
    return "".join(p.read_text() for p in sorted(Path(folder.folder).glob("*.jsonl")))
