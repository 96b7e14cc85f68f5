"""`flask points expire` and `flask points reconcile`."""
from __future__ import annotations

import sys
from datetime import date

import click
from flask import Flask
from flask.cli import AppGroup

from .. import clock
from ..database import unit_of_work
from . import service

points_cli = AppGroup("points", help="Points ledger.")


@points_cli.command("expire")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="China business day to expire as of (default: today).")
def expire_command(today):
    """Post expiry entries for points past their expiry date. Safe to re-run."""
    day: date = today.date() if today else clock.business_day()
    with unit_of_work():
        entries = service.expire(day)
    total = sum(-e.amount for e in entries)
    click.echo(f"expired {total} points in {len(entries)} entries (as of {day.isoformat()})")


@points_cli.command("reconcile")
def reconcile_command():
    """Check every balance equals the sum of its ledger entries; exit 1 if any does not."""
    mismatches = service.reconcile()
    for m in mismatches:
        click.echo(f"member {m['member_id']}: balance {m['balance']} but ledger sums to {m['ledger_sum']}")
    if mismatches:
        click.echo(f"{len(mismatches)} mismatched balances", err=True)
        sys.exit(1)
    click.echo("all balances match their ledger")


def register(app: Flask) -> None:
    app.cli.add_command(points_cli)
