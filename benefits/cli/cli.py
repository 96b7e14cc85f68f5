"""Platform-wide commands: demo data and the Redis counters."""
from __future__ import annotations

import json
import time
import unicodedata

import click
from flask import Flask
from flask.cli import AppGroup
from tqdm import tqdm

from .. import counters
from ..database import unit_of_work
from . import demo, scale

demo_cli = AppGroup("demo", help="Demo data from the report.")
counters_cli = AppGroup("counters", help="Redis gate counters.")


@demo_cli.command("load")
@click.option("--scale", "scale_name", type=click.Choice(sorted(scale.SIZES)), default=None,
              help="Also top the data up to a size: 'report' = 5,714 organisations, 473,216 members, "
                   "40,001 cards (the report's figures); 'small' for a quick try.")
def demo_load(scale_name: str | None):
    """Load the demo data (once) and print the demo accounts."""
    if demo.already_loaded():
        click.echo("Demo data is already loaded.")
    else:
        with unit_of_work():
            ctx = demo.load_all()
        for note in ctx.notes:
            click.echo(note)
        click.echo("Demo data loaded.")
    if scale_name:
        _load_scale(scale_name)
    click.echo("Demo accounts (role, username, password):")
    creds = demo.demo_credentials()
    widths = [max(display_width(row[i]) for row in creds) for i in (0, 1)]
    for role, username, password in creds:
        click.echo(f"  {pad(role, widths[0])}  {pad(username, widths[1])}  {password}")


def display_width(text: str) -> int:
    """Columns a terminal gives `text`: two for each wide (Chinese) character, one for the rest."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def _load_scale(name: str) -> None:
    bars: list[tqdm] = []

    def progress(desc: str, total: int):
        if bars:
            bars[-1].close()
        bars.append(tqdm(total=total, desc=desc, unit="row", dynamic_ncols=True))
        return bars[-1].update

    started = time.monotonic()
    try:
        with unit_of_work():
            result = scale.load_scale(scale.SIZES[name], progress=progress)
    finally:
        for bar in bars:
            bar.close()
    if result.added_anything:
        click.echo(f"Scale '{name}': added {result.organisations} organisations, {result.members} members, "
                   f"{result.cards} cards in {time.monotonic() - started:.0f} s.")
    else:
        click.echo(f"Scale '{name}' data is already loaded.")


@counters_cli.command("reconcile")
def counters_reconcile():
    """Rebuild every Redis counter from SQL (safe at any time)."""
    result = counters.reconcile_all()
    if not result and counters.client() is None:
        click.echo("REDIS_URL is not set: nothing to reconcile.")
        return
    click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))


def register(app: Flask) -> None:
    app.cli.add_command(demo_cli)
    app.cli.add_command(counters_cli)
