"""What new-api's billing answers mean: units, the log's entries, what is not offered."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from vidwatch.core.gateway.billing_answer import (
    LogPage,
    NotOffered,
    Unanswered,
    parse_log,
    parse_status,
    parse_usage,
)
from vidwatch.core.model.money import QUOTA, ChargeKind, Units


def body(doc: object) -> bytes:
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("data", "unit", "money"),
    [
        ({"quota_per_unit": 500000, "quota_display_type": "USD"}, "USD", "0.24 USD"),
        (
            {"quota_per_unit": 500000, "quota_display_type": "CNY", "usd_exchange_rate": 7.3},
            "CNY",
            "1.75 CNY",
        ),
        ({"quota_per_unit": 500000, "quota_display_type": "CNY"}, "USD", "0.24 USD"),
        ({"quota_per_unit": 500000, "quota_display_type": "TOKENS"}, QUOTA, "120,000 quota"),
        ({"quota_per_unit": 500000, "display_in_currency": False}, QUOTA, "120,000 quota"),
    ],
)
def test_the_sites_units(data: dict[str, object], unit: str, money: str) -> None:
    units = parse_status(200, body({"success": True, "data": data}))
    assert isinstance(units, Units)
    assert units.unit == unit
    assert str(units.money(120_000)) == money


def test_no_status_is_not_offered_and_a_5xx_is_asked_again() -> None:
    assert isinstance(parse_status(404, b"404 page not found"), NotOffered)
    assert isinstance(parse_status(200, b"<html>login</html>"), NotOffered)
    assert isinstance(parse_status(503, b""), Unanswered)
    assert parse_usage(200, body({"total_usage": 880})) == Decimal("8.8")


def entry(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "created_at": 1765090800,
        "type": 2,
        "model_name": "sora-2",
        "quota": 200000,
        "content": "",
        "other": "",
    }
    return base | fields


def test_the_log_reads_charges_refunds_and_task_ids() -> None:
    items = [
        entry(other=json.dumps({"task_id": "task_abc"})),
        entry(type=6, other=json.dumps({"task_id": "task_abc"}), content="refund"),
        entry(other=json.dumps({"task_id": "bad\u202eid"})),  # hostile: no task's
        entry(type=3),  # not money moved by a job
        entry(),
        entry(),  # the same charge twice in one second: both count
    ]
    page = parse_log(200, body({"success": True, "data": {"items": items, "total": 6}}))
    assert isinstance(page, LogPage)
    assert page.paginated
    kinds = [c.kind for c in page.charges]
    assert kinds == [ChargeKind.CHARGE, ChargeKind.REFUND, *[ChargeKind.CHARGE] * 3]
    assert [c.task_id for c in page.charges] == ["task_abc", "task_abc", "", "", ""]
    assert len({c.key for c in page.charges}) == 5
    refused = parse_log(200, body({"success": False, "message": "需要 key"}))
    assert isinstance(refused, NotOffered)
