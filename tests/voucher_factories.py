"""Builders for voucher tests: programmes and issued batches."""
from __future__ import annotations

from datetime import date

from benefits.vouchers import service as vouchers


def programme(org, name: str = "扶贫暖心券", **terms):
    """500.00 face value, the merchant adds 10 % (550.00 to spend), the union funds the face value."""
    data = {"name": name, "face_fen": 50000, "topup_bp": 1000, "split": {"union": 100, "bank": 0},
            "scope": "programme", "valid_from": date(2026, 11, 1), "valid_until": date(2026, 12, 31),
            "spend_mode": "balance", "combinable": True, "budget_fen": 50000 * 1000}
    data.update(terms)
    return vouchers.create_programme(None, org, data)


def issue(p, *, categories=("hardship",), org=None, member_ids=None, round=1):
    target = vouchers.Target(member_categories=tuple(categories) if member_ids is None else (), org=org,
                             member_ids=tuple(member_ids) if member_ids is not None else None, round=round)
    return vouchers.issue(None, p, target)
